"""eval/samples.py: image files in the format their extension names."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vqlab.errors import VQLabError
from vqlab.eval.samples import image_format, save_image


@pytest.mark.parametrize("name,fmt", [("a.png", "PNG"), ("a.JPG", "JPEG"), ("a.jpeg", "JPEG"), ("a.bmp", "BMP"),
                                      ("a.tiff", "TIFF")])
def test_the_extension_sets_the_format(tmp_path, name, fmt):
    assert image_format(tmp_path / name) == fmt
    arr = np.zeros((6, 5, 3), dtype=np.uint8)
    arr[..., 0] = 200
    save_image(tmp_path / name, arr)
    with Image.open(tmp_path / name) as im:
        assert im.format == fmt and im.size == (5, 6)
    save_image(tmp_path / name, torch.ones(3, 4, 4))  # a float tensor in [0, 1] works too


@pytest.mark.parametrize("name", ["a.xyz", "noext", "a."])
def test_unknown_extensions_are_user_errors(tmp_path, name):
    with pytest.raises(VQLabError, match="image format"):
        save_image(tmp_path / name, np.zeros((4, 4, 3), dtype=np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_a_format_that_cannot_hold_colour_is_a_user_error_and_leaves_no_file(tmp_path):
    with pytest.raises(VQLabError, match="cannot write"):
        save_image(tmp_path / "a.xbm", np.zeros((4, 4, 3), dtype=np.uint8))  # XBM is 1-bit only
    assert list(tmp_path.iterdir()) == []
