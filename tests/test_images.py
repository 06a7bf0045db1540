"""The one image loader: every input kind to the same uint8 pixels, padding to a multiple and cropping back."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vqlab.errors import VQLabError
from vqlab.images import crop, output_format, pad_to_multiple, save_image, tensor_to_pil, to_pil, to_uint8_tensor


def _rgb(h: int = 5, w: int = 7) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_every_input_kind_gives_the_same_pixels(tmp_path) -> None:
    arr = _rgb()
    Image.fromarray(arr).save(tmp_path / "a.png")
    expected = torch.from_numpy(arr).permute(2, 0, 1)
    kinds = [tmp_path / "a.png", str(tmp_path / "a.png"), Image.fromarray(arr), arr, expected]
    for kind in kinds:
        t = to_uint8_tensor(kind, 3)
        assert t.dtype == torch.uint8 and torch.equal(t, expected), type(kind)


def test_gray_and_alpha_inputs() -> None:
    gray = np.arange(35, dtype=np.uint8).reshape(5, 7)
    assert torch.equal(to_uint8_tensor(gray, 1)[0], torch.from_numpy(gray))
    assert torch.equal(to_uint8_tensor(gray[:, :, None], 3), torch.from_numpy(gray).expand(3, -1, -1))
    assert torch.equal(to_uint8_tensor(torch.from_numpy(gray), 1)[0], torch.from_numpy(gray))
    rgba = np.zeros((2, 2, 4), dtype=np.uint8)  # fully transparent: white
    assert (to_uint8_tensor(rgba, 3) == 255).all()
    # 1 channel is Rec. 601 luma, exactly what PIL's convert("L") gives for a file
    arr = _rgb()
    assert np.array_equal(to_uint8_tensor(arr, 1)[0].numpy(), np.asarray(Image.fromarray(arr).convert("L")))


@pytest.mark.parametrize("bad, needle", [
    (np.zeros((4, 4), dtype=np.float32), "uint8"),
    (np.zeros((4, 4, 2), dtype=np.uint8), "shape"),
    (np.zeros((4,), dtype=np.uint8), "shape"),
    (np.zeros((0, 4), dtype=np.uint8), "empty"),
    (torch.zeros(3, 4, 4), "uint8"),
    (42, "int"),
])
def test_bad_inputs_are_user_errors(bad, needle) -> None:
    with pytest.raises(VQLabError, match=needle):
        to_pil(bad)


def test_missing_and_corrupt_files(tmp_path) -> None:
    with pytest.raises(VQLabError, match="not found"):
        to_uint8_tensor(tmp_path / "none.png", 3)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    with pytest.raises(VQLabError, match="junk.png"):
        to_uint8_tensor(tmp_path / "junk.png", 3)


@pytest.mark.parametrize("h, w", [(1, 1), (3, 9), (8, 8), (13, 6)])
def test_pad_to_multiple_and_crop_back(h: int, w: int) -> None:
    x = torch.rand(2, 3, h, w)
    padded = pad_to_multiple(x, 4)
    assert padded.shape[-2] % 4 == 0 and padded.shape[-1] % 4 == 0
    assert padded.shape[-2] - h < 4 and padded.shape[-1] - w < 4
    assert torch.equal(crop(padded, (h, w)), x)
    if h == w == 8:
        assert padded is x


def test_save_image_round_trip_and_bad_extension(tmp_path) -> None:
    rgb = torch.rand(3, 6, 10)
    save_image(tmp_path / "sub" / "x.png", rgb)
    with Image.open(tmp_path / "sub" / "x.png") as im:
        assert im.size == (10, 6)
        assert np.array_equal(np.asarray(im), np.asarray(tensor_to_pil(rgb)))
    with pytest.raises(VQLabError, match="extension"):
        save_image(tmp_path / "x.unknown", rgb)
    assert output_format(tmp_path / "y.JPG") == "JPEG"


@pytest.mark.parametrize("name,fmt", [("a.png", "PNG"), ("a.JPG", "JPEG"), ("a.jpeg", "JPEG"), ("a.bmp", "BMP"),
                                      ("a.tiff", "TIFF")])
def test_the_extension_sets_the_format(tmp_path, name, fmt) -> None:
    assert output_format(tmp_path / name) == fmt
    save_image(tmp_path / name, torch.ones(3, 6, 5))
    with Image.open(tmp_path / name) as im:
        assert im.format == fmt and im.size == (5, 6)


@pytest.mark.parametrize("name,needle", [("a.xyz", "image format"), ("noext", "image format"),
                                         ("a.xbm", "cannot write")])  # XBM holds 1-bit images only
def test_unknown_or_unsuitable_formats_are_user_errors_and_leave_no_file(tmp_path, name, needle) -> None:
    with pytest.raises(VQLabError, match=needle):
        save_image(tmp_path / name, torch.ones(3, 4, 4))
    assert list(tmp_path.iterdir()) == []
