"""The photo catalogue: its invariants (no file access) and Source/Photo on small generated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqlab.data import corpus as C


def test_catalogue_names_unique() -> None:
    names = [p.name for p in C.CATALOGUE]
    assert len(names) == len(set(names))


def test_catalogue_keeps_old_photos_and_no_reserved_collection() -> None:
    from vqlab.data import photos as P

    names = {p.name for p in C.CATALOGUE}
    assert set(P.PHOTOS) <= names  # every photo of the `photos` recipe is in the wide corpus
    for source in C.SOURCES:
        text = f"{source.package} {source.root}".lower()
        assert "opencv" not in text and "cv2" not in text and "foolbox" not in text
    assert {p.source for p in C.CATALOGUE} == set(C.SOURCES)


def test_debian_style_source_and_box_and_shrink(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(rng.integers(0, 256, (40, 60, 4), dtype=np.uint8), mode="RGBA").save(tmp_path / "rgba.png")
    src = C.Source("fake", "debian", str(tmp_path), "CC0")
    photo = C.Photo("x", src, "a.png")
    assert photo.file() == tmp_path / "a.png"
    full = photo.load()
    assert full.shape == (40, 60, 3) and full.dtype == np.uint8
    np.testing.assert_array_equal(C.Photo("b", src, "a.png", box=(10, 5, 30, 25)).load(), full[5:25, 10:30])
    assert photo.load(max_side=30).shape == (20, 30, 3)
    assert photo.load(max_side=100).shape == (40, 60, 3)
    assert C.Photo("r", src, "rgba.png").load().shape == (40, 60, 3)  # alpha composited away
    assert photo.original_size() == (60, 40) and C.Photo("b", src, "a.png", box=(1, 2, 5, 9)).original_size() == (4, 7)
    assert C.Photo("m", src, "missing.png").file() is None and C.Photo("m", src, "missing.png").original_size() is None
    gone = C.Source("gone", "debian", str(tmp_path / "nowhere"), "CC0")
    assert gone.folder() is None and C.Photo("g", gone, "a.png").file() is None
    with pytest.raises(FileNotFoundError, match="gone"):
        C.Photo("g", gone, "a.png").load()


def test_python_style_source_is_found_without_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "vqlab_fake_pkg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    Image.new("RGB", (8, 8), (1, 2, 3)).save(pkg / "data" / "p.png")
    monkeypatch.syspath_prepend(str(tmp_path))
    src = C.Source("vqlab-fake-pkg", "pypi", "python:vqlab_fake_pkg/data", "MIT")
    assert src.folder() == pkg / "data"
    assert C.Photo("p", src, "p.png").load()[0, 0].tolist() == [1, 2, 3]
    assert C.Source("nope", "pypi", "python:vqlab_no_such_module/data", "MIT").folder() is None
    assert C.package_version(C.Source("vqlab-no-such-dist", "pypi", "python:x", "MIT")) is None
    assert C.package_version(C.Source("vqlab-no-such-deb", "debian", "/nowhere", "MIT")) is None
