"""Encoder and decoder of the VQ-VAE paper (van den Oord et al. 2017, section 4.1).

Both are fully convolutional: an input of size (H, W) with H and W divisible by ``downsample`` (4 in the paper:
two stride-2 stages; 8 or 16 add stages for lower rates) maps to a latent grid of (H/f, W/f), and the decoder
maps that grid back to (H, W). With f=4 the layers and their parameter names are exactly the paper's model.
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


def stages_of(downsample: int) -> int:
    """Stride-2 stages for a downsampling factor (a power of two >= 2)."""
    stages = downsample.bit_length() - 1
    if downsample < 2 or 1 << stages != downsample:
        raise ValueError(f"downsample must be a power of two >= 2, got {downsample}")
    return stages


class Encoder(nn.Module):
    """Image to continuous latent grid. Shapes: (B, in_channels, H, W) -> (B, out_channels, H/f, W/f).

    Conv(4x4, s2) - ReLU - Conv(4x4, s2) (f=4; one more ReLU - Conv(4x4, s2) per further factor of 2) -
    residual blocks - ReLU - Conv1x1 to ``out_channels``.
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int, num_res_blocks: int = 2,
                 downsample: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, hidden, kernel_size=4, stride=2, padding=1)]
        for _ in range(stages_of(downsample) - 1):
            layers += [nn.ReLU(), nn.Conv2d(hidden, hidden, kernel_size=4, stride=2, padding=1)]
        layers += [ResidualBlock(hidden) for _ in range(num_res_blocks)]
        layers += [nn.ReLU(), nn.Conv2d(hidden, out_channels, kernel_size=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Decoder(nn.Module):
    """Latent grid to image. Shapes: (B, in_channels, h, w) -> (B, out_channels, f h, f w).

    Conv3x3 - residual blocks - ReLU - ConvTranspose(4x4, s2) - ReLU - ConvTranspose(4x4, s2) (f=4; one more
    ConvTranspose(4x4, s2) - ReLU before the last per further factor of 2).
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int, num_res_blocks: int = 2,
                 downsample: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(in_channels, hidden, kernel_size=3, padding=1)]
        layers += [ResidualBlock(hidden) for _ in range(num_res_blocks)]
        for _ in range(stages_of(downsample) - 1):
            layers += [nn.ReLU(), nn.ConvTranspose2d(hidden, hidden, kernel_size=4, stride=2, padding=1)]
        layers += [nn.ReLU(), nn.ConvTranspose2d(hidden, out_channels, kernel_size=4, stride=2, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)
