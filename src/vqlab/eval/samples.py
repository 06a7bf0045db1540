"""Image grids and image files: what the user looks at."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vqlab.errors import VQLabError
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


def image_format(path: str | Path) -> str:
    """The Pillow format that the extension of ``path`` names (``.png`` -> PNG, ``.jpg`` -> JPEG, ...).

    Raises VQLabError for an extension Pillow cannot write, so a command can refuse it before doing any work.
    """
    from PIL import Image

    suffix = Path(path).suffix.lower()
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None or fmt not in Image.SAVE:
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise VQLabError(f"cannot tell which image format to write to {path} ({what}); use .png, .jpg, ...")
    return fmt


def save_image(path: str | Path, image: np.ndarray | torch.Tensor) -> None:
    """Like :func:`save_png`, in the format the extension of ``path`` names (see :func:`image_format`)."""
    from PIL import Image

    fmt = image_format(path)
    if isinstance(image, torch.Tensor):
        image = to_uint8_hwc(image if image.dim() == 4 else image.unsqueeze(0))[0]
    pil = Image.fromarray(image)
    try:
        atomic_write(path, lambda p: pil.save(p, format=fmt))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise VQLabError(f"cannot write {path} as {fmt}: {exc}") from None
