"""Every quantizer through the real command line on tiny data: train, resume, evaluate, and the .vqz round trip
(residual VQ, whose N code maps per image the prior and the .vqz format do not hold, is refused clearly)."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY, run_cli
from vqlab import cli
from vqlab.codec import read_vqz
from vqlab.compression import image_codes, load_images
from vqlab.train import run as rundir
from vqlab.train.run import load_run

SETTINGS = {
    "vq-rotation-cosine": ["--quantizer", "vq", "--rotation-trick", "--cosine-codes"],
    "fsq": ["--quantizer", "fsq"],  # -K 32: auto levels 8,4
    "simvq": ["--quantizer", "simvq", "--rotation-trick"],
    "rvq": ["--quantizer", "rvq", "--num-codebooks", "3", "--rotation-trick"],
}
CODEBOOKS = {"rvq": 3}


def _rows(run: Path, split: str = "train") -> list[dict]:
    return [r for r in rundir.read_metrics(run) if r["split"] == split]


@pytest.fixture(scope="module", params=sorted(SETTINGS))
def trained(request, image_folder, tmp_path_factory) -> tuple[str, Path]:
    name = request.param
    run = tmp_path_factory.mktemp("quantizers") / name
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *TINY, *SETTINGS[name],
                   "--steps", "10", "--log-every", "1", "--eval-every", "10", "--checkpoint-every", "5",
                   "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert "test: mse=" in proc.stdout
    return name, run


def test_training_logs_finite_losses_and_perplexity(trained):
    name, run = trained
    rows = _rows(run)
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert all(math.isfinite(r["loss"]) and r["perplexity"] >= 1 for r in rows)
    config = json.loads((run / "config.json").read_text())
    if name == "fsq":
        assert config["quantizer"]["fsq_levels"] == "8,4" and config["model"]["num_embeddings"] == 32


def test_resume_from_a_checkpoint_reproduces_the_run(trained, tmp_path):
    name, run = trained
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    shutil.rmtree(broken / "checkpoints" / "step_00000010")
    (broken / "checkpoints" / "latest").write_text("step_00000005\n")
    assert cli.main(["train", "--out", str(broken), "--resume", "--no-progress"]) == 0
    a, b = _rows(run), _rows(broken)
    assert [r["step"] for r in b] == list(range(1, 11))
    for ra, rb in zip(a[5:], b[5:]):
        for key in ("loss", "recon_loss", "perplexity", "commitment_loss"):
            assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-9), (name, ra["step"], key)


def test_evaluate_reports_usage_perplexity_and_bits_per_dim(trained, capsys):
    name, run = trained
    assert cli.main(["evaluate", str(run), "--json"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    n = CODEBOOKS.get(name, 1)
    assert metrics["K"] == 32 and 0 < metrics["codebook_usage"] <= 1 and 1 <= metrics["perplexity"] <= 32
    assert 1 <= metrics["codes_used"] <= 32 * n
    final = _rows(run, "test")[-1]
    assert metrics["perplexity"] == pytest.approx(final["perplexity"], rel=1e-6)
    # uniform prior over the codes: n * log2(K) bits per latent position, 8x8 positions of a 32x32x3 image
    assert metrics["rate_bits_per_dim"] == pytest.approx(n * 64 * math.log2(32) / (32 * 32 * 3), rel=1e-6)
    assert math.isfinite(metrics["bits_per_dim"])
    if n > 1:
        for i in range(1, n + 1):
            assert 1 <= metrics[f"perplexity_cb{i}"] <= 32 and 0 < metrics[f"codebook_usage_cb{i}"] <= 1


def test_vqz_round_trip(trained, image_folder, tmp_path, capsys):
    name, run = trained
    paths = [image_folder / "img_004.png", image_folder / "img_005.png"]
    coded, out = tmp_path / "a.vqz", tmp_path / "decoded"
    if name == "rvq":
        for args in (["encode", str(run), *map(str, paths), "-o", str(coded)], ["prior", str(run), "--steps", "1"]):
            proc = run_cli(*args)
            assert proc.returncode == 2, proc.stderr
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "3 code maps per image" in lines[0] and "rvq" in lines[0], proc.stderr
        return
    assert cli.main(["encode", str(run), *map(str, paths), "-o", str(coded), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["K"] == 32 and report["file_bytes"] == coded.stat().st_size and report["codes"] == 2 * (16 // 4) ** 2
    loaded = load_run(run)
    vqz = read_vqz(coded.read_bytes())
    for image, codes in zip(load_images(loaded, paths), vqz.maps):
        assert np.array_equal(codes, image_codes(loaded, image))
    assert cli.main(["decode", str(run), str(coded), "-o", str(out)]) == 0
    for i, p in enumerate(paths):
        with Image.open(out / f"image_{i:03d}.png") as im, Image.open(p) as orig:
            assert im.size == orig.size


def test_reconstruct_and_mix(trained, image_folder, tmp_path):
    _, run = trained
    a, b = image_folder / "img_006.png", image_folder / "img_007.png"
    assert cli.main(["reconstruct", str(run), str(a), "-o", str(tmp_path / "r.png")]) == 0
    for mode in ("left-right", "interpolate"):
        assert cli.main(["mix", str(run), str(a), str(b), "-o", str(tmp_path / f"{mode}.png"), "--mode", mode]) == 0
    with Image.open(tmp_path / "r.png") as im, Image.open(a) as orig:
        assert im.size == orig.size


def test_python_api_encode_decode(trained, image_folder):
    import vqlab

    name, run = trained
    m = vqlab.load(run)
    n = CODEBOOKS.get(name, 1)
    codes = m.encode(image_folder / "img_008.png")  # a 16x16 image: a 4x4 grid
    assert codes.shape == ((4, 4) if n == 1 else (n, 4, 4)) and codes.dtype == np.int64
    assert m.decode(codes).size == (16, 16)
    assert len(m.decode(codes[None])) == 1  # a batch of one map
    if n > 1:
        assert m.decode(codes[:1]).size == (16, 16)  # the first codebook alone: the coarsest rate
        with pytest.raises(vqlab.VQLabError, match="1 <= n <= 3"):
            m.decode(np.zeros((4, 4, 4), dtype=np.int64))
