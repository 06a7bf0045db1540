"""``vqlab encode`` / ``decode`` with runs of every downsampling factor and every entropy coding, rate folders
(--quality, --target-bpp) and the context model's storage. Tiny untrained runs (tests/fake_run.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from tests.conftest import run_cli
from tests.fake_run import make_run
from vqlab.codec import read_vqz
from vqlab.compression import decode_file, decode_maps, encode_files, entropy_model, image_codes, load_images
from vqlab.errors import VQLabError
from vqlab.models.pixelcnn import GatedPixelCNN
from vqlab.train.context import ContextConfig, load_context, train_context
from vqlab.train.prior import PriorConfig, _save_prior
from vqlab.train.run import load_run, run_fingerprint

FACTORS = (2, 4, 8, 16)
SIZES = ((64, 64), (37, 50), (20, 20))  # (height, width)


def _add_entropy_models(run_dir: Path) -> None:
    """An untrained PixelCNN prior with a code histogram, and a context model trained for a few steps."""
    run = load_run(run_dir)
    torch.manual_seed(1)
    counts = torch.arange(1, 14)
    _save_prior(run, GatedPixelCNN(13, 8, 1, 3), counts, PriorConfig(dim=8, layers=1), 0, (8, 8))
    maps = [np.random.default_rng(0).integers(0, 13, (6, 9))]
    train_context(run, maps, maps, ContextConfig(steps=3, hidden=8, embed_dim=4, batch_size=32), progress=False)


@pytest.fixture(scope="module")
def rate_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rates") / "codec"
    for f in FACTORS:
        _add_entropy_models(make_run(root / f"f{f}", downsample=f, image_size=(32, 32)))
    return root


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    paths = []
    for n, (h, w) in enumerate(SIZES):
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.stack([xx * 255 / w, yy * 255 / h, 128 + 60 * np.sin(xx / 5.0)], axis=-1)
        img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
        paths.append(folder / f"p{n}.png")
        Image.fromarray(img).save(paths[-1])
    return paths


@pytest.mark.parametrize("f", FACTORS)
@pytest.mark.parametrize("coding", [None, "freq", "prior", "context"])
def test_round_trip_for_every_factor_and_entropy_coding(rate_folder: Path, photos: list[Path], tmp_path: Path,
                                                        f: int, coding: str | None) -> None:
    run = load_run(rate_folder / f"f{f}")
    out = tmp_path / "a.vqz"
    report = encode_files(run, photos, out, coding)
    assert report["coding"] == (coding or "packed") and report["downsample"] == f
    assert report["codes"] == sum(-(-h // f) * -(-w // f) for h, w in SIZES)
    model = entropy_model(run, coding) if coding else None
    back = read_vqz(out.read_bytes(), model_fingerprint=run_fingerprint(run), downsample=f,
                    entropy_model=lambda c: model)
    originals = load_images(run, photos)
    assert all(np.array_equal(a, image_codes(run, b)) for a, b in zip(back.maps, originals))
    assert back.sizes == list(SIZES)
    written = decode_file(run, out, tmp_path / "decoded")
    for path, want in zip(written, decode_maps(run, back)):
        assert np.array_equal(np.asarray(Image.open(path)), want)


def test_a_downsample_8_model_maps_64x64_to_8x8(rate_folder: Path) -> None:
    run = load_run(rate_folder / "f8")
    assert image_codes(run, np.zeros((64, 64, 3), dtype=np.uint8)).shape == (8, 8)
    assert image_codes(run, np.zeros((65, 57, 3), dtype=np.uint8)).shape == (9, 8)


def test_a_file_of_another_factor_is_refused_naming_both(rate_folder: Path, photos: list[Path],
                                                         tmp_path: Path) -> None:
    encode_files(load_run(rate_folder / "f8"), photos[:1], tmp_path / "a.vqz")
    with pytest.raises(VQLabError, match="downsamples by 8; the run's model downsamples by 4"):
        decode_file(load_run(rate_folder / "f4"), tmp_path / "a.vqz", tmp_path / "x")


def _change_weights(run_dir: Path) -> Path:
    """Other weights in the same run directory (one weight tensor shifted)."""
    ckpt = next((run_dir / "checkpoints").glob("step_*"))
    weights = load_file(str(ckpt / "model.safetensors"))
    name = next(k for k in weights if k.endswith("weight") and weights[k].is_floating_point())
    save_file({**weights, name: weights[name] + 1e-3}, str(ckpt / "model.safetensors"))
    return run_dir


def _user_error(proc, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr


def test_rate_folder_quality_and_target_bpp_through_the_cli(rate_folder: Path, photos: list[Path],
                                                            tmp_path: Path) -> None:
    imgs = [str(p) for p in photos]
    out = tmp_path / "q1.vqz"
    proc = run_cli("encode", str(rate_folder), *imgs, "-o", str(out), "--quality", "1", "--entropy", "context",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout)
    assert r["downsample"] == 16 and r["quality"] == 1 and r["coding"] == "context"
    assert [p["downsample"] for p in r["rate_points"]] == [16, 8, 4, 2]  # lowest nominal rate first
    proc = run_cli("decode", str(rate_folder), str(out), "-o", str(tmp_path / "d1"))
    assert proc.returncode == 0 and "f16" in proc.stdout, proc.stderr
    assert np.asarray(Image.open(tmp_path / "d1" / "image_001.png")).shape == (37, 50, 3)

    proc = run_cli("encode", str(rate_folder), *imgs, "-o", str(tmp_path / "big.vqz"), "--target-bpp", "1000",
                   "--json")
    r = json.loads(proc.stdout)
    sizes = [p["bpp"] for p in r["rate_points"]]
    assert r["target_met"] and r["bpp"] == max(sizes) and r["downsample"] == 2
    middle = sorted(sizes)[1] + 1e-9  # between the second smallest and the next: that second smallest is chosen
    proc = run_cli("encode", str(rate_folder), *imgs, "-o", str(tmp_path / "mid.vqz"), "--target-bpp", str(middle),
                   "--json")
    r = json.loads(proc.stdout)
    assert r["target_met"] and r["bpp"] == pytest.approx(sorted(sizes)[1]) and r["bpp"] <= middle
    proc = run_cli("encode", str(rate_folder), *imgs, "-o", str(tmp_path / "tiny.vqz"), "--target-bpp", "0.0001")
    assert proc.returncode == 0 and "no rate point reaches 0.0001 bpp" in proc.stdout, proc.stderr
    assert "<- chosen" in proc.stdout

    _user_error(run_cli("encode", str(rate_folder), *imgs, "-o", str(tmp_path / "x.vqz")), "--quality 1..4")
    _user_error(run_cli("encode", str(rate_folder), *imgs, "-o", str(tmp_path / "x.vqz"), "--quality", "5"),
                "--quality must be 1..4")
    _user_error(run_cli("encode", str(rate_folder), *imgs, "-o", str(tmp_path / "x.vqz"), "--quality", "1",
                        "--target-bpp", "1"), "not allowed with")
    _user_error(run_cli("encode", str(rate_folder), *imgs, "-o", str(tmp_path / "x.vqz"), "--target-bpp", "-1"),
                "positive")
    assert not (tmp_path / "x.vqz").exists()
    stranger = _change_weights(make_run(tmp_path / "stranger"))
    encode_files(load_run(stranger), photos[:1], tmp_path / "s.vqz")
    _user_error(run_cli("decode", str(rate_folder), str(tmp_path / "s.vqz"), "-o", str(tmp_path / "d")),
                "none of the 4 runs")


def test_context_model_belongs_to_its_vqvae_weights(rate_folder: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    shutil.copytree(rate_folder / "f4", other)
    assert load_context(load_run(other)).config["downsample"] == 4
    _change_weights(other)
    with pytest.raises(VQLabError, match="other VQ-VAE weights"):
        load_context(load_run(other))
    (other / "context" / "model.safetensors").write_bytes(b"junk")
    with pytest.raises(VQLabError):
        load_context(load_run(other))


def test_prior_coding_of_a_large_code_map_points_to_the_context_model(rate_folder: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.fromarray(np.full((70, 70, 3), 120, dtype=np.uint8)).save(big)  # 35x35 codes at F=2
    with pytest.raises(VQLabError, match="--entropy context"):
        encode_files(load_run(rate_folder / "f2"), [big], tmp_path / "a.vqz", "prior")
    assert not (tmp_path / "a.vqz").exists()
