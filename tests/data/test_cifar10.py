from __future__ import annotations

import hashlib
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqlab.data import cifar10 as C
from vqlab.errors import VQLabError

N_TRAIN, N_TEST = 3, 2


def write_batch(path: Path, images: np.ndarray, protocol: int = 2) -> None:
    """Write ``images`` (N, 3, 32, 32) uint8 as a batch file in CIFAR's exact pickle format."""
    n = len(images)
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": list(range(n)),
        b"data": images.reshape(n, 3072),
        b"filenames": [f"img_{i}.png".encode() for i in range(n)],
    }
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=protocol)


def make_cifar(parent: Path, protocol: int = 2) -> tuple[Path, np.ndarray, np.ndarray]:
    """A tiny cifar-10-batches-py folder under ``parent``; returns (folder, train images, test images)."""
    folder = parent / C.BATCH_DIR
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, (5 * N_TRAIN, 3, 32, 32), dtype=np.uint8)
    test = rng.integers(0, 256, (N_TEST, 3, 32, 32), dtype=np.uint8)
    for i, name in enumerate(C.TRAIN_BATCHES):
        write_batch(folder / name, train[i * N_TRAIN : (i + 1) * N_TRAIN], protocol)
    write_batch(folder / "test_batch", test, protocol)
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a"]}, protocol=2))
    return folder, train, test


def test_pixel_layout_r_then_g_then_b_planes(tmp_path: Path) -> None:
    row = np.zeros(3072, np.uint8)
    row[0 * 1024 + 5 * 32 + 7] = 11  # R at (y=5, x=7)
    row[1 * 1024 + 0 * 32 + 31] = 22  # G at (y=0, x=31)
    row[2 * 1024 + 31 * 32 + 0] = 33  # B at (y=31, x=0)
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"x", b"labels": [0], b"data": row[None], b"filenames": [b"a.png"]}, f, 2)
    images = C.load_batch(path)
    assert images.shape == (1, 3, 32, 32) and images.dtype == np.uint8
    assert images[0, 0, 5, 7] == 11 and images[0, 1, 0, 31] == 22 and images[0, 2, 31, 0] == 33
    assert int(images.sum()) == 66


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
@pytest.mark.parametrize("point_at", ["parent", "folder"])
def test_load_splits(tmp_path: Path, protocol: int, point_at: str) -> None:
    folder, train, test = make_cifar(tmp_path, protocol)
    ds = C.load_cifar10(root=tmp_path if point_at == "parent" else folder)
    assert ds.name == "cifar10" and ds.channels == 3 and ds.image_size == (32, 32)
    assert ds.train.dtype == torch.uint8 and ds.train.shape == (5 * N_TRAIN, 3, 32, 32)
    assert ds.test.shape == (N_TEST, 3, 32, 32)
    np.testing.assert_array_equal(ds.train.numpy(), train)
    np.testing.assert_array_equal(ds.test.numpy(), test)


def test_default_root_under_cache_dir(tmp_path: Path) -> None:
    make_cifar(tmp_path / "cifar10")
    assert len(C.load_cifar10(cache_dir=tmp_path).train) == 5 * N_TRAIN


def test_resize(tmp_path: Path) -> None:
    make_cifar(tmp_path)
    ds = C.load_cifar10(root=tmp_path, image_size=16)
    assert ds.train.shape == (5 * N_TRAIN, 3, 16, 16) and ds.test.shape == (N_TEST, 3, 16, 16)


