"""Training-time augmentation on uint8 batches, reproducible from (seed, step) alone so resumed and
multi-process runs see exactly the images a single uninterrupted run would: left-right flips (``--hflip``) and
random sub-crops resized back to full size (``--random-crop``, a scale jitter). Each draws the parameters of the
whole global batch from its own generator seeded by (seed, step); a process applies its own slice of them."""

from __future__ import annotations

import torch


def flip_mask(seed: int, step: int, batch_size: int) -> torch.Tensor:
    """Which images of the global batch of 1-based ``step`` to mirror: (batch_size,) bool, half on average."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step + 7_919)
    return torch.rand(batch_size, generator=g) < 0.5


def hflip(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images selected by ``mask``. images (B, C, H, W), mask (B,) -> (B, C, H, W)."""
    return torch.where(mask.view(-1, 1, 1, 1), images.flip(-1), images)


def crop_boxes(seed: int, step: int, batch_size: int, min_fraction: float) -> torch.Tensor:
    """Random square sub-crops for the global batch of 1-based ``step``: (batch_size, 3) float32 rows
    (side fraction f, x position, y position). f is log-uniform in [min_fraction, 1] (every zoom factor
    1/f equally likely on a log scale); the positions in [-1, 1] place the box from one edge (-1) to the other."""
    g = torch.Generator().manual_seed(seed * 1_000_003 + step + 104_729)
    u = torch.rand(batch_size, 3, generator=g)
    fraction = torch.tensor(float(min_fraction)).pow(u[:, 0])
    return torch.stack([fraction, 2 * u[:, 1] - 1, 2 * u[:, 2] - 1], dim=1)


def random_crop(images: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """Cut each image to its box (:func:`crop_boxes`, fractions of the image's height and width) and resize it
    back to the full size (bilinear). images uint8 (B, C, H, W), boxes (B, 3) -> uint8 (B, C, H, W).
    A box of fraction 1 returns its image unchanged."""
    import torch.nn.functional as F

    f, x, y = boxes.float().unbind(1)
    theta = torch.zeros(images.shape[0], 2, 3)
    theta[:, 0, 0], theta[:, 1, 1] = f, f
    theta[:, 0, 2], theta[:, 1, 2] = x * (1 - f), y * (1 - f)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    out = F.grid_sample(images.float(), grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out.round_().clamp_(0, 255).to(torch.uint8)
