"""Whole photographs of a split of ``photos`` or ``photos-wide``, for what works on full pictures rather than crops
(the context model of the codec, the rate-distortion benchmark).

The splits are the datasets' own: ``photos`` has train (:data:`~vqlab.data.photos.TRAIN_PHOTOS`) and test
(astronaut, coffee, flower); ``photos-wide`` adds val (:data:`~vqlab.data.photos_wide.VAL_PHOTOS`) and more train
photos. Every photograph is shrunk (LANCZOS) so that no side exceeds ``max_side``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from vqlab.errors import VQLabError

WHOLE_PHOTO_DATASETS = ("photos", "photos-wide")


def shrink(image: np.ndarray, max_side: int | None) -> np.ndarray:
    """uint8 (H, W, 3) shrunk so that no side exceeds ``max_side`` (unchanged when it already fits or None)."""
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image
    factor = max_side / max(h, w)
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    pil = Image.fromarray(image).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.ascontiguousarray(np.asarray(pil, dtype=np.uint8))


def photo_names(dataset: str, split: str) -> list[str]:
    """Names of the whole photographs of ``split`` (train, val, test) of ``dataset`` that are installed."""
    if dataset == "photos":
        from vqlab.data.photos import TEST_PHOTOS, TRAIN_PHOTOS

        return list({"train": TRAIN_PHOTOS, "test": TEST_PHOTOS}.get(split, ()))
    if dataset == "photos-wide":
        from vqlab.data.photos_wide import select_photos

        return select_photos().names(split)
    raise VQLabError(f"whole photographs come from {' or '.join(WHOLE_PHOTO_DATASETS)}, not {dataset!r}")


def load_whole_photo(dataset: str, name: str, max_side: int | None = None) -> np.ndarray:
    """One photograph of ``dataset`` by name as uint8 (H, W, 3), no side above ``max_side``."""
    if dataset == "photos":
        from vqlab.data.photos import load_photo

        return shrink(load_photo(name), max_side)
    from vqlab.data.corpus import CATALOGUE

    photo = next((p for p in CATALOGUE if p.name == name), None)
    if photo is None:
        raise VQLabError(f"no photo {name!r} in the photos-wide catalogue")
    try:
        return photo.load(max_side)
    except FileNotFoundError as exc:
        raise VQLabError(str(exc)) from None


def whole_photos(dataset: str, split: str, max_side: int | None = None) -> list[tuple[str, np.ndarray]]:
    """(name, uint8 (H, W, 3)) of every installed photograph of ``split`` of ``dataset``."""
    return [(name, load_whole_photo(dataset, name, max_side)) for name in photo_names(dataset, split)]
