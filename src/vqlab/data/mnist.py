"""``mnist`` and ``fashion-mnist``: 28x28 grayscale images from idx files, gzipped or not.

A folder holds ``train-images-idx3-ubyte`` and ``t10k-images-idx3-ubyte`` (each possibly with ``.gz``; the
plain file is used when both exist). The idx header is parsed here: magic ``0x00000803`` (unsigned bytes,
3 dims), then the three dims as big-endian uint32, then exactly ``N*H*W`` bytes. Labels are not needed.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from vqlab.data.base import ImageDataset, cache_root, check_image_size, resize_images
from vqlab.errors import VQLabError

__all__ = [
    "FASHION_MNIST_SYSTEM_DIR",
    "IDX3_UBYTE_MAGIC",
    "default_root",
    "load_fashion_mnist",
    "load_mnist",
    "read_idx_file",
    "read_idx_images",
]

IDX3_UBYTE_MAGIC = 0x00000803
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
TRAIN_FILE = "train-images-idx3-ubyte"
TEST_FILE = "t10k-images-idx3-ubyte"
_CHUNK = 1 << 20
_SOURCES = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}


def read_idx_images(f: BinaryIO, name: str) -> np.ndarray:
    """Parse an idx3-ubyte image stream into uint8 images ``(N, H, W)``.

    Wrong magic, zero dims, truncated or over-long data raise :class:`VQLabError` naming ``name``.
    """
    header = f.read(16)
    if len(header) < 16:
        raise VQLabError(f"{name}: truncated idx header ({len(header)} of 16 bytes)")
    magic, n, h, w = np.frombuffer(header, dtype=">u4").tolist()
    if magic != IDX3_UBYTE_MAGIC:
        raise VQLabError(f"{name}: not an idx3-ubyte image file (magic 0x{magic:08x}, expected 0x00000803)")
    if n == 0 or h == 0 or w == 0:
        raise VQLabError(f"{name}: idx file holds no images (dims {n}x{h}x{w})")
    expected = n * h * w
    buf = bytearray()
    while len(buf) <= expected:  # read in chunks: a lying header must not allocate a huge buffer up front
        chunk = f.read(min(_CHUNK, expected + 1 - len(buf)))
        if not chunk:
            break
        buf += chunk
    if len(buf) != expected:
        what = "truncated" if len(buf) < expected else "longer than its header says"
        raise VQLabError(f"{name}: idx data {what} (header {n}x{h}x{w} = {expected} bytes)")
    return np.frombuffer(buf, dtype=np.uint8).reshape(n, h, w)


def read_idx_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an idx3-ubyte image file (gzipped when its name ends in ``.gz``) as uint8 ``(N, H, W)``."""
    p = Path(path)
    try:
        opener = gzip.open if p.suffix == ".gz" else open
        with opener(p, "rb") as f:
            return read_idx_images(f, str(p))
    except VQLabError:
        raise
    except (OSError, EOFError, zlib.error) as exc:  # missing, unreadable, BadGzipFile, truncated gzip stream
        raise VQLabError(f"cannot read idx file {p}: {exc.__class__.__name__}: {exc}") from None


def _find(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    return None


def default_root(name: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Default folder for ``mnist`` / ``fashion-mnist``.

    fashion-mnist: Debian's ``/usr/share/datasets/fashion-mnist`` when it exists, else ``<cache>/fashion-mnist``;
    mnist: ``<cache>/mnist``.
    """
    if name == "fashion-mnist" and FASHION_MNIST_SYSTEM_DIR.is_dir() and root_is_complete(FASHION_MNIST_SYSTEM_DIR):
        return FASHION_MNIST_SYSTEM_DIR
    return cache_root(cache_dir) / name


def root_is_complete(folder: Path) -> bool:
    """Whether ``folder`` has both the train and the test image file."""
    return _find(folder, TRAIN_FILE) is not None and _find(folder, TEST_FILE) is not None


def _load_idx_dataset(
    name: str,
    root: str | os.PathLike[str] | None,
    image_size: int | None,
    download: bool,
    cache_dir: str | os.PathLike[str] | None,
) -> ImageDataset:
    size = check_image_size(image_size)
    folder = Path(root).expanduser() if root is not None else default_root(name, cache_dir)
    splits = []
    for stem in (TRAIN_FILE, TEST_FILE):
        path = _find(folder, stem)
        if path is None:
            hint = " (--download is only supported for cifar10)" if download else ""
            raise VQLabError(
                f"{name}: {folder / stem}[.gz] not found{hint}; "
                f"download it from {_SOURCES[name]} and put it in {folder}"
            )
        images = read_idx_file(path)[:, None]
        if size is not None and size != images.shape[-1]:
            images = resize_images(images, size)
        splits.append(torch.from_numpy(np.ascontiguousarray(images)))
    if splits[0].shape[1:] != splits[1].shape[1:]:
        raise VQLabError(f"{name}: train and test images in {folder} differ in size")
    return ImageDataset(name, splits[0], splits[1])


def load_mnist(
    *,
    root: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ImageDataset:
    """MNIST digits as uint8 tensors: train ``(60000, 1, S, S)``, test ``(10000, 1, S, S)``.

    ``root`` defaults to ``<cache>/mnist``. ``image_size=None`` keeps the native 28; any other size resizes
    each image with LANCZOS. ``download`` is not supported (the error says where to get the files).
    """
    return _load_idx_dataset("mnist", root, image_size, download, cache_dir)


def load_fashion_mnist(
    *,
    root: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ImageDataset:
    """Fashion-MNIST as uint8 tensors: train ``(60000, 1, S, S)``, test ``(10000, 1, S, S)``.

    ``root`` defaults to ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``) when it
    holds the files, else ``<cache>/fashion-mnist``. ``image_size`` and ``download`` as in :func:`load_mnist`.
    """
    return _load_idx_dataset("fashion-mnist", root, image_size, download, cache_dir)
