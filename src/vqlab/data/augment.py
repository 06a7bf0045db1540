"""Training-time augmentation on uint8 batches, reproducible from (seed, step) alone so resumed and
multi-process runs see exactly the images a single uninterrupted run would."""

from __future__ import annotations

import torch


def flip_mask(seed: int, step: int, batch_size: int) -> torch.Tensor:
    """Which images of the global batch of 1-based ``step`` to mirror: (batch_size,) bool, half on average."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step + 7_919)
    return torch.rand(batch_size, generator=g) < 0.5


def hflip(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images selected by ``mask``. images (B, C, H, W), mask (B,) -> (B, C, H, W)."""
    return torch.where(mask.view(-1, 1, 1, 1), images.flip(-1), images)
