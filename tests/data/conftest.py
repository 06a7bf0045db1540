"""Shared fixtures for the data tests: a private cache folder and one full photos build per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from vqlab.data.base import ImageDataset


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real ~/.cache during tests."""
    monkeypatch.setenv("VQLAB_CACHE", str(tmp_path_factory.getbasetemp() / "default-cache"))


@pytest.fixture(scope="session")
def photos_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder in which the full photos dataset (32x32) has been built once."""
    from vqlab.data.photos import load_photos

    folder = tmp_path_factory.mktemp("photos-cache")
    load_photos(cache_dir=folder)
    return folder


@pytest.fixture(scope="session")
def photos(photos_cache: Path) -> ImageDataset:
    """The full photos dataset, loaded from the session cache."""
    from vqlab.data.photos import load_photos

    return load_photos(cache_dir=photos_cache)
