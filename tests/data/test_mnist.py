from __future__ import annotations

import gzip
import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from vqlab.data import mnist as M
from vqlab.errors import VQLabError


def idx_bytes(images: np.ndarray, magic: int = 0x00000803) -> bytes:
    n, h, w = images.shape
    return struct.pack(">IIII", magic, n, h, w) + images.astype(np.uint8).tobytes()


def write_idx(path: Path, images: np.ndarray, gz: bool) -> Path:
    data = idx_bytes(images)
    if gz:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(data, mtime=0))
    else:
        path.write_bytes(data)
    return path


def make_mnist(folder: Path, gz: bool, n_train: int = 5, n_test: int = 3, seed: int = 0) -> tuple[np.ndarray, ...]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    test = rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    write_idx(folder / M.TRAIN_FILE, train, gz)
    write_idx(folder / M.TEST_FILE, test, gz)
    return train, test


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("loader,name", [(M.load_mnist, "mnist"), (M.load_fashion_mnist, "fashion-mnist")])
def test_load(tmp_path: Path, gz: bool, loader, name: str) -> None:
    train, test = make_mnist(tmp_path, gz)
    ds = loader(root=tmp_path)
    assert ds.name == name and ds.channels == 1 and ds.image_size == (28, 28)
    assert ds.train.dtype == torch.uint8 and ds.train.shape == (5, 1, 28, 28) and ds.test.shape == (3, 1, 28, 28)
    np.testing.assert_array_equal(ds.train[:, 0].numpy(), train)
    np.testing.assert_array_equal(ds.test[:, 0].numpy(), test)


def test_pixel_order_is_row_major() -> None:
    images = np.zeros((1, 3, 4), np.uint8)
    images[0, 2, 1] = 200
    parsed = M.read_idx_images(io.BytesIO(idx_bytes(images)), "x")
    assert parsed.shape == (1, 3, 4) and parsed[0, 2, 1] == 200 and int(parsed.sum()) == 200


def test_plain_file_preferred_over_gz(tmp_path: Path) -> None:
    train, _ = make_mnist(tmp_path, gz=False, seed=1)
    make_mnist(tmp_path, gz=True, n_train=2, seed=2)
    np.testing.assert_array_equal(M.load_mnist(root=tmp_path).train[:, 0].numpy(), train)


def test_resize(tmp_path: Path) -> None:
    make_mnist(tmp_path, gz=True)
    ds = M.load_mnist(root=tmp_path, image_size=32)
    assert ds.train.shape == (5, 1, 32, 32) and ds.test.shape == (3, 1, 32, 32)


def test_default_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(M, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "not-installed")
    make_mnist(tmp_path / "cache" / "mnist", gz=False)
    make_mnist(tmp_path / "cache" / "fashion-mnist", gz=False, n_train=4)
    assert len(M.load_mnist(cache_dir=tmp_path / "cache").train) == 5
    assert len(M.load_fashion_mnist(cache_dir=tmp_path / "cache").train) == 4
    system = tmp_path / "usr-share"
    make_mnist(system, gz=True, n_train=2)
    monkeypatch.setattr(M, "FASHION_MNIST_SYSTEM_DIR", system)
    assert len(M.load_fashion_mnist(cache_dir=tmp_path / "cache").train) == 2


def test_missing_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(VQLabError, match="train-images-idx3-ubyte") as info:
        M.load_mnist(root=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)
    with pytest.raises(VQLabError, match="only supported for cifar10"):
        M.load_fashion_mnist(root=tmp_path, download=True)


@pytest.mark.parametrize(
    "damage,match",
    [
        ("magic", "magic"),
        ("truncated", "truncated"),
        ("too_long", "longer"),
        ("short_header", "header"),
        ("zero", "no images"),
    ],
)
@pytest.mark.parametrize("gz", [False, True])
def test_bad_files(tmp_path: Path, damage: str, match: str, gz: bool) -> None:
    images = np.ones((2, 28, 28), np.uint8)
    data = {
        "magic": idx_bytes(images, magic=0x00000801),
        "truncated": idx_bytes(images)[:-5],
        "too_long": idx_bytes(images) + b"\x00",
        "short_header": idx_bytes(images)[:10],
        "zero": idx_bytes(np.ones((0, 28, 28), np.uint8)),
    }[damage]
    name = M.TRAIN_FILE + (".gz" if gz else "")
    (tmp_path / name).write_bytes(gzip.compress(data) if gz else data)
    write_idx(tmp_path / M.TEST_FILE, images, gz)
    with pytest.raises(VQLabError, match=match) as info:
        M.load_mnist(root=tmp_path)
    assert name in str(info.value)


def test_corrupt_gzip(tmp_path: Path) -> None:
    bad = tmp_path / (M.TRAIN_FILE + ".gz")
    bad.write_bytes(b"definitely not gzip data")
    with pytest.raises(VQLabError, match=M.TRAIN_FILE):
        M.read_idx_file(bad)
    good = gzip.compress(idx_bytes(np.ones((3, 28, 28), np.uint8)))
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(VQLabError, match=M.TRAIN_FILE):
        M.read_idx_file(bad)


@settings(max_examples=50, deadline=None, database=None)
@given(st.binary(max_size=200))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        images = M.read_idx_images(io.BytesIO(data), "fuzz")
    except VQLabError:
        return
    assert images.dtype == np.uint8 and images.ndim == 3 and images.size == len(data) - 16


@settings(max_examples=50, deadline=None, database=None)
@given(
    st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    st.binary(max_size=64),
    st.booleans(),
)
@example((1, 2, 3), bytes(range(6)), True)
def test_fuzz_headers(dims: tuple[int, int, int], payload: bytes, real_magic: bool) -> None:
    magic = 0x00000803 if real_magic else 0x00000802
    data = struct.pack(">IIII", magic, *dims) + payload
    try:
        images = M.read_idx_images(io.BytesIO(data), "fuzz")
    except VQLabError:
        return
    assert images.shape == dims and images.tobytes() == payload
