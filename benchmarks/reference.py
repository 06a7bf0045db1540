"""A plain PyTorch VQ-VAE of the paper's form, written without vqlab: the benchmarks' reference point.

Loss-based codebook initialised uniformly in +-1/K, beta = 0.25, the whole distance matrix at once (float32).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RefBlock(nn.Module):
    def __init__(self, h: int) -> None:
        super().__init__()
        self.c1, self.c2 = nn.Conv2d(h, h, 3, padding=1), nn.Conv2d(h, h, 1)

    def forward(self, x):
        return x + self.c2(F.relu(self.c1(F.relu(x))))


class RefVQVAE(nn.Module):
    """The paper's model written plainly, as a user would without vqlab."""

    def __init__(self, h: int = 256, k: int = 512, d: int = 64, in_ch: int = 3, out_ch: int = 3) -> None:
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(in_ch, h, 4, 2, 1), nn.ReLU(), nn.Conv2d(h, h, 4, 2, 1), RefBlock(h),
                                 RefBlock(h), nn.ReLU(), nn.Conv2d(h, d, 1))
        self.dec = nn.Sequential(nn.Conv2d(d, h, 3, padding=1), RefBlock(h), RefBlock(h), nn.ReLU(),
                                 nn.ConvTranspose2d(h, h, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(h, out_ch, 4, 2, 1))
        self.codebook = nn.Parameter(torch.empty(k, d).uniform_(-1 / k, 1 / k))

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Nearest codes in float32. z: (B, D, h, w) -> (codes (B, D, h, w), indices (B, h, w))."""
        with torch.autocast(z.device.type, enabled=False):
            b, d, hh, ww = z.shape
            flat = z.float().permute(0, 2, 3, 1).reshape(-1, d)
            dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ self.codebook.t() + self.codebook.pow(2).sum(1)
            idx = dist.argmin(1)
            return self.codebook[idx].view(b, hh, ww, d).permute(0, 3, 1, 2), idx.view(b, hh, ww)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> torch.Tensor:
        """Training loss: MSE reconstruction + codebook loss + 0.25 * commitment loss."""
        target = x if target is None else target
        z = self.enc(x).float()
        q, _ = self.quantize(z)
        loss_vq = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
        recon = self.dec(z + (q - z).detach())
        return F.mse_loss(recon.float(), target) + loss_vq

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(decoder output, code indices) for a batch."""
        q, idx = self.quantize(self.enc(x))
        return self.dec(q), idx
