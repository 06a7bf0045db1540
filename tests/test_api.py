"""vqlab.load -> Model: every method and input kind on tiny untrained runs (shapes, sizes, types, errors)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import vqlab
from tests.fake_run import make_run
from vqlab.errors import VQLabError
from vqlab.train.device import default_device


def _photo(w: int = 23, h: int = 13, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, vqlab.Model]:
    root = tmp_path_factory.mktemp("api-runs")
    return {
        "vq": vqlab.load(make_run(root / "vq")),
        "vae": vqlab.load(make_run(root / "vae", model="vae", image_size=(16, 24))),
        "vimco": vqlab.load(make_run(root / "vimco", model="vimco")),
        "color": vqlab.load(make_run(root / "color", task="colorize")),
        "gray": vqlab.load(make_run(root / "gray", channels=1)),
    }


def test_load_and_attributes(runs, tmp_path) -> None:
    m = runs["vq"]
    assert isinstance(m, vqlab.Model) and vqlab.load is vqlab.api.load
    assert m.task == "reconstruct" and m.step == 7 and m.device == default_device()
    assert m.config.model.num_embeddings == 13 and m.discrete and not runs["vae"].discrete
    assert isinstance(m.module, torch.nn.Module) and m.run_dir.name == "vq" and "vqvae" in repr(m)
    assert runs["color"].task == "colorize"
    assert vqlab.load(str(m.run_dir), device="cpu").device == torch.device("cpu")
    assert vqlab.load(m.run_dir, device=torch.device("cpu")).device.type == "cpu"


def test_load_errors(runs, tmp_path) -> None:
    with pytest.raises(VQLabError, match="does not exist"):
        vqlab.load(tmp_path / "nothing")
    with pytest.raises(VQLabError, match="not a vqlab run"):
        vqlab.load(tmp_path)
    with pytest.raises(VQLabError, match="device"):
        vqlab.load(runs["vq"].run_dir, device="tpu-ish")
    with pytest.raises(VQLabError, match="run directory"):
        vqlab.load(42)
    if not torch.cuda.is_available():
        with pytest.raises(VQLabError, match="CUDA"):
            vqlab.load(runs["vq"].run_dir, device="cuda")


def test_every_input_kind_encodes_alike(runs, tmp_path) -> None:
    m, photo = runs["vq"], _photo()
    photo.save(tmp_path / "p.png")
    arr = np.array(photo)
    kinds = [photo, arr, tmp_path / "p.png", str(tmp_path / "p.png"), torch.from_numpy(arr).permute(2, 0, 1)]
    codes = [m.encode(k) for k in kinds]
    for c in codes:
        assert isinstance(c, np.ndarray) and c.dtype == np.int64 and c.shape == (4, 6)  # ceil(13/4), ceil(23/4)
        assert np.array_equal(c, codes[0])
    batch = m.encode([photo, _photo(8, 8, 1)])
    assert isinstance(batch, list) and [c.shape for c in batch] == [(4, 6), (2, 2)]
    assert np.array_equal(batch[0], codes[0])


@pytest.mark.parametrize("name", ["vq", "vimco", "vae"])
def test_decode_takes_back_what_encode_gives(runs, name) -> None:
    m, photo = runs[name], _photo()
    z = m.encode(photo)
    assert z.shape == ((4, 6) if m.discrete else (4, 4, 6))  # the VAE: posterior mean (D, h, w)
    assert z.dtype == (np.int64 if m.discrete else np.float32)
    out = m.decode(z)
    assert isinstance(out, Image.Image) and out.mode == "RGB" and out.size == (24, 16)
    assert m.decode(z, size=photo.size).size == photo.size
    assert m.decode(torch.from_numpy(z)).size == (24, 16)
    two = m.decode([z, m.encode(_photo(40, 8))])
    assert [im.size for im in two] == [(24, 16), (40, 8)]
    stacked = m.decode(np.stack([z, z]))
    assert isinstance(stacked, list) and len(stacked) == 2 and stacked[0].tobytes() == out.tobytes()


def test_decode_of_an_encoding_matches_reconstruct(runs) -> None:
    m, photo = runs["vq"], _photo()
    a = np.asarray(m.decode(m.encode(photo), size=photo.size), dtype=np.int16)
    b = np.asarray(m.reconstruct(photo), dtype=np.int16)
    assert np.abs(a - b).max() <= 1


def test_decode_rejects_bad_codes(runs) -> None:
    m = runs["vq"]
    with pytest.raises(VQLabError, match="0..12"):
        m.decode(np.full((2, 2), 13))
    with pytest.raises(VQLabError, match="integer code map"):
        m.decode(np.zeros((2, 2), dtype=np.float32))
    with pytest.raises(VQLabError, match="code map"):
        m.decode(np.zeros(5, dtype=np.int64))
    with pytest.raises(VQLabError, match="D=4"):
        runs["vae"].decode(np.zeros((3, 2, 2), dtype=np.float32))
    with pytest.raises(VQLabError, match="numeric"):
        m.decode("codes")
    with pytest.raises(VQLabError, match="colour"):  # a ycbcr colorize run needs the gray input to show colour
        runs["color"].decode(runs["color"].encode(_photo()))


@pytest.mark.parametrize("size", [(23, 13), (1, 1), (32, 32), (5, 40)])
def test_reconstruct_keeps_the_input_size(runs, size) -> None:
    out = runs["vq"].reconstruct(_photo(*size))
    assert isinstance(out, Image.Image) and out.size == size and out.mode == "RGB"


def test_reconstruct_lists_and_channels(runs) -> None:
    outs = runs["vq"].reconstruct([_photo(), np.zeros((9, 7), dtype=np.uint8)])
    assert [o.size for o in outs] == [(23, 13), (7, 9)]
    gray = runs["gray"].reconstruct(_photo())  # a 1-channel run reads colour input as its luminance
    r, g, b = gray.split()
    assert gray.size == (23, 13) and r.tobytes() == g.tobytes() == b.tobytes()


@pytest.mark.parametrize("size", [(31, 17), (8, 8), (3, 50)])
def test_colorize_returns_the_input_size(runs, size) -> None:
    m = runs["color"]
    gray = _photo(*size).convert("L")
    out = m.colorize(gray)
    assert isinstance(out, Image.Image) and out.size == size and out.mode == "RGB"
    # the default colour space keeps the input's luma (up to rounding and clipping)
    luma = np.asarray(out.convert("L"), dtype=np.int16)
    assert np.median(np.abs(luma - np.asarray(gray, dtype=np.int16))) <= 1
    assert [o.size for o in m.colorize([gray, _photo()])] == [size, (23, 13)]


def test_wrong_task_is_a_clear_error(runs) -> None:
    with pytest.raises(VQLabError, match="reconstruct task"):
        runs["vq"].colorize(_photo())
    with pytest.raises(VQLabError, match="colorize task"):
        runs["color"].reconstruct(_photo())
    for call in (lambda m: m.sample(2), lambda m: m.mix(_photo(), _photo(1, 1))):
        with pytest.raises(VQLabError, match="reconstruct task"):
            call(runs["color"])


def test_sampling_a_vqvae_needs_a_prior(runs) -> None:
    with pytest.raises(VQLabError, match="no PixelCNN prior.*vqlab prior"):
        runs["vq"].sample(2)


@pytest.mark.parametrize("name", ["vae", "vimco"])
def test_sample_is_reproducible_and_has_the_training_size(runs, name, monkeypatch) -> None:
    monkeypatch.setattr("vqlab.data.load_dataset", lambda *a, **k: pytest.fail("sampling must not load data"))
    m = runs[name]
    a = m.sample(3, seed=1)
    assert isinstance(a, list) and len(a) == 3 and all(isinstance(im, Image.Image) for im in a)
    assert a[0].size == ((24, 16) if name == "vae" else (16, 16))  # recorded (H, W) = (16, 24) for the VAE run
    assert [im.tobytes() for im in a] == [im.tobytes() for im in m.sample(3, seed=1)]
    assert a[0].tobytes() != m.sample(3, seed=2)[0].tobytes()
    assert len(m.sample(1, temperature=0.5)) == 1
    with pytest.raises(VQLabError, match="temperature"):
        m.sample(2, temperature=0)
    with pytest.raises(VQLabError, match="n"):
        m.sample(0)
    with pytest.raises(VQLabError, match="integer"):
        m.sample(2.5)


@pytest.mark.parametrize("name", ["vq", "vae", "vimco"])
def test_mix_modes(runs, name, tmp_path) -> None:
    m, a, b = runs[name], _photo(), _photo(40, 30, 1)
    for mode in ("left-right", "top-bottom", "checker"):
        out = m.mix(a, b, mode=mode)
        assert isinstance(out, Image.Image) and out.size == a.size  # B is resized to A's size
    path = tmp_path / "mask.png"
    Image.new("L", (10, 10), 255).save(path)
    all_a = m.mix(a, b, mode=f"mask:{path}")
    assert all_a.tobytes() == m.mix(a, a, mode=f"mask:{path}").tobytes()
    steps = m.mix(a, b, mode="interpolate", steps=3)
    assert isinstance(steps, list) and [s.size for s in steps] == [a.size] * 3
    pairs = m.mix([a, b], [b, a])
    assert [p.size for p in pairs] == [a.size, b.size]


def test_mix_errors(runs) -> None:
    m = runs["vq"]
    with pytest.raises(VQLabError, match="unknown mix mode"):
        m.mix(_photo(), _photo(), mode="diagonal")
    with pytest.raises(VQLabError, match="steps"):
        m.mix(_photo(), _photo(), mode="interpolate", steps=1)
    with pytest.raises(VQLabError, match="equal length"):
        m.mix([_photo()], [_photo(), _photo()])
    with pytest.raises(VQLabError, match="equal length"):
        m.mix(_photo(), [_photo()])


def test_bad_images_are_user_errors(runs, tmp_path) -> None:
    m = runs["vq"]
    with pytest.raises(VQLabError, match="not found"):
        m.reconstruct(tmp_path / "missing.png")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    with pytest.raises(VQLabError, match="junk.png"):
        m.encode([_photo(), tmp_path / "junk.png"])
    with pytest.raises(VQLabError, match="uint8"):
        m.reconstruct(np.zeros((8, 8, 3), dtype=np.float64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_device(runs) -> None:
    m = vqlab.load(runs["vq"].run_dir, device="cuda")
    assert m.device.type == "cuda" and vqlab.load(runs["vq"].run_dir).device.type == "cuda"
    photo = _photo()
    assert np.array_equal(m.encode(photo), runs["vq"].encode(photo)) or m.config.train.precision != "fp32"
    assert m.reconstruct(photo).size == photo.size and m.decode(m.encode(photo)).size == (24, 16)