def test_missing_folder_mentions_path_and_download(tmp_path: Path) -> None:
    with pytest.raises(VQLabError, match="--download") as info:
        C.load_cifar10(root=tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_missing_batch_names_it(tmp_path: Path) -> None:
    folder, _, _ = make_cifar(tmp_path)
    (folder / "data_batch_3").unlink()
    with pytest.raises(VQLabError, match="data_batch_3"):
        C.load_cifar10(root=folder)


def test_truncated_batch(tmp_path: Path) -> None:
    folder, _, _ = make_cifar(tmp_path)
    path = folder / "data_batch_2"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(VQLabError, match="data_batch_2"):
        C.load_cifar10(root=folder)


class _Py2Pickler(pickle._Pickler):  # type: ignore[misc]
    """Writes ``str`` and ``bytes`` as Python 2 ``str`` opcodes (BINSTRING), like the real CIFAR files."""

    dispatch: ClassVar[dict] = dict(pickle._Pickler.dispatch)  # type: ignore[attr-defined]

    def save_py2_str(self, obj: str | bytes) -> None:
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str
    dispatch[str] = save_py2_str


def test_python2_style_batch_with_numpy_core_names(tmp_path: Path) -> None:
    images = np.random.default_rng(3).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump({b"batch_label": b"b", b"labels": [0, 1, 2, 3], b"data": images.reshape(4, -1)})
    raw = buf.getvalue().replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    assert b"numpy.core.multiarray\n_reconstruct" in raw and b"_codecs" not in raw
    (tmp_path / "test_batch").write_bytes(raw)
    np.testing.assert_array_equal(C.load_batch(tmp_path / "test_batch"), images)


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


@pytest.mark.parametrize("protocol", [2, pickle.DEFAULT_PROTOCOL])
def test_malicious_pickle_is_refused_and_not_run(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    with open(path, "wb") as f:
        pickle.dump({b"data": _Evil(marker), b"labels": [0]}, f, protocol=protocol)
    with pytest.raises(VQLabError, match="refusing"):
        C.load_batch(path)
    assert not marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\neval\n(S'1+1'\ntR.",
        b"c_codecs\nencode\n(X\x03\x00\x00\x00abcX\x05\x00\x00\x00rot13tR.",
        b"cnumpy\nload\n(S'x'\ntR.",
    ],
)
def test_forbidden_globals(payload: bytes) -> None:
    with pytest.raises(VQLabError, match="refusing"):
        C.safe_unpickle(io.BytesIO(payload), "x")


@pytest.mark.parametrize(
    "obj", [[1, 2], {b"data": np.zeros((2, 3072), np.float32)}, {b"data": np.zeros((2, 100), np.uint8)}, {}]
)
def test_wrong_content(tmp_path: Path, obj: object) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(VQLabError, match="data_batch_1"):
        C.load_batch(path)


@settings(max_examples=50, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_fuzz_random_bytes(data: bytes) -> None:
    try:
        C.safe_unpickle(io.BytesIO(data), "fuzz")
    except VQLabError:
        pass


_VALID = pickle.dumps({b"labels": [1, 2], b"data": np.arange(2 * 3072, dtype=np.uint8).reshape(2, 3072)}, protocol=2)


@settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)), min_size=1, max_size=4),
    st.integers(1, len(_VALID)),
)
def test_fuzz_mutated_batch(edits: list[tuple[int, int]], keep: int) -> None:
    data = bytearray(_VALID)
    for pos, value in edits:
        data[pos] = value
    try:
        images = C._batch_images(C.safe_unpickle(io.BytesIO(bytes(data[:keep])), "fuzz"), "fuzz")
    except VQLabError:
        return
    assert images.dtype == np.uint8 and images.shape[1:] == (3, 32, 32)


def make_archive(tmp_path: Path, members: dict[str, bytes] | None = None) -> tuple[Path, str]:
    """A .tar.gz holding a tiny cifar-10-batches-py folder (or the given raw members); returns (path, md5)."""
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        if members is None:
            src = tmp_path / "src"
            make_cifar(src)
            tar.add(src / C.BATCH_DIR, arcname=C.BATCH_DIR)
        else:
            for name, content in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_verify_and_extract(tmp_path: Path) -> None:
    archive, md5 = make_archive(tmp_path)
    dest = tmp_path / "dest"
    folder = C._verify_and_extract(archive, md5, dest)
    assert folder == dest / C.BATCH_DIR
    # no temporary folder is left behind
    assert sorted(p.name for p in dest.iterdir()) == [C.BATCH_DIR]
    assert len(C.load_cifar10(root=dest).train) == 5 * N_TRAIN


def test_md5_mismatch_extracts_nothing(tmp_path: Path) -> None:
    archive, _ = make_archive(tmp_path)
    dest = tmp_path / "dest"
    with pytest.raises(VQLabError, match="MD5 mismatch"):
        C._verify_and_extract(archive, "0" * 32, dest)
    assert not (dest / C.BATCH_DIR).exists()


def test_unsafe_member_refused(tmp_path: Path) -> None:
    archive, md5 = make_archive(tmp_path, {f"{C.BATCH_DIR}/../../escaped": b"x"})
    dest = tmp_path / "a" / "dest"
    with pytest.raises(VQLabError, match="extract"):
        C._verify_and_extract(archive, md5, dest)
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "a" / "escaped").exists()


def test_archive_without_batches_or_corrupt(tmp_path: Path) -> None:
    archive, md5 = make_archive(tmp_path, {"other/file": b"x"})
    with pytest.raises(VQLabError, match=C.BATCH_DIR):
        C._verify_and_extract(archive, md5, tmp_path / "d1")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"\x1f\x8b not really gzip" * 20)
    with pytest.raises(VQLabError, match="junk.tar.gz"):
        C._verify_and_extract(junk, hashlib.md5(junk.read_bytes()).hexdigest(), tmp_path / "d2")


def test_download_through_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive, md5 = make_archive(tmp_path)
    monkeypatch.setattr(C, "URL", archive.as_uri())
    monkeypatch.setattr(C, "ARCHIVE_MD5", md5)
    root = tmp_path / "root"
    ds = C.load_cifar10(root=root, download=True)
    assert len(ds.test) == N_TEST and (root / C.BATCH_DIR / "test_batch").is_file()
    assert sorted(p.name for p in root.iterdir()) == [C.BATCH_DIR]


def test_download_failure_says_what_to_do(tmp_path: Path) -> None:
    missing = (tmp_path / "missing.tar.gz").as_uri()
    with pytest.raises(VQLabError, match="by hand") as info:
        C.download_cifar10(tmp_path / "dest", url=missing)
    assert str(tmp_path / "dest" / C.BATCH_DIR) in str(info.value)
    assert list((tmp_path / "dest").iterdir()) == []
