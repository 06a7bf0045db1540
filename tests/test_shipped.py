"""Models shipped inside the package: they load by name, reproduce the test metrics on their cards, and the CLI
uses them when it is given images but no run directory."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import vqlab
from tests.conftest import run_cli
from vqlab import shipped
from vqlab.eval.metrics import evaluate_model

SUBSETS = Path(__file__).resolve().parent / "shipped"


def test_the_promised_models_are_shipped_small():
    assert {"photos", "colorize", "fashion"} <= set(shipped.names())
    total = sum(p.stat().st_size for p in shipped.SHIPPED_DIR.rglob("*") if p.is_file())
    assert total < 20e6


@pytest.mark.parametrize("name", shipped.names())
def test_shipped_model_reproduces_its_card(name):
    card = shipped.card(name)
    model = vqlab.load(name, device="cpu")
    assert model.task == card["task"] and model.step == card["step"]
    images = load_file(str(SUBSETS / f"{name}.safetensors"))["images"]
    assert images.shape[0] == card["subset_images"]
    metrics = evaluate_model(model.run.model, model.run.task, images, batch_size=64, device=torch.device("cpu"))
    for key, value in card["metrics"].items():
        assert metrics[key] == pytest.approx(value, rel=1e-3, abs=1e-4), key


def test_unknown_name_lists_the_shipped_models():
    with pytest.raises(vqlab.VQLabError, match="shipped"):
        vqlab.load("no-such-model")


def test_colorize_without_a_run_directory_uses_the_shipped_colorizer(tmp_path):
    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)).save(photo)
    out = tmp_path / "photo_colour.png"
    proc = run_cli("colorize", str(photo), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == (53, 37)
    proc = run_cli("reconstruct", "photos", str(photo), "-o", str(tmp_path / "r.png"))
    assert proc.returncode == 0, proc.stderr
    colour = vqlab.load("colorize", device="cpu").colorize(Image.open(photo))
    assert colour.size == (53, 37)


def test_colorize_chroma_scale_option(tmp_path):
    """--chroma-scale S: 0 gives the gray photo (the input's luma, no colour), the default is the shipped gain, and a
    value outside [0, 1] or on a reconstruct model is a one-line error."""
    rng = np.random.default_rng(1)
    photo = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 256, (24, 40, 3), dtype=np.uint8)).save(photo)
    outs = {}
    for scale in ("0", None, "1"):
        out = tmp_path / f"out_{scale}.png"
        proc = run_cli("colorize", str(photo), "-o", str(out), *(["--chroma-scale", scale] if scale else []))
        assert proc.returncode == 0, proc.stderr
        outs[scale] = np.asarray(Image.open(out).convert("RGB"), dtype=np.int16)
    gray = outs["0"]
    assert np.abs(gray[..., 0] - gray[..., 1]).max() <= 1 and np.abs(gray[..., 2] - gray[..., 1]).max() <= 1
    spread = {k: float(np.abs(v - v.mean(axis=2, keepdims=True)).mean()) for k, v in outs.items()}
    assert spread["0"] < spread[None] < spread["1"]  # the shipped gain lies between no colour and full colour
    assert 0 < shipped.card("colorize")["chroma_scale"] < 1
    for args in (("colorize", str(photo), "-o", str(tmp_path / "x.png"), "--chroma-scale", "1.5"),
                 ("reconstruct", str(photo), "-o", str(tmp_path / "y.png"), "--chroma-scale", "0.5")):
        proc = run_cli(*args)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "error:" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_models_command_lists_every_shipped_model():
    proc = run_cli("models")
    assert proc.returncode == 0, proc.stderr
    for name in shipped.names():
        assert f"{name}:" in proc.stdout and shipped.card(name)["command"] in proc.stdout
    whole = shipped.card("colorize")["whole_photos"]
    assert f"whole photos never seen: {whole['validation_mean_gain_db']:+.2f} dB over gray" in proc.stdout


def test_shipped_fashion_model_samples_and_mixes_without_the_data():
    model = vqlab.load("fashion", device="cpu")
    samples = model.sample(4, temperature=0.7, seed=3)
    assert len(samples) == 4 and all(im.size == (28, 28) for im in samples)
    again = model.sample(4, temperature=0.7, seed=3)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(samples, again))
    images = load_file(str(SUBSETS / "fashion.safetensors"))["images"]
    a, b = (Image.fromarray(images[i, 0].numpy()) for i in (0, 1))
    assert model.mix(a, b, mode="top-bottom").size == (28, 28)


def test_sample_command_takes_a_shipped_model_name(tmp_path):
    out = tmp_path / "samples.png"
    proc = run_cli("sample", "fashion", "-n", "4", "--seed", "1", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size[0] > 28


def test_encode_and_decode_take_a_shipped_model_name(tmp_path):
    rng = np.random.default_rng(0)
    picture = tmp_path / "pic.png"
    Image.fromarray(rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(picture)
    vqz = tmp_path / "pic.vqz"
    proc = run_cli("encode", "photos", str(picture), "-o", str(vqz))
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("decode", "photos", str(vqz), "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stderr
    decoded = np.asarray(Image.open(tmp_path / "out" / "image_000.png"))
    assert decoded.shape == (40, 56, 3)
    expected = np.asarray(vqlab.load("photos").decode(vqlab.load("photos").encode(picture), size=(56, 40)))
    assert np.abs(decoded.astype(int) - expected.astype(int)).max() <= 1


def test_a_local_folder_that_is_not_a_run_does_not_shadow_a_shipped_name(tmp_path, monkeypatch):
    # A study folder called "colorize" in the working directory: the shipped model is still found by its name,
    # while a local *run* directory of that name wins, and a local folder with any other name is used as given.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "colorize" / "runs").mkdir(parents=True)
    assert shipped.resolve("colorize") == shipped.path("colorize")
    assert vqlab.load("colorize", "cpu").task == "colorize"
    (tmp_path / "colorize" / "config.json").write_text("{}")
    assert shipped.resolve("colorize") == Path("colorize")
    (tmp_path / "other").mkdir()
    assert shipped.resolve("other") == Path("other")
