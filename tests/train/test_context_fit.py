"""Training data and storage of the wavefront context model (vqlab.train.context)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.fake_run import make_run
from vqlab.data.photos import TEST_PHOTOS, TRAIN_PHOTOS
from vqlab.errors import VQLabError
from vqlab.models.context import WavefrontContextModel
from vqlab.train.context import ContextConfig, code_maps, load_context, train_context, training_pairs
from vqlab.train.run import load_run


def test_photos_runs_train_on_whole_photographs_at_two_scales_cached(tmp_path) -> None:
    run = load_run(make_run(tmp_path / "run"))  # dataset "photos"
    maps = code_maps(run, "train", 48)
    assert len(maps) == 2 * len(TRAIN_PHOTOS)
    full, half = maps[0], maps[1]  # chelsea, 451x300 shrunk to 48x32 and to 24x16
    assert full.shape == (8, 12) and half.shape == (4, 6)
    cached = list((tmp_path / "run" / "context").glob("maps_*_train.npz"))
    assert len(cached) == 1
    again = code_maps(run, "train", 48)
    assert all(np.array_equal(a, b) for a, b in zip(maps, again))
    assert len(code_maps(run, "test", 48)) == 2 * len(TEST_PHOTOS)
    code_maps(run, "train", 40)  # another size replaces the cache
    assert list((tmp_path / "run" / "context").glob("maps_*_train.npz")) != cached


def test_training_pairs_and_storage(tmp_path) -> None:
    run = load_run(make_run(tmp_path / "run"))
    rng = np.random.default_rng(0)
    maps = [np.repeat(rng.integers(0, 13, (12, 1)), 10, axis=1) for _ in range(4)]  # constant rows
    x, y = training_pairs(maps, WavefrontContextModel(13))
    assert x.shape == (480, 10) and y.shape == (480,)
    assert training_pairs(maps, WavefrontContextModel(13), limit=100)[0].shape == (100, 10)
    cfg = ContextConfig(steps=150, hidden=32, embed_dim=8, batch_size=256, lr=1e-2, log_every=50, dropout=0.0)
    result = train_context(run, maps, maps, cfg, progress=False)
    assert result["nll_bits_per_code"] < 0.5 * result["freq_bits_per_code"]  # rows are predictable from the left
    loaded = load_context(run)
    assert loaded.config["hidden"] == 32 and loaded.code_counts.sum() == 480
    rows = (tmp_path / "run" / "context" / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 4 and '"split": "test"' in rows[-1]


@pytest.mark.parametrize("bad", [{"radius": 0}, {"radius": 9}, {"hidden": 0}, {"lr": 0.0}, {"max_side": 8},
                                 {"max_minutes": -1.0}, {"steps": 1.5}, {"dropout": 1.0}])
def test_bad_options_are_user_errors(bad) -> None:
    with pytest.raises(VQLabError):
        ContextConfig(**bad).validate()
