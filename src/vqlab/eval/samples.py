"""Image grids and image files: what the user looks at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vqlab.fileio import atomic_write


def to_uint8_hwc(images: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) floats in [0, 1] -> (B, H, W, 3) uint8."""
    arr = images.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return arr.permute(0, 2, 3, 1).cpu().numpy()


def make_grid(rows: list[torch.Tensor], scale: int = 4, pad: int = 2) -> np.ndarray:
    """Stack equally sized image rows into one picture.

    rows: list of R tensors (N, 3, H, W) in [0, 1] -> (R*(H*scale+pad)+pad, N*(W*scale+pad)+pad, 3) uint8,
    each image upscaled ``scale`` times (nearest neighbour, so pixels stay visible) on a white background.
    """
    n, _, h, w = rows[0].shape
    th, tw = h * scale, w * scale
    grid = np.full((len(rows) * (th + pad) + pad, n * (tw + pad) + pad, 3), 255, dtype=np.uint8)
    for r, row in enumerate(rows):
        tiles = to_uint8_hwc(row).repeat(scale, axis=1).repeat(scale, axis=2)
        for i, tile in enumerate(tiles):
            y, x = pad + r * (th + pad), pad + i * (tw + pad)
            grid[y:y + th, x:x + tw] = tile
    return grid


def save_png(path: str | Path, image: np.ndarray | torch.Tensor) -> None:
    """Write an (H, W, 3) uint8 array, or a (3, H, W) / (1, 3, H, W) float tensor in [0, 1], as PNG atomically."""
    from PIL import Image

    if isinstance(image, torch.Tensor):
        image = to_uint8_hwc(image if image.dim() == 4 else image.unsqueeze(0))[0]
    pil = Image.fromarray(image)
    atomic_write(path, lambda p: pil.save(p, format="PNG"))
