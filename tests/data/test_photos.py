from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vqlab.data import photos as P
from vqlab.data.base import ImageDataset
from vqlab.errors import VQLabError


def test_split_constants_are_disjoint_and_cover_all_photos() -> None:
    assert not set(P.TRAIN_PHOTOS) & set(P.TEST_PHOTOS)
    assert set(P.TRAIN_PHOTOS) | set(P.TEST_PHOTOS) == set(P.PHOTOS)
    assert len(P.TRAIN_PHOTOS) == 8 and set(P.TEST_PHOTOS) == {"astronaut", "coffee", "flower"}


def test_full_dataset_shapes_and_sizes(photos: ImageDataset) -> None:
    assert photos.name == "photos"
    for t in (photos.train, photos.test):
        assert t.dtype == torch.uint8 and t.is_contiguous()
        assert t.shape[1:] == (3, 32, 32)
    assert 20_000 <= len(photos.train) <= 60_000
    assert 1_000 <= len(photos.test) <= 4_000
    assert photos.channels == 3 and photos.image_size == (32, 32)


def test_no_near_constant_crops(photos: ImageDataset) -> None:
    for t in (photos.train, photos.test):
        std = t.reshape(len(t), -1).float().std(dim=1, correction=0)
        assert float(std.min()) >= P.MIN_STD


def test_no_test_crop_appears_in_train(photos: ImageDataset) -> None:
    test_rows = {row.tobytes() for row in photos.test.numpy()}
    assert not any(row.tobytes() in test_rows for row in photos.train.numpy())


def test_build_is_deterministic_and_matches_cache(photos: ImageDataset) -> None:
    a_train, a_test = P.build_photo_arrays(32, ["chelsea"], ["coffee"])
    b_train, b_test = P.build_photo_arrays(32, ["chelsea"], ["coffee"])
    np.testing.assert_array_equal(a_train, b_train)
    np.testing.assert_array_equal(a_test, b_test)
    # chelsea is the first training photo, so its crops open the cached training set
    assert P.TRAIN_PHOTOS[0] == "chelsea"
    np.testing.assert_array_equal(photos.train[: len(a_train)].numpy(), a_train)


def test_build_refuses_overlapping_splits() -> None:
    with pytest.raises(VQLabError, match="chelsea"):
        P.build_photo_arrays(32, ["chelsea"], ["chelsea"])


def test_no_photo_dominates(photos: ImageDataset) -> None:
    retina = P.crop_photo(P.load_photo("retina"), 32, 16)
    assert len(retina) <= P.MAX_CROPS_PER_PHOTO
    assert len(retina) / len(photos.train) < 0.25


def test_second_load_reuses_cache(photos_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = P.load_photos(cache_dir=photos_cache)

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(P, "build_photo_arrays", fail)
    second = P.load_photos(cache_dir=photos_cache)
    assert torch.equal(first.train, second.train) and torch.equal(first.test, second.test)


def test_cache_files_are_versioned(photos_cache: Path) -> None:
    train_path, test_path = P.cache_paths(32, photos_cache)
    assert train_path.is_file() and test_path.is_file()
    assert P.VERSION in train_path.name and "32" in train_path.name
    assert not [p for p in train_path.parent.iterdir() if p.name.endswith(".tmp")]
    assert np.load(train_path, allow_pickle=False).dtype == np.uint8


@pytest.mark.parametrize("damage", ["truncate", "garbage", "wrong_shape", "delete_test"])
def test_corrupt_cache_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str) -> None:
    calls = []
    rng = np.random.default_rng(0)
    fake = (rng.integers(0, 256, (6, 3, 8, 8), dtype=np.uint8), rng.integers(0, 256, (2, 3, 8, 8), dtype=np.uint8))

    def fake_build(image_size: int) -> tuple[np.ndarray, np.ndarray]:
        calls.append(image_size)
        return fake

    monkeypatch.setattr(P, "build_photo_arrays", fake_build)
    P.load_photos(image_size=8, cache_dir=tmp_path)
    train_path, test_path = P.cache_paths(8, tmp_path)
    if damage == "truncate":
        train_path.write_bytes(train_path.read_bytes()[:50])
    elif damage == "garbage":
        train_path.write_bytes(b"\x00not an npy file" * 10)
    elif damage == "wrong_shape":
        np.save(train_path, np.zeros((4, 3, 9, 9), np.uint8))
    else:
        test_path.unlink()
    ds = P.load_photos(image_size=8, cache_dir=tmp_path)
    assert calls == [8, 8]
    np.testing.assert_array_equal(ds.train.numpy(), fake[0])
    np.testing.assert_array_equal(np.load(train_path), fake[0])
    P.load_photos(image_size=8, cache_dir=tmp_path)
    assert calls == [8, 8]


def test_crop_photo_drops_flat_crops_and_caps() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    image[:, :64] = 7  # flat left half
    crops = P.crop_photo(image, 16, 8, scales=(1.0,), max_per_scale=10_000)
    assert crops.dtype == np.uint8 and crops.shape[1:] == (3, 16, 16)
    assert (crops.reshape(len(crops), -1).std(axis=1) >= P.MIN_STD).all()
    assert 0 < len(crops) < 11 * 15
    capped = P.crop_photo(image, 16, 8, scales=(1.0, 2.0), max_per_scale=5, max_per_photo=7)
    assert len(capped) == 7
    assert len(P.crop_photo(np.full((64, 64, 3), 9, np.uint8), 16, 8)) == 0
    assert len(P.crop_photo(image, 200, 100)) == 0  # every scale smaller than the crop


def test_unknown_photo_and_bad_size() -> None:
    with pytest.raises(VQLabError, match="nope"):
        P.load_photo("nope")
    with pytest.raises(VQLabError, match="image_size"):
        P.load_photos(image_size=0)


def test_unwritable_cache_warns_and_returns_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = (np.zeros((2, 3, 4, 4), np.uint8) + 5, np.ones((1, 3, 4, 4), np.uint8))
    monkeypatch.setattr(P, "build_photo_arrays", lambda image_size: fake)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.warns(UserWarning, match="cache"):
        ds = P.load_photos(image_size=4, cache_dir=blocker)
    assert ds.train.shape == (2, 3, 4, 4)
