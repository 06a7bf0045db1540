"""experiments/ship_models.py: the colorizer's card summarises the colorize study's whole-photo measurement."""

import json

import pytest

from tests.experiments.conftest import experiment


def _ship():
    return experiment("ship_models")


def _photo(name: str, split: str, gain: float, colour: float, target: float) -> dict:
    return {"photo": name, "split": split, "gain": gain, "colorfulness": colour, "colorfulness_target": target}


def test_whole_photo_card_summarises_one_variant(tmp_path):
    measured = tmp_path / "photos.json"
    measured.write_text(json.dumps({"best": {"step": 5500}, "variants": {
        "trained": {"photos": [_photo("a", "val", 9.0, 1, 1)]},
        "shrink": {"photos": [_photo("a", "val", 1.0, 10, 20), _photo("b", "val", -2.0, 5, 30),
                              _photo("c", "test", 3.0, 1, 2)]}}}))
    card = _ship().whole_photo_card(measured, "shrink")["whole_photos"]
    assert card["validation_mean_gain_db"] == -0.5 and card["test_mean_gain_db"] == 3.0
    assert card["worst_photo"] == {"photo": "b", "gain_db": -2.0}
    assert card["colourfulness_share"] == 0.3  # (10 + 5) / (20 + 30), validation photos only
    assert card["gain_db_per_photo"] == {"a": 1.0, "b": -2.0, "c": 3.0}
    assert card["checkpoint"].startswith("best (step 5500") and card["validation_photos"] == 2
    with pytest.raises(SystemExit, match="has no variant 'T=1'"):
        _ship().whole_photo_card(measured, "T=1")
