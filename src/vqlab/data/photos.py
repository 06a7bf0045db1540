"""``photos``: the offline default dataset, crops of the colour photographs that installed packages ship.

Sources: scikit-image (``skimage.data``), scikit-learn (``load_sample_image``) and matplotlib
(``get_sample_data``). The test split is made of whole photographs that never appear in training
(:data:`TEST_PHOTOS`), because crops of one photograph are strongly correlated.

Recipe, per photograph: downscale by each factor in :data:`SCALES` (PIL LANCZOS; a scale is skipped when the
picture gets smaller than one crop), cut a regular grid of square crops (stride = crop/2 for train, = crop for
test), drop near-constant crops (std of the uint8 values < :data:`MIN_STD`), and keep at most
:data:`MAX_CROPS_PER_SCALE` crops per photograph and scale and :data:`MAX_CROPS_PER_PHOTO` per photograph,
evenly spaced, so that the large ones (retina, hubble_deep_field) don't dominate. Fully deterministic. The arrays are cached once as uint8 ``.npy`` files
whose names hold the crop size and :data:`VERSION`; a change of recipe must bump :data:`VERSION`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vqlab.data.base import ImageDataset, cache_root, check_image_size, write_atomic_npy
from vqlab.errors import VQLabError

__all__ = [
    "MAX_CROPS_PER_PHOTO",
    "MAX_CROPS_PER_SCALE",
    "MIN_STD",
    "NATIVE_SIZE",
    "PHOTOS",
    "SCALES",
    "TEST_PHOTOS",
    "TRAIN_PHOTOS",
    "VERSION",
    "build_photo_arrays",
    "cache_paths",
    "crop_photo",
    "load_photo",
    "load_photos",
]

VERSION = "v1"
NATIVE_SIZE = 32
SCALES: tuple[float, ...] = (1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0)
MIN_STD = 4.0
MAX_CROPS_PER_SCALE = 1500
MAX_CROPS_PER_PHOTO = 4000

TRAIN_PHOTOS: tuple[str, ...] = (
    "chelsea",
    "rocket",
    "stereo_motorcycle",
    "immunohistochemistry",
    "retina",
    "hubble_deep_field",
    "china",
    "grace_hopper",
)
TEST_PHOTOS: tuple[str, ...] = ("astronaut", "coffee", "flower")


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        image = getattr(skimage.data, name)()
        return image[0] if isinstance(image, tuple) else image  # stereo_motorcycle: (left, right, disparity)

    return load


def _sklearn(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(filename)

    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from matplotlib import cbook

        with cbook.get_sample_data(filename) as f, Image.open(f) as im:
            return np.asarray(im.convert("RGB"))

    return load


PHOTOS: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "stereo_motorcycle": _skimage("stereo_motorcycle"),
    "immunohistochemistry": _skimage("immunohistochemistry"),
    "retina": _skimage("retina"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
    "grace_hopper": _matplotlib("grace_hopper.jpg"),
}


def load_photo(name: str) -> np.ndarray:
    """One shipped photograph as a uint8 RGB array ``(H, W, 3)``; VQLabError if its package can't provide it."""
    if name not in PHOTOS:
        raise VQLabError(f"unknown photo {name!r}; known: {', '.join(sorted(PHOTOS))}")
    try:
        image = np.asarray(PHOTOS[name]())
    # ImportError, a missing data file, a failed fetch inside the package...
    except Exception as exc:  # noqa: BLE001
        raise VQLabError(f"cannot load sample photo {name!r}: {exc.__class__.__name__}: {exc}") from None
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] < 3:
        raise VQLabError(f"sample photo {name!r} has unexpected shape {image.shape}")
    if image.dtype != np.uint8:
        raise VQLabError(f"sample photo {name!r} has unexpected dtype {image.dtype}")
    return np.ascontiguousarray(image[:, :, :3])


def _evenly(crops: np.ndarray, limit: int) -> np.ndarray:
    """At most ``limit`` items of ``crops``, evenly spaced (deterministic subsampling)."""
    if len(crops) <= limit:
        return crops
    return crops[np.linspace(0, len(crops) - 1, limit).round().astype(np.int64)]


def _grid(length: int, size: int, stride: int) -> range:
    """Crop offsets along one axis, with the leftover margin split evenly on both sides."""
    start = ((length - size) % stride) // 2
    return range(start, length - size + 1, stride)


