from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vqlab.data import folder as F
from vqlab.errors import VQLabError


def make_folder(root: Path, n: int = 20) -> list[str]:
    """``n`` small images of mixed formats/modes in nested folders, plus files that must be ignored."""
    rng = np.random.default_rng(0)
    names = []
    for i in range(n):
        sub = root / ("a" if i % 2 else "b/c")
        sub.mkdir(parents=True, exist_ok=True)
        ext = [".png", ".jpg", ".BMP", ".gif", ".webp", ".tiff"][i % 6]
        arr = rng.integers(0, 256, (20 + i, 30, 3), dtype=np.uint8)
        im = Image.fromarray(arr)
        im = im.convert("L") if i % 5 == 0 else im.convert("P") if ext == ".gif" else im
        im.save(sub / f"img{i:02d}{ext}")
        names.append((sub / f"img{i:02d}{ext}").relative_to(root).as_posix())
    (root / "notes.txt").write_text("not an image")
    (root / ".hidden.png").write_bytes(b"garbage")
    (root / ".git").mkdir()
    (root / ".git" / "x.png").write_bytes(b"garbage")
    return sorted(names)


def test_find_and_load(tmp_path: Path) -> None:
    names = make_folder(tmp_path)
    assert F.find_images(tmp_path) == names
    ds = F.load_folder(tmp_path)
    assert ds.name == f"folder:{tmp_path.resolve()}"
    assert ds.train.dtype == torch.uint8 and ds.train.shape[1:] == (3, 32, 32)
    assert len(ds.train) + len(ds.test) == 20 and len(ds.test) >= 1 and len(ds.train) >= 1
    assert F.load_folder(tmp_path, image_size=8).test.shape[1:] == (3, 8, 8)


def test_split_is_deterministic_and_location_independent(tmp_path: Path) -> None:
    make_folder(tmp_path / "one")
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    a, b = F.load_folder(tmp_path / "one"), F.load_folder(tmp_path / "two")
    assert torch.equal(a.train, b.train) and torch.equal(a.test, b.test)


def test_split_rules() -> None:
    many = [f"d/img{i}.png" for i in range(200)]
    train, test = F.split_files(many)
    assert set(train).isdisjoint(test) and sorted(train + test) == sorted(many)
    assert 5 <= len(test) <= 40  # about 10%
    for k in range(2, 6):
        tr, te = F.split_files(many[:k])
        assert tr and te and set(tr).isdisjoint(te)
    assert F.split_files(["only.png"]) == (["only.png"], ["only.png"])


def test_single_image_is_in_both_splits(tmp_path: Path) -> None:
    Image.new("RGB", (10, 10), (1, 2, 3)).save(tmp_path / "x.png")
    ds = F.load_folder(tmp_path, image_size=4)
    assert ds.train.shape == ds.test.shape == (1, 3, 4, 4)
    assert ds.train[0, :, 0, 0].tolist() == [1, 2, 3]


def test_center_crop(tmp_path: Path) -> None:
    arr = np.zeros((32, 64, 3), np.uint8)
    arr[:, :16] = (255, 0, 0)
    arr[:, 16:48] = (0, 255, 0)
    arr[:, 48:] = (0, 0, 255)
    Image.fromarray(arr).save(tmp_path / "wide.png")
    out = F.load_folder(tmp_path, image_size=16).train[0]
    assert out[1].min() >= 250 and out[0].max() <= 5 and out[2].max() <= 5


@pytest.mark.parametrize("content", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30, "truncated"])
def test_corrupt_image_is_named(tmp_path: Path, content: object) -> None:
    make_folder(tmp_path, n=3)
    bad = tmp_path / "a" / "broken.png"
    if content == "truncated":
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(bad)
        bad.write_bytes(bad.read_bytes()[:300])
    else:
        bad.write_bytes(content)
    with pytest.raises(VQLabError, match="broken.png"):
        F.load_folder(tmp_path)


def test_empty_missing_and_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(VQLabError, match="no images") as info:
        F.load_folder(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)
    with pytest.raises(VQLabError, match="not found"):
        F.load_folder(tmp_path / "missing")
    with pytest.raises(VQLabError, match="not a folder"):
        F.load_folder(tmp_path / "empty" / "readme.txt")
    with pytest.raises(VQLabError, match="image_size"):
        F.load_folder(tmp_path, image_size=-3)


def test_train_val_test_subfolders_are_the_splits(tmp_path: Path) -> None:
    colours = {"train": (200, 0, 0), "val": (0, 200, 0), "test": (0, 0, 200)}
    for split, colour in colours.items():
        for i in range({"train": 5, "val": 3, "test": 2}[split]):
            (tmp_path / split / "sub").mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (12, 10), colour).save(tmp_path / split / ("sub" if i % 2 else "") / f"{i}.png")
    ds = F.load_folder(tmp_path, image_size=8)
    assert (len(ds.train), len(ds.val), len(ds.test)) == (5, 3, 2)
    for split, colour in colours.items():
        assert getattr(ds, split)[:, :, 4, 4].tolist() == [list(colour)] * len(getattr(ds, split))
    shutil.rmtree(tmp_path / "val")
    assert F.load_folder(tmp_path, image_size=8).val is None
    Image.new("RGB", (12, 10)).save(tmp_path / "stray.png")
    with pytest.raises(VQLabError, match="stray.png"):
        F.load_folder(tmp_path, image_size=8)


def test_a_flat_folder_has_no_val_split(tmp_path: Path) -> None:
    make_folder(tmp_path, n=6)
    assert F.load_folder(tmp_path).val is None
