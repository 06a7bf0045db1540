"""The run directory records the data's channels and image size, so a run samples without its training data."""

from __future__ import annotations

import json

import pytest

from tests.fake_run import make_run
from vqlab.generate import latent_grid
from vqlab.train.run import load_run, read_config


def test_image_size_is_recorded_and_loaded(tmp_path) -> None:
    run = make_run(tmp_path / "r", image_size=(24, 32))
    saved = json.loads((run / "config.json").read_text())
    assert saved["channels"] == 3 and saved["image_size"] == [24, 32]
    cfg, channels = read_config(run)
    assert channels == 3 and cfg.data.image_size is None  # the recorded size is not the --image-size option
    loaded = load_run(run)
    assert loaded.image_size == (24, 32) and loaded.step == 7


def test_latent_grid_uses_the_recorded_size_without_loading_data(tmp_path, monkeypatch) -> None:
    def no_data(*args, **kwargs):
        raise AssertionError("the dataset must not be loaded")

    monkeypatch.setattr("vqlab.data.load_dataset", no_data)
    assert latent_grid(load_run(make_run(tmp_path / "r", image_size=(24, 32)))) == (6, 8)


def test_old_runs_without_an_image_size_fall_back_to_the_dataset(tmp_path, monkeypatch) -> None:
    class Data:
        image_size = (20, 20)

    calls = []
    monkeypatch.setattr("vqlab.data.load_dataset", lambda *a, **k: calls.append(a) or Data())
    run = load_run(make_run(tmp_path / "old", image_size=None))
    assert run.image_size is None
    assert latent_grid(run) == (5, 5) and calls


@pytest.mark.parametrize("value", [[0, 8], [8], "32", None])
def test_a_malformed_recorded_size_is_ignored(tmp_path, value) -> None:
    run = make_run(tmp_path / "r")
    saved = json.loads((run / "config.json").read_text())
    saved["image_size"] = value
    (run / "config.json").write_text(json.dumps(saved))
    assert load_run(run).image_size is None