def crop_photo(
    image: np.ndarray,
    size: int,
    stride: int,
    *,
    scales: Sequence[float] = SCALES,
    max_per_scale: int = MAX_CROPS_PER_SCALE,
    max_per_photo: int = MAX_CROPS_PER_PHOTO,
    min_std: float = MIN_STD,
) -> np.ndarray:
    """Cut one photograph ``(H, W, 3)`` into square crops ``(K, 3, size, size)`` (uint8) by the recipe above."""
    pil = Image.fromarray(image, mode="RGB")
    out: list[np.ndarray] = []
    for scale in scales:
        w, h = round(pil.width / scale), round(pil.height / scale)
        if w < size or h < size:
            continue
        scaled = np.asarray(pil if scale == 1 else pil.resize((w, h), Image.Resampling.LANCZOS))
        crops = np.stack(
            [scaled[y : y + size, x : x + size] for y in _grid(h, size, stride) for x in _grid(w, size, stride)]
        )
        crops = crops[crops.reshape(len(crops), -1).std(axis=1) >= min_std]
        out.append(_evenly(crops, max_per_scale))
    if not out:
        return np.empty((0, 3, size, size), dtype=np.uint8)
    return np.ascontiguousarray(_evenly(np.concatenate(out), max_per_photo).transpose(0, 3, 1, 2))


def build_photo_arrays(
    image_size: int = NATIVE_SIZE,
    train_photos: Sequence[str] = TRAIN_PHOTOS,
    test_photos: Sequence[str] = TEST_PHOTOS,
) -> tuple[np.ndarray, np.ndarray]:
    """Build the train and test crops, uint8 ``(N, 3, S, S)`` and ``(M, 3, S, S)`` with ``S = image_size``."""
    overlap = set(train_photos) & set(test_photos)
    if overlap:
        raise VQLabError(f"photos in both train and test: {', '.join(sorted(overlap))}")
    size = image_size
    train = [crop_photo(load_photo(n), size, max(1, size // 2)) for n in train_photos]
    test = [crop_photo(load_photo(n), size, size) for n in test_photos]
    arrays = (
        np.concatenate(train) if train else np.empty((0, 3, size, size), np.uint8),
        np.concatenate(test) if test else np.empty((0, 3, size, size), np.uint8),
    )
    for split, arr in zip(("train", "test"), arrays):
        if len(arr) == 0:
            raise VQLabError(f"photos: no {split} crops of size {size}; the image_size is too large for the photos")
    return arrays


def cache_paths(image_size: int, cache_dir: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """The train and test cache files for crops of ``image_size`` under the vqlab cache folder."""
    folder = cache_root(cache_dir) / "photos"
    stem = f"photos-{VERSION}-{image_size}px"
    return folder / f"{stem}-train.npy", folder / f"{stem}-test.npy"


def _read_cached(path: Path, image_size: int) -> np.ndarray | None:
    """A valid cached array ``(N, 3, S, S)`` uint8, or ``None`` when missing or corrupt."""
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):  # missing, truncated, bad header: rebuild
        return None
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.shape[1:] != (3, image_size, image_size):
        return None
    if len(arr) == 0:
        return None
    return np.ascontiguousarray(arr)


def load_photos(
    *,
    root: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ImageDataset:
    """The ``photos`` dataset: train ``(N, 3, S, S)`` and test ``(M, 3, S, S)`` uint8 crops, ``S = image_size``.

    ``image_size=None`` means 32. Built on first use and cached (see :func:`cache_paths`); a missing or
    corrupt cache file is rebuilt. ``root`` and ``download`` are accepted for a uniform loader signature and
    ignored: the photographs come with installed packages. If the cache can't be written, a warning is
    issued and the data is returned anyway.
    """
    del root, download
    size = check_image_size(image_size) or NATIVE_SIZE
    train_path, test_path = cache_paths(size, cache_dir)
    train, test = _read_cached(train_path, size), _read_cached(test_path, size)
    if train is None or test is None:
        train, test = build_photo_arrays(size)
        try:
            write_atomic_npy(train_path, train)
            write_atomic_npy(test_path, test)
        except OSError as exc:
            warnings.warn(f"photos: cannot write cache in {train_path.parent}: {exc}", stacklevel=2)
    return ImageDataset("photos", torch.from_numpy(train), torch.from_numpy(test))
