"""fileio: strict JSON text for --json output."""

from __future__ import annotations

import json
import math

import pytest

from vqlab.fileio import finite_json, strict_json


def test_non_finite_floats_become_null_at_any_depth():
    obj = {"a": math.nan, "b": [1.5, math.inf, {"c": -math.inf}], "d": (2, "x"), "e": None, "f": True}
    text = strict_json(obj)
    assert json.loads(text) == {"a": None, "b": [1.5, None, {"c": None}], "d": [2, "x"], "e": None, "f": True}
    for bad in ("NaN", "Infinity"):
        assert bad not in text
    assert finite_json(3) == 3 and finite_json("nan") == "nan"
    with pytest.raises(ValueError):
        json.dumps(obj, allow_nan=False)  # what strict_json saves the caller from
