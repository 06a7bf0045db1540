"""Integration: train a tiny VQ-VAE (K=13, not a power of two), its prior, then sample, mix, encode, decode."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file

from tests.conftest import TINY, run_cli
from vqlab.codec import read_vqz
from vqlab.compression import decode_file, encode_files, image_codes, load_images
from vqlab.errors import VQLabError
from vqlab.generate import mix_images, sample_images
from vqlab.train.prior import load_prior, run_fingerprint
from vqlab.train.run import load_run


def _assert_user_error(proc, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], proc.stderr


@pytest.fixture(scope="module")
def run_with_prior(image_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("gen") / "vq"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *TINY, "-K", "13", "--steps",
                   "30", "--log-every", "10", "--eval-every", "30", "--checkpoint-every", "30", "--lr", "2e-3")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("prior", str(run), "--steps", "150", "--dim", "16", "--layers", "2", "--batch-size", "16",
                   "--lr", "3e-3", "--json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    return run, json.loads(proc.stdout)


def test_prior_is_stored_and_beats_the_uniform_prior(run_with_prior) -> None:
    run, result = run_with_prior
    assert (run / "prior" / "model.safetensors").is_file() and (run / "prior" / "config.json").is_file()
    assert list((run / "prior").glob("codes_*_train.npy"))
    assert result["prior_nll_bits_per_latent"] < result["uniform_bits_per_latent"] == pytest.approx(np.log2(13))
    assert result["bits_per_dim_prior"] < result["bits_per_dim_uniform"]
    assert result["recon_bits_per_dim"] + result["uniform_rate_bits_per_dim"] == pytest.approx(
        result["bits_per_dim_uniform"])


def test_sampling_and_mixing(run_with_prior, image_folder: Path, tmp_path: Path) -> None:
    run = load_run(run_with_prior[0])
    a = sample_images(run, 3, seed=7)
    assert a.shape == (3, 3, 32, 32)  # the folder dataset is resized to 32x32
    assert np.array_equal(a.numpy(), sample_images(run, 3, seed=7).numpy())
    assert not np.array_equal(a.numpy(), sample_images(run, 3, seed=8).numpy())
    grid = mix_images(run, image_folder / "img_000.png", image_folder / "img_001.png", "left-right")
    assert grid.shape == (2 * (16 * 8 + 2) + 2, 3 * (16 * 8 + 2) + 2, 3)
    interp = mix_images(run, image_folder / "img_000.png", image_folder / "img_001.png", "interpolate", steps=4)
    assert interp.shape[1] == 6 * (16 * 8 + 2) + 2


def test_encode_decode_round_trip_through_the_cli(run_with_prior, image_folder: Path, tmp_path: Path) -> None:
    run_dir = run_with_prior[0]
    paths = [image_folder / "img_002.png", image_folder / "img_003.png"]
    odd = tmp_path / "odd.png"  # a size that is not a multiple of 4
    Image.open(paths[0]).crop((0, 0, 13, 10)).save(odd)
    paths.append(odd)
    coded = tmp_path / "a.vqz"
    proc = run_cli("encode", str(run_dir), *map(str, paths), "-o", str(coded), "--entropy", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["coding"] == "prior" and report["file_bytes"] == coded.stat().st_size
    assert report["png_bytes"] > 0 and report["bpp"] > 0
    out = tmp_path / "decoded"
    proc = run_cli("decode", str(run_dir), str(coded), "-o", str(out))
    assert proc.returncode == 0, proc.stderr

    run = load_run(run_dir)
    fp = run_fingerprint(run)
    packed = tmp_path / "p.vqz"
    rep = encode_files(run, paths, packed)
    assert rep["coding"] == "packed"
    back = read_vqz(packed.read_bytes(), model_fingerprint=fp, num_embeddings=13)
    for arr, codes, size in zip(load_images(run, paths), back.maps, back.sizes):
        assert np.array_equal(codes, image_codes(run, arr)) and size == arr.shape[:2]
    again = decode_file(run, packed, tmp_path / "decoded_packed")
    for i, p in enumerate(again):
        assert np.array_equal(np.asarray(Image.open(p)), np.asarray(Image.open(out / f"image_{i:03d}.png")))
    assert np.asarray(Image.open(out / "image_002.png")).shape == (10, 13, 3)

    (tmp_path / "t.vqz").write_bytes(coded.read_bytes()[:-9])
    with pytest.raises(VQLabError, match="truncated"):
        decode_file(run, tmp_path / "t.vqz", tmp_path / "x")

    # Another model (one weight changed): decoding is refused, and so is the copied prior.
    other = tmp_path / "other"
    shutil.copytree(run_dir, other)
    ckpt = next((other / "checkpoints").glob("step_*"))
    weights = load_file(str(ckpt / "model.safetensors"))
    name = next(k for k in weights if k.endswith("weight") and weights[k].is_floating_point())
    weights[name] = weights[name] + 1e-3
    save_file(weights, str(ckpt / "model.safetensors"))
    _assert_user_error(run_cli("decode", str(other), str(packed), "-o", str(tmp_path / "y")), "different model")
    with pytest.raises(VQLabError, match="other VQ-VAE weights"):
        load_prior(load_run(other))


def test_vqz_names_the_loaded_weights_even_when_a_newer_checkpoint_appears(image_folder: Path, tmp_path: Path) -> None:
    import torch

    from tests.train.test_run import tiny_run
    from vqlab.train.checkpoint import fingerprint, save_checkpoint

    run_dir = tmp_path / "run"
    _, model, opt, first = tiny_run(run_dir)
    run = load_run(run_dir)
    with torch.no_grad():  # meanwhile the training process writes a newer checkpoint
        next(model.parameters()).add_(1.0)
    save_checkpoint(run_dir, 2, model, opt, {})
    out = tmp_path / "a.vqz"
    encode_files(run, [image_folder / "img_000.png"], out)
    assert read_vqz(out.read_bytes()).model_fingerprint == fingerprint(first)
    decode_file(run, out, tmp_path / "decoded")  # the same loaded run reads it back
    with pytest.raises(VQLabError, match="different model"):  # the newer weights refuse it
        decode_file(load_run(run_dir), out, tmp_path / "decoded2")


def test_sample_and_mix_write_the_format_of_the_output_extension(run_with_prior, image_folder: Path,
                                                                  tmp_path: Path) -> None:
    run = str(run_with_prior[0])
    a, b = str(image_folder / "img_000.png"), str(image_folder / "img_001.png")
    for args, name, fmt in ((["sample", run, "-n", "2"], "s.jpg", "JPEG"), (["mix", run, a, b], "m.bmp", "BMP")):
        proc = run_cli(*args, "-o", str(tmp_path / name))
        assert proc.returncode == 0, proc.stderr
        with Image.open(tmp_path / name) as im:
            assert im.format == fmt and im.mode == "RGB"
    for args, name in ((["sample", run, "-n", "2"], "s.xyz"), (["mix", run, a, b], "no_extension")):
        _assert_user_error(run_cli(*args, "-o", str(tmp_path / name)), "image format")
        assert not (tmp_path / name).exists()


def test_entropy_freq_without_a_prior_says_what_it_needs(image_folder: Path, tmp_path: Path) -> None:
    from tests.train.test_run import tiny_run

    tiny_run(tmp_path / "run")
    out = tmp_path / "a.vqz"
    proc = run_cli("encode", str(tmp_path / "run"), str(image_folder / "img_000.png"), "-o", str(out), "--entropy",
                   "freq")
    _assert_user_error(proc, f"vqlab prior {tmp_path / 'run'}")
    assert "histogram" in proc.stderr and not out.exists()


def test_context_model_and_context_coding_through_the_cli(run_with_prior, image_folder: Path, tmp_path: Path) -> None:
    run_dir = run_with_prior[0]
    proc = run_cli("context-model", str(run_dir), "--steps", "80", "--hidden", "32", "--embed-dim", "8",
                   "--batch-size", "128", "--json", "--no-progress")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["nll_bits_per_code"] < result["uniform_bits_per_code"] == pytest.approx(np.log2(13))
    assert (run_dir / "context" / "model.safetensors").is_file() and (run_dir / "context" / "config.json").is_file()
    paths = [image_folder / "img_004.png", image_folder / "img_005.png"]
    big = tmp_path / "big.png"  # a larger picture than the 16x16 training images
    Image.fromarray(np.tile(np.asarray(Image.open(paths[0])), (5, 3, 1))).save(big)
    paths.append(big)
    coded = tmp_path / "c.vqz"
    proc = run_cli("encode", str(run_dir), *map(str, paths), "-o", str(coded), "--entropy", "context", "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["coding"] == "context" and report["file_bytes"] == coded.stat().st_size
    proc = run_cli("decode", str(run_dir), str(coded), "-o", str(tmp_path / "dc"))
    assert proc.returncode == 0, proc.stderr
    run = load_run(run_dir)
    encode_files(run, paths, tmp_path / "p.vqz")  # bit-packed: the same codes
    decode_file(run, tmp_path / "p.vqz", tmp_path / "dp")
    for i in range(3):
        a, b = (np.asarray(Image.open(tmp_path / d / f"image_{i:03d}.png")) for d in ("dc", "dp"))
        assert np.array_equal(a, b)
    assert np.asarray(Image.open(tmp_path / "dc" / "image_002.png")).shape == (80, 48, 3)
    proc = run_cli("context-model", str(run_dir), "--radius", "0")
    _assert_user_error(proc, "--radius")
    data = bytearray(coded.read_bytes())
    (tmp_path / "t.vqz").write_bytes(bytes(data[:-7]))
    _assert_user_error(run_cli("decode", str(run_dir), str(tmp_path / "t.vqz"), "-o", str(tmp_path / "x")),
                       "truncated")
