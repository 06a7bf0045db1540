from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from vqlab.data import DATASETS, ImageDataset, load_dataset
from vqlab.errors import VQLabError


def test_registry_names() -> None:
    assert set(DATASETS) == {"photos", "photos-wide", "cifar10", "mnist", "fashion-mnist"}


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(VQLabError, match="unknown dataset 'cifar100'") as info:
        load_dataset("cifar100")
    for name in ("photos", "photos-wide", "cifar10", "mnist", "fashion-mnist", "folder:PATH"):
        assert name in str(info.value)
    with pytest.raises(VQLabError, match="folder:"):
        load_dataset("folder:")


def test_photos_through_registry(photos_cache: Path, photos: ImageDataset) -> None:
    ds = load_dataset("photos", cache_dir=photos_cache)
    assert ds.name == "photos" and ds.train.shape == photos.train.shape


def test_folder_spec(tmp_path: Path) -> None:
    for i in range(3):
        Image.new("RGB", (40, 20), (i, i, i)).save(tmp_path / f"{i}.png")
    ds = load_dataset(f"folder:{tmp_path}", image_size=16)
    assert ds.name == f"folder:{tmp_path.resolve()}" and ds.image_size == (16, 16)
    assert len(ds.train) + len(ds.test) == 3


def test_loader_errors_pass_through(tmp_path: Path) -> None:
    with pytest.raises(VQLabError, match="--download"):
        load_dataset("cifar10", root=str(tmp_path))
    with pytest.raises(VQLabError, match="image_size"):
        load_dataset("mnist", root=str(tmp_path), image_size=0)
