"""``photos-wide``: crops of every colour photograph in :data:`~vqlab.data.corpus.CATALOGUE` that is installed.

Three splits of **whole photographs**: ``test`` is the ``photos`` test set (astronaut, coffee, flower), ``val``
is :data:`VAL_PHOTOS` (13 picked by hand for spread in content and colour, the rest picked by rule per source:
about a fifth of the catalogue), and ``train`` is everything else. A photo's split is decided on the full catalogue, so installing or removing a
package never moves another photo between splits; photos of one scene (a stereo pair) share a split.

Recipe per photograph: shrink so that no side exceeds :data:`MAX_SIDE` (scaled with the crop size), then the
``photos`` recipe (:func:`vqlab.data.photos.crop_photo`) with :data:`SCALES`, stride crop/2 for train and
crop for val/test, and the caps :data:`MAX_CROPS_PER_SCALE` and :data:`MAX_CROPS_PER_PHOTO` (lower than in
``photos``, so that no photo dominates a corpus of dozens). At 32x32 the test split is exactly the ``photos``
test split.

Packages that are not installed are skipped with a warning naming them and ``experiments/install_corpus.sh``.
The cache files (uint8 ``.npy`` per split and a ``-meta.json``) are named by a key over the recipe and the
photos used (name, split, file size), and the metadata lists every photo used, its package, version, licence,
split and crop count, and the sources that were missing: two machines with different packages get different
caches and can tell why.

A **photo list** pins the corpus (``--data photos-wide --data-root LIST.json``): a JSON file naming the photos
of each split, ``{"train": [...], "val": [...], "test": [...]}`` or the same under a ``"photos"`` key (the
colorize study's ``corpus.json``). Only those photos are used, so a run can be repeated on the corpus an earlier
run had after more packages were installed; a listed photo that is not installed, or whose split is not the
listed one, is an error.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vqlab.data import photos as base_photos
from vqlab.data.base import ImageDataset, cache_root, check_image_size, write_atomic_npy
from vqlab.data.corpus import CATALOGUE, SURVEY_SOURCES, Photo, Source, package_version
from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write_json

__all__ = [
    "INSTALL_HINT",
    "MAX_CROPS_PER_PHOTO",
    "MAX_CROPS_PER_SCALE",
    "MAX_SIDE",
    "SPLITS",
    "TEST_PHOTOS",
    "VAL_PHOTOS",
    "VERSION",
    "Selection",
    "assign_splits",
    "build_wide_arrays",
    "cache_key",
    "cache_paths",
    "every_fifth_scene",
    "load_photos_wide",
    "read_photo_list",
    "restrict_selection",
    "select_photos",
]

VERSION = "w1"
NATIVE_SIZE = 32
MAX_SIDE = 1024  # for 32x32 crops; scaled by image_size / 32
SCALES = base_photos.SCALES
MIN_STD = base_photos.MIN_STD
MAX_CROPS_PER_SCALE = 600
MAX_CROPS_PER_PHOTO = 2000
SPLITS: tuple[str, ...] = ("train", "val", "test")
INSTALL_HINT = "experiments/install_corpus.sh"

TEST_PHOTOS: tuple[str, ...] = base_photos.TEST_PHOTOS


def every_fifth_scene(photos: Sequence[Photo]) -> list[str]:
    """The names of every fifth scene's photos, from the third scene on, in order; a scene is a ``group`` (counted
    once, however many photos it has) or a photo without one. Used to pick validation photos by rule."""
    scenes: dict[str, list[str]] = {}
    for photo in photos:
        scenes.setdefault(photo.group or photo.name, []).append(photo.name)
    return [name for names in list(scenes.values())[2::5] for name in names]


VAL_PHOTOS: tuple[str, ...] = (
    "chelsea",  # cat; the one validation photo a bare install (scikit-image) always has
    "luispedro",  # face
    "mate/LadyBird",  # insect, blue flowers, green
    "mate/Storm",  # dark sky, road
    "plasma/EveningGlow",  # boats at sunset
    "plasma/ColorfulCups",  # saturated man-made objects
    "plasma/Path",  # forest
    "lomiri/friends",  # dogs, wooden house
    "lomiri/Picture_1A",  # paint brushes, many hues
    "lomiri/picosdeeuropa",  # mountains, sky
    "jxl/hdr_room",  # interior
    "wesaturate/riaphotographs",  # pink tulips
    "cimg/parrot",  # red macaw behind bars
    # GCompris (added later, 223 photos): every fifth photo of each of its groups in catalogue order (erase,
    # monuments, animals, farm, music, categorization), from the third on, so about a fifth of it validates
    *(
        name
        for group in ("erase", "monuments", "animals", "farm", "music", "categorization")
        for name in [p.name for p in CATALOGUE if p.name.startswith(f"gcompris/{group}/")][2::5]
    ),
    # the package survey's sources (added later, 143 photos): every fifth scene of each source in catalogue
    # order, from the third on (a group of shots or tiles of one scene counts once and validates whole)
    *(name for source in SURVEY_SOURCES for name in every_fifth_scene([p for p in CATALOGUE if p.source is source])),
)


def assign_splits(
    catalogue: Sequence[Photo], test: Collection[str] = TEST_PHOTOS, val: Collection[str] = VAL_PHOTOS
) -> dict[str, str]:
    """The split (``train``/``val``/``test``) of every photo name; a group follows its pinned member.

    Raises :class:`VQLabError` for duplicate names, pinned names missing from the catalogue, or a photo or
    group pinned to both ``val`` and ``test``.
    """
    names = [p.name for p in catalogue]
    if len(set(names)) != len(names):
        raise VQLabError(f"duplicate photo names: {sorted({n for n in names if names.count(n) > 1})}")
    unknown = (set(test) | set(val)) - set(names)
    if unknown:
        raise VQLabError(f"pinned photos not in the catalogue: {', '.join(sorted(unknown))}")
    pinned: dict[str, str] = {}
    for photo in catalogue:
        want = "test" if photo.name in test else "val" if photo.name in val else None
        key = photo.group or photo.name
        if want is not None and pinned.setdefault(key, want) != want:
            raise VQLabError(f"photos-wide: {key!r} is pinned to both val and test")
    return {p.name: pinned.get(p.group or p.name, "train") for p in catalogue}


@dataclass(frozen=True)
class Selection:
    """The installed photos in catalogue order with their splits, and the sources that were skipped."""

    photos: tuple[Photo, ...]
    splits: dict[str, str]
    skipped: tuple[tuple[Source, tuple[str, ...]], ...]  # (source, names of its photos that are missing)

    def names(self, split: str) -> list[str]:
        """Names of the photos used in ``split``, in catalogue order."""
        return [p.name for p in self.photos if self.splits[p.name] == split]

    def note(self) -> str:
        """One line naming the skipped packages (empty when nothing was skipped)."""
        if not self.skipped:
            return ""
        parts = [f"{s.package} ({s.kind}, {len(n)} photo{'s' * (len(n) != 1)})" for s, n in self.skipped]
        return f"photos-wide: not installed, skipped: {', '.join(parts)}; install them with {INSTALL_HINT}"


def select_photos(
    catalogue: Sequence[Photo] | None = None, test: Collection[str] | None = None, val: Collection[str] | None = None
) -> Selection:
    """Split the whole catalogue, then keep the photos whose files exist. The test photos must all exist.

    ``None`` means this module's :data:`CATALOGUE`, :data:`TEST_PHOTOS` and :data:`VAL_PHOTOS`.
    """
    catalogue = CATALOGUE if catalogue is None else catalogue
    splits = assign_splits(catalogue, TEST_PHOTOS if test is None else test, VAL_PHOTOS if val is None else val)
    present, missing = [], {}
    for photo in catalogue:
        if photo.file() is not None:
            present.append(photo)
        else:
            missing.setdefault(photo.source, []).append(photo.name)
    absent_test = [n for src_names in missing.values() for n in src_names if splits[n] == "test"]
    if absent_test:
        raise VQLabError(f"photos-wide: test photos not installed: {', '.join(absent_test)} (pip install -e .)")
    skipped = tuple((source, tuple(names)) for source, names in missing.items())
    return Selection(tuple(present), {p.name: splits[p.name] for p in present}, skipped)


def read_photo_list(path: str | os.PathLike[str]) -> dict[str, list[str]]:
    """The photo names per split of a photo list file (see the module notes); VQLabError when unreadable."""
    try:
        blob = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise VQLabError(f"photos-wide: cannot read the photo list {path}: {exc}") from None
    if isinstance(blob, dict) and isinstance(blob.get("photos"), dict):
        blob = blob["photos"]
    if not isinstance(blob, dict) or not all(
        isinstance(blob.get(split), list) and all(isinstance(n, str) for n in blob[split]) for split in SPLITS
    ):
        raise VQLabError(f"photos-wide: the photo list {path} needs lists of names under train, val and test")
    return {split: list(blob[split]) for split in SPLITS}


def restrict_selection(selection: Selection, listing: dict[str, list[str]], path: str = "the photo list") -> Selection:
    """The photos of ``selection`` that ``listing`` names; every listed photo must be installed, in its split."""
    wanted = {name: split for split in SPLITS for name in listing[split]}
    missing = [n for n in wanted if n not in selection.splits]
    if missing:
        raise VQLabError(f"photos-wide: {len(missing)} photos of {path} are not installed or not in the catalogue: "
                         f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} (see {INSTALL_HINT})")
    moved = [f"{n} ({wanted[n]} there, {selection.splits[n]} here)" for n in wanted
             if selection.splits[n] != wanted[n]]
    if moved:
        raise VQLabError(f"photos-wide: photos of {path} are in another split now: {', '.join(moved[:5])}")
    photos = tuple(p for p in selection.photos if p.name in wanted)
    return Selection(photos, {p.name: selection.splits[p.name] for p in photos}, ())


def _max_side(image_size: int) -> int:
    return round(MAX_SIDE * image_size / NATIVE_SIZE)


def cache_key(selection: Selection, image_size: int) -> str:
    """16 hex digits over the recipe and the photos used (name, split, stored size, box)."""
    photos = [[p.name, selection.splits[p.name], p.stored_size(), list(p.box or ())] for p in selection.photos]
    recipe = [VERSION, image_size, _max_side(image_size), list(SCALES), MIN_STD, MAX_CROPS_PER_SCALE,
              MAX_CROPS_PER_PHOTO]
    blob = json.dumps({"recipe": recipe, "photos": photos}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def build_wide_arrays(selection: Selection, image_size: int = NATIVE_SIZE) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Crop every selected photo: uint8 arrays ``(N, 3, S, S)`` per split, and one record per photo used."""
    size = image_size
    crops: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    records = []
    for photo in selection.photos:
        split = selection.splits[photo.name]
        try:
            image = photo.load(_max_side(size))
        except FileNotFoundError as exc:  # removed since select_photos
            raise VQLabError(str(exc)) from None
        stride = max(1, size // 2) if split == "train" else size
        c = base_photos.crop_photo(image, size, stride, scales=SCALES, max_per_scale=MAX_CROPS_PER_SCALE,
                                   max_per_photo=MAX_CROPS_PER_PHOTO, min_std=MIN_STD)
        crops[split].append(c)
        source = photo.source
        records.append({
            "name": photo.name, "split": split, "crops": len(c), "original_size": list(photo.original_size() or ()),
            "size": [image.shape[1], image.shape[0]],
            "package": source.package, "kind": source.kind, "version": package_version(source),
            "licence": photo.licence or source.licence,
            "file": str(photo.file()) + (f":{photo.member}" if photo.member else ""),
        })
    arrays = {
        s: np.concatenate(c) if c else np.empty((0, 3, size, size), np.uint8) for s, c in crops.items()
    }
    for split in ("train", "test"):
        if len(arrays[split]) == 0:
            raise VQLabError(f"photos-wide: no {split} crops of size {size}; the image_size is too large")
    return arrays, records


def cache_paths(image_size: int, key: str, cache_dir: str | os.PathLike[str] | None = None) -> dict[str, Path]:
    """The cache files: one ``.npy`` per split and ``meta`` (JSON), named by crop size, version and key."""
    stem = cache_root(cache_dir) / "photos-wide" / f"photos-wide-{VERSION}-{image_size}px-{key}"
    return {**{s: Path(f"{stem}-{s}.npy") for s in SPLITS}, "meta": Path(f"{stem}-meta.json")}


def _read_cache(paths: dict[str, Path], key: str, image_size: int) -> dict[str, np.ndarray] | None:
    """The cached arrays when the metadata and all three files are present and agree, else ``None``."""
    try:
        meta = json.loads(paths["meta"].read_text())
        arrays = {s: np.load(paths[s], allow_pickle=False) for s in SPLITS}
    except (OSError, ValueError, EOFError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != key or not isinstance(meta.get("counts"), dict):
        return None
    for split, arr in arrays.items():
        if arr.dtype != np.uint8 or arr.ndim != 4 or arr.shape[1:] != (3, image_size, image_size):
            return None
        if len(arr) != meta["counts"].get(split):
            return None
    return {s: np.ascontiguousarray(a) for s, a in arrays.items()}


def load_photos_wide(
    *,
    root: str | os.PathLike[str] | None = None,
    image_size: int | None = None,
    download: bool = False,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ImageDataset:
    """The ``photos-wide`` dataset: uint8 crops ``(N, 3, S, S)`` in ``train``, ``val`` and ``test``.

    ``image_size=None`` means 32. Built on first use (a warning names any package that is not installed) and
    cached under the user cache folder; see the module notes for the key and metadata. ``root``, when given, is
    a photo list file (module notes): only its photos are used. ``download`` is accepted for a uniform loader
    signature and ignored. If the cache can't be written, a warning is issued and the data is returned anyway.
    """
    del download
    size = check_image_size(image_size) or NATIVE_SIZE
    selection = select_photos()
    if root is not None:
        selection = restrict_selection(selection, read_photo_list(root), str(root))
    key = cache_key(selection, size)
    paths = cache_paths(size, key, cache_dir)
    arrays = _read_cache(paths, key, size)
    if arrays is None:
        if selection.skipped:
            warnings.warn(selection.note(), stacklevel=2)
        arrays, records = build_wide_arrays(selection, size)
        meta = {
            "dataset": "photos-wide", "version": VERSION, "image_size": size, "key": key,
            "counts": {s: len(a) for s, a in arrays.items()},
            "photos": records,
            "skipped": [{"package": s.package, "kind": s.kind, "photos": list(n)} for s, n in selection.skipped],
        }
        try:
            for split in SPLITS:
                write_atomic_npy(paths[split], arrays[split])
            atomic_write_json(paths["meta"], meta)  # last: its presence marks a complete cache
        except OSError as exc:
            warnings.warn(f"photos-wide: cannot write cache in {paths['meta'].parent}: {exc}", stacklevel=2)
    t = {s: torch.from_numpy(a) for s, a in arrays.items()}
    return ImageDataset("photos-wide", t["train"], t["test"], val=t["val"])
