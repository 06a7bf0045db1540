"""Encoder and decoder of the VQ-VAE paper (van den Oord et al. 2017, section 4.1).

Both are fully convolutional: an input of size (H, W) with H and W divisible by 4 maps to a latent grid of
(H/4, W/4), and the decoder maps that grid back to (H, W).
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """x + Conv1x1(ReLU(Conv3x3(ReLU(x)))), channel count unchanged. Shapes: (B, h, H, W) -> (B, h, H, W)."""

    def __init__(self, channels: int, res_channels: int | None = None) -> None:
        super().__init__()
        res_channels = res_channels or channels
        self.block = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, res_channels, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.Conv2d(res_channels, channels, kernel_size=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(x)


class Encoder(nn.Module):
    """Image to continuous latent grid. Shapes: (B, in_channels, H, W) -> (B, out_channels, H/4, W/4).

    Conv(4x4, s2) - ReLU - Conv(4x4, s2) - residual blocks - ReLU - Conv1x1 to ``out_channels``.
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int, num_res_blocks: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, hidden, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, kernel_size=4, stride=2, padding=1),
        ]
        layers += [ResidualBlock(hidden) for _ in range(num_res_blocks)]
        layers += [nn.ReLU(), nn.Conv2d(hidden, out_channels, kernel_size=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latent grid to image. Shapes: (B, in_channels, h, w) -> (B, out_channels, 4h, 4w).

    Conv3x3 - residual blocks - ReLU - ConvTranspose(4x4, s2) - ReLU - ConvTranspose(4x4, s2).
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int, num_res_blocks: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, hidden, kernel_size=3, padding=1)]
        layers += [ResidualBlock(hidden) for _ in range(num_res_blocks)]
        layers += [
            nn.ReLU(),
            nn.ConvTranspose2d(hidden, hidden, kernel_size=4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(hidden, out_channels, kernel_size=4, stride=2, padding=1),
        ]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
