"""``folder:PATH``: any folder of images, center-cropped to a square and resized.

Files are found recursively (hidden files and folders, whose names start with ``.``, are skipped) and sorted
by relative path. The split is deterministic: a file goes to test when the CRC-32 of its relative path
(POSIX form) is ``0 mod 10`` (about 10%). With two or more images both splits are non-empty (the file with
the smallest hash moves over if needed); a folder with a single image uses it for both train and test.

A folder whose top level holds the subfolders ``train/`` and ``test/`` (and optionally ``val/``) and no other
images is split by them instead: each subfolder's images (recursively) are that split, and ``val/`` gives the
dataset a validation split (the best-checkpoint selection of ``vqlab train`` uses it).
"""

from __future__ import annotations

import os
import zlib
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqlab.data.base import ImageDataset, check_image_size, load_image_file
from vqlab.errors import VQLabError

__all__ = [
    "IMAGE_EXTENSIONS",
    "NATIVE_SIZE",
    "TEST_MODULUS",
    "find_images",
    "load_folder",
    "split_files",
    "square_resize",
]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
NATIVE_SIZE = 32
TEST_MODULUS = 10


def find_images(folder: str | os.PathLike[str]) -> list[str]:
    """Relative POSIX paths of the image files under ``folder``, recursively, sorted.

    Raises :class:`VQLabError` when ``folder`` is missing or not a folder.
    """
    root = Path(folder).expanduser()
    if not root.exists():
        raise VQLabError(f"image folder not found: {root}")
    if not root.is_dir():
        raise VQLabError(f"not a folder: {root}")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for fname in filenames:
            if not fname.startswith(".") and Path(fname).suffix.lower() in IMAGE_EXTENSIONS:
                found.append(Path(dirpath, fname).relative_to(root).as_posix())
    return sorted(found)


def _key(rel: str) -> int:
    return zlib.crc32(rel.encode("utf-8", "surrogateescape"))


def split_files(files: list[str]) -> tuple[list[str], list[str]]:
    """Split relative paths into ``(train, test)`` by a stable hash; both keep the input order."""
    test = {f for f in files if _key(f) % TEST_MODULUS == 0}
    if len(files) == 1:
        return list(files), list(files)
    if len(files) >= 2 and not test:
        test = {min(files, key=lambda f: (_key(f), f))}
    elif len(files) >= 2 and len(test) == len(files):
        test.discard(min(files, key=lambda f: (_key(f), f)))
    return [f for f in files if f not in test], [f for f in files if f in test]


def square_resize(image: Image.Image, size: int) -> np.ndarray:
    """Center-crop a PIL image to a square and resize it to ``size`` (LANCZOS); returns uint8 ``(3, size, size)``."""
    image = image.convert("RGB")
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    # Crop first, then resize, so the filter does not bleed in pixels from outside the square.
    square = image.crop((left, top, left + side, top + side))
    return np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), dtype=np.uint8).transpose(2, 0, 1)


SPLIT_FOLDERS = ("train", "val", "test")


def split_folders(root: Path, files: list[str]) -> dict[str, list[str]] | None:
    """``{split: relative paths}`` when ``root`` is laid out as ``train/``, ``test/`` (and ``val/``) subfolders,
    else None. Images outside those subfolders are an error in that layout (they would belong to no split)."""
    if not all((root / name).is_dir() for name in ("train", "test")):
        return None
    splits: dict[str, list[str]] = {name: [] for name in SPLIT_FOLDERS}
    stray = []
    for rel in files:
        top = rel.split("/", 1)[0]
        (splits[top] if top in splits and "/" in rel else stray).append(rel)
    if stray:
        raise VQLabError(f"folder {root} has train/ and test/ subfolders, but also images outside train/, val/ "
                         f"and test/ (e.g. {stray[0]}); move them into one of those")
    for name in ("train", "test"):
        if not splits[name]:
            raise VQLabError(f"no images in {root / name}")
    return splits


def _load_split(root: Path, files: list[str], size: int) -> torch.Tensor:
    out = np.empty((len(files), 3, size, size), dtype=np.uint8)
    for i, rel in enumerate(files):
        out[i] = square_resize(load_image_file(root / rel), size)
    return torch.from_numpy(out)


def load_folder(path: str | os.PathLike[str], *, image_size: int | None = None) -> ImageDataset:
    """Every image under ``path`` as RGB uint8 tensors: train ``(N, 3, S, S)``, test ``(M, 3, S, S)``, and a val
    split ``(V, 3, S, S)`` when the folder has a ``val/`` subfolder next to ``train/`` and ``test/`` (else None).

    ``image_size=None`` means 32. A corrupt image raises :class:`VQLabError` naming it (nothing is skipped
    silently); so does a missing folder or one without images. The dataset's name is ``folder:<abs path>``.
    """
    size = check_image_size(image_size) or NATIVE_SIZE
    root = Path(path).expanduser()
    files = find_images(root)
    if not files:
        exts = ", ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        raise VQLabError(f"no images ({exts}) found in folder {root}")
    name = f"folder:{root.resolve()}"
    by_folder = split_folders(root, files)
    if by_folder is not None:
        val = _load_split(root, by_folder["val"], size) if (root / "val").is_dir() else None
        return ImageDataset(name, _load_split(root, by_folder["train"], size),
                            _load_split(root, by_folder["test"], size), val=val)
    train_files, test_files = split_files(files)
    return ImageDataset(name, _load_split(root, train_files, size), _load_split(root, test_files, size))
