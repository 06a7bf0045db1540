"""The dataset container and helpers shared by every data source.

Every source returns an :class:`ImageDataset` whose splits are uint8 tensors of shape ``(N, C, H, W)``;
conversion to float happens per batch, elsewhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write
from vqlab.images import load_image_file  # re-exported: the one image-file loader lives in vqlab.images

__all__ = [
    "ImageDataset",
    "cache_root",
    "check_image_size",
    "load_image_file",
    "resize_images",
    "write_atomic_npy",
]


@dataclass
class ImageDataset:
    """Train, test and (optionally) validation images of one source, kept as uint8 in memory.

    ``train`` is ``(N, C, H, W)`` and ``test`` is ``(M, C, H, W)``, both uint8 and contiguous, with ``C`` in
    ``{1, 3}`` and the same ``(C, H, W)`` in both splits. ``val`` is ``None`` for sources without a
    validation split, else a third such tensor ``(V, C, H, W)`` (``V`` may be 0). ``name`` is the spec that
    loads it again (``"photos"``, ``"cifar10"``, ``"folder:/abs/path"``).
    """

    name: str
    train: torch.Tensor
    test: torch.Tensor
    val: torch.Tensor | None = None

    def __post_init__(self) -> None:
        for split in ("train", "test", "val"):
            t = getattr(self, split)
            if t is None and split == "val":
                continue
            if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8 or t.dim() != 4:
                raise ValueError(f"ImageDataset.{split} must be a uint8 tensor of shape (N, C, H, W)")
            if t.shape[1] not in (1, 3):
                raise ValueError(f"ImageDataset.{split} must have 1 or 3 channels, got {t.shape[1]}")
            setattr(self, split, t.contiguous())
        if self.train.shape[1:] != self.test.shape[1:]:
            raise ValueError(
                f"train {tuple(self.train.shape[1:])} and test {tuple(self.test.shape[1:])} images differ in shape"
            )
        if self.val is not None and self.val.shape[1:] != self.train.shape[1:]:
            raise ValueError(
                f"train {tuple(self.train.shape[1:])} and val {tuple(self.val.shape[1:])} images differ in shape"
            )

    @property
    def channels(self) -> int:
        """Number of channels ``C`` (1 for grayscale, 3 for RGB)."""
        return int(self.train.shape[1])

    @property
    def image_size(self) -> tuple[int, int]:
        """Image height and width ``(H, W)``."""
        return int(self.train.shape[2]), int(self.train.shape[3])


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The user cache folder for vqlab.

    ``cache_dir`` if given, else ``$VQLAB_CACHE``, else ``$XDG_CACHE_HOME/vqlab``, else ``~/.cache/vqlab``.
    The folder is not created here.
    """
    if cache_dir is not None and str(cache_dir) != "":
        return Path(cache_dir).expanduser()
    env = os.environ.get("VQLAB_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "vqlab"
    return Path.home() / ".cache" / "vqlab"


def check_image_size(image_size: int | None) -> int | None:
    """Validate the ``image_size`` option: ``None`` (the source's native size) or a positive int."""
    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise VQLabError(f"image_size must be a positive integer, got {image_size!r}")
    return int(image_size)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Resize a uint8 batch ``(N, C, H, W)`` to ``(N, C, size, size)`` with PIL's LANCZOS filter, per image."""
    n, c, h, w = images.shape
    if (h, w) == (size, size):
        return np.ascontiguousarray(images)
    out = np.empty((n, c, size, size), dtype=np.uint8)
    for i in range(n):
        if c == 1:
            im = Image.fromarray(images[i, 0], mode="L")
            out[i, 0] = np.asarray(im.resize((size, size), Image.Resampling.LANCZOS))
        else:
            im = Image.fromarray(np.ascontiguousarray(images[i].transpose(1, 2, 0)), mode="RGB")
            out[i] = np.asarray(im.resize((size, size), Image.Resampling.LANCZOS)).transpose(2, 0, 1)
    return out


def write_atomic_npy(path: Path, array: np.ndarray) -> None:
    """Save ``array`` as ``.npy`` at ``path`` atomically (temp file in the same folder, then rename)."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.save(f, array, allow_pickle=False)

    atomic_write(path, write)
