from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vqlab.data.base import ImageDataset, cache_root, load_image_file, resize_images, write_atomic_npy
from vqlab.errors import VQLabError


def test_image_dataset_properties_and_validation() -> None:
    ds = ImageDataset("x", torch.zeros(4, 1, 6, 5, dtype=torch.uint8), torch.zeros(2, 1, 6, 5, dtype=torch.uint8))
    assert ds.channels == 1 and ds.image_size == (6, 5)
    t = torch.zeros(2, 3, 4, 4, dtype=torch.uint8).permute(0, 1, 3, 2)
    assert ImageDataset("y", t, t).train.is_contiguous()
    with pytest.raises(ValueError):
        ImageDataset("x", torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError):
        ImageDataset("x", torch.zeros(1, 2, 4, 4, dtype=torch.uint8), torch.zeros(1, 2, 4, 4, dtype=torch.uint8))
    with pytest.raises(ValueError):
        ImageDataset("x", torch.zeros(1, 3, 4, 4, dtype=torch.uint8), torch.zeros(1, 3, 5, 4, dtype=torch.uint8))



def test_image_dataset_optional_val_split() -> None:
    u8 = torch.uint8
    ds = ImageDataset("x", torch.zeros(4, 3, 6, 6, dtype=u8), torch.zeros(2, 3, 6, 6, dtype=u8))
    assert ds.val is None  # sources without a validation split: unchanged
    val = torch.zeros(3, 3, 6, 6, dtype=u8).permute(0, 1, 3, 2)
    ds = ImageDataset("x", torch.zeros(4, 3, 6, 6, dtype=u8), torch.zeros(2, 3, 6, 6, dtype=u8), val=val)
    assert ds.val is not None and ds.val.shape == (3, 3, 6, 6) and ds.val.is_contiguous()
    assert ImageDataset("x", ds.train, ds.test, torch.zeros(0, 3, 6, 6, dtype=u8)).val.shape[0] == 0
    with pytest.raises(ValueError, match="val"):
        ImageDataset("x", ds.train, ds.test, val=torch.zeros(1, 3, 5, 6, dtype=u8))
    with pytest.raises(ValueError, match="val"):
        ImageDataset("x", ds.train, ds.test, val=torch.zeros(1, 3, 6, 6))

def test_cache_root_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VQLAB_CACHE", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home" / ".cache" / "vqlab"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "vqlab"
    monkeypatch.setenv("VQLAB_CACHE", str(tmp_path / "env"))
    assert cache_root() == tmp_path / "env"
    assert cache_root(tmp_path / "arg") == tmp_path / "arg"


def test_write_atomic_npy(tmp_path: Path) -> None:
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "sub" / "a.npy"
    write_atomic_npy(path, arr)
    write_atomic_npy(path, arr + 1)
    np.testing.assert_array_equal(np.load(path, allow_pickle=False), arr + 1)
    assert [p.name for p in path.parent.iterdir()] == ["a.npy"]


def test_resize_images() -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (3, 1, 10, 10), dtype=np.uint8)
    rgb = rng.integers(0, 256, (2, 3, 10, 12), dtype=np.uint8)
    assert resize_images(gray, 5).shape == (3, 1, 5, 5)
    assert resize_images(rgb, 7).shape == (2, 3, 7, 7) and resize_images(rgb, 7).dtype == np.uint8
    flat = np.full((1, 3, 10, 10), 77, np.uint8)
    assert (resize_images(flat, 4) == 77).all()


def test_load_image_file_modes(tmp_path: Path) -> None:
    Image.new("L", (50, 30), 128).save(tmp_path / "gray.png")
    im = load_image_file(tmp_path / "gray.png")
    assert im.mode == "RGB" and im.size == (50, 30) and im.getpixel((0, 0)) == (128, 128, 128)
    Image.new("RGBA", (4, 4), (10, 20, 30, 0)).save(tmp_path / "clear.png")
    assert load_image_file(tmp_path / "clear.png").getpixel((1, 1)) == (255, 255, 255)
    Image.fromarray(np.full((4, 4), 65535, np.uint16)).save(tmp_path / "deep.png")
    assert load_image_file(tmp_path / "deep.png").getpixel((0, 0)) == (255, 255, 255)


def test_load_image_file_errors(tmp_path: Path) -> None:
    with pytest.raises(VQLabError, match="missing.png"):
        load_image_file(tmp_path / "missing.png")
    with pytest.raises(VQLabError, match="not an image file"):
        load_image_file(tmp_path)
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")
    with pytest.raises(VQLabError, match="bad.jpg"):
        load_image_file(tmp_path / "bad.jpg")


def test_decompression_bomb_is_a_user_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Image.new("RGB", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(VQLabError, match="big.png"):
        load_image_file(tmp_path / "big.png")
