"""The codec study (experiments/codec_study.py) at toy size, its full-size commands, and the BD-rate of
benchmarks/rate_distortion.py."""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _import(folder: str, name: str):
    sys.path.insert(0, str(ROOT / folder))
    try:
        return __import__(name)
    finally:
        sys.path.pop(0)


@pytest.fixture(scope="module")
def study():
    return _import("experiments", "codec_study")


@pytest.fixture(scope="module")
def rd():
    return _import("benchmarks", "rate_distortion")


def test_bd_rate_of_known_curves(rd) -> None:
    psnr = np.linspace(24, 36, 6)
    rate = np.exp(0.02 * (psnr - 30) ** 3 / 10 + 0.25 * psnr - 8)  # ln(rate) a cubic in PSNR
    anchor = list(zip(rate, psnr))
    assert rd.bd_rate(anchor, anchor)["percent"] == pytest.approx(0.0, abs=1e-9)
    result = rd.bd_rate(anchor, list(zip(0.8 * rate, psnr)))
    assert result["percent"] == pytest.approx(-20.0, abs=1e-6) and result["degree"] == (3, 3)
    shifted = rd.bd_rate(anchor, list(zip(1.5 * rate[2:5], psnr[2:5])))  # three points: a quadratic fit
    assert shifted["percent"] == pytest.approx(50.0, rel=1e-3) and shifted["degree"] == (3, 2)
    assert shifted["interval"] == (psnr[2], psnr[4]) and shifted["anchor_points"] == 5
    assert rd.bd_rate(anchor, [(0.01, 10.0), (0.02, 12.0)])["percent"] is None  # no common interval
    assert rd.bd_rate(anchor, [(0.1, 30.0)])["percent"] is None


def test_bd_rate_over_a_clipped_psnr_interval(rd) -> None:
    """The goal's BD-rate: the same curves, the common interval narrowed; a constant rate ratio gives the same
    percent over any part of it, a ratio that changes with PSNR does not."""
    psnr = np.linspace(20, 32, 7)
    rate = np.exp(0.25 * psnr - 8)
    anchor = list(zip(rate, psnr))
    half = rd.bd_rate(anchor, list(zip(0.5 * rate, psnr)), clip=(24.0, 28.0))
    assert half["percent"] == pytest.approx(-50.0, abs=1e-6) and half["interval"] == (24.0, 28.0)
    growing = list(zip(rate * np.exp(0.1 * (psnr - 20)), psnr))  # worse and worse at high PSNR
    low, high = rd.bd_rate(anchor, growing, clip=(20, 24)), rd.bd_rate(anchor, growing, clip=(28, 32))
    assert 0 < low["percent"] < high["percent"]
    assert rd.bd_rate(anchor, anchor, clip=(40, 50))["percent"] is None  # outside the common interval


def test_goal_section_reads_jpeg_and_webp_at_each_vqlab_bpp(rd) -> None:
    page = _import("benchmarks", "rd_page")
    curve = lambda psnrs, scale: [{"bpp": scale * math.exp(0.25 * p - 8), "psnr": p} for p in psnrs]
    jpeg = curve((18, 22, 26, 30), 1.0)
    webp = [{"bpp": b, "psnr": p, "setting": f"q={q}"} for q, b, p in ((0, 0.04, 25.0), (10, 0.3, 31.0),
                                                                        (50, 0.8, 36.0))]
    vq = [{**c, "setting": f"f{i}"} for i, c in enumerate(curve((22, 25, 28, 30), 0.7))]  # 30% fewer bits than JPEG
    text = "\n".join(page.goal_lines({"JPEG": jpeg, "WebP": webp, "vqlab": vq}))
    bd = next(ln for ln in text.splitlines() if ln.startswith("- BD-rate against JPEG over 0.1–0.5 bpp"))
    assert "-30.0% over" in bd and bd.endswith("**met**.")
    rows = {ln.split(" | ")[0][2:]: ln for ln in text.splitlines() if ln.startswith("| f")}
    for c in vq:
        w = rd.interpolate_psnr(webp, c["bpp"])
        cells = rows[c["setting"]].split(" | ")
        assert cells[4] == f"{w:.2f}" and cells[5] == f"{c['psnr'] - w:+.2f}"
        if c["bpp"] > 0.3:
            assert cells[6] == "above 0.3 bpp |"
        else:
            short = w - c["psnr"] - 1.0
            assert cells[6] == ("met |" if short <= 0 else f"not met ({short:.2f} dB short) |")
    low = [{"bpp": 0.02, "psnr": 24.0, "setting": "f16"}]  # below WebP's lowest rate: compared with that point
    row = next(ln for ln in page.goal_lines({"JPEG": jpeg, "WebP": webp, "vqlab": low}) if ln.startswith("| f16"))
    assert "below WebP's lowest rate (q=0: 0.040 bpp, 25.00 dB); against it vqlab needs 50% fewer bits for " \
        "-1.00 dB" in row
    worse = [{**c, "bpp": c["bpp"] * 2} for c in vq]  # 1.4 times JPEG's rate
    assert "**not met**" in "\n".join(page.goal_lines({"JPEG": jpeg, "WebP": webp, "vqlab": worse}))


def test_interpolated_psnr(rd) -> None:
    pts = [{"bpp": 0.1, "psnr": 20.0}, {"bpp": 0.4, "psnr": 30.0}, {"bpp": 1.0, "psnr": math.inf}]
    assert rd.interpolate_psnr(pts, 0.2) == pytest.approx(25.0)
    assert rd.interpolate_psnr(pts, 0.05) is None and rd.interpolate_psnr(pts, 0.8) is None


def test_full_size_commands_parse_and_validate(study) -> None:
    from vqlab.cli import build_parser
    from vqlab.cli_train import config_from_args

    parser = build_parser()
    args = study.build_parser().parse_args([])
    assert args.points.split(",") == ["f4", "f8", "f16"]
    for point in study.POINTS:
        cfg = config_from_args(parser.parse_args(["train", "--out", "x", *study.train_flags(args, point)]))
        assert (cfg.data.dataset, cfg.data.image_size, cfg.model.downsample, cfg.model.num_embeddings) == \
            ("photos-wide", 64, *study.POINTS[point])
        assert cfg.train.max_minutes == 100.0 and cfg.train.steps > 100000 and cfg.model.hidden == 128
    a = parser.parse_args(["context-model", "x", *study.context_flags(args)])
    assert (a.steps, a.max_minutes, a.max_side) == (8000, 20.0, 768)


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)


def test_toy_study_trains_codes_and_writes_the_page_then_resumes(image_folder: Path, tmp_path: Path) -> None:
    page, figs = tmp_path / "docs" / "compression.md", tmp_path / "docs" / "figures"
    cmd = [str(ROOT / "experiments" / "codec_study.py"), "--toy", "--toy-data", f"folder:{image_folder}",
           "--root", str(tmp_path / "study"), "--points", "f4,f8", "--page", str(page), "--figures", str(figs)]
    proc = _run(*cmd, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for point in ("f4", "f8"):
        assert (tmp_path / "study" / "codec" / point / "context" / "model.safetensors").is_file()
    text = page.read_text()
    for heading in ("## Pictures", "## How the rate points were made", "## vqlab's rate points",
                    "## Rate-distortion", "## BD-rate",
                    "## Goals", "## The issue's anchors", "## At about equal rate"):
        assert heading in text
    assert "| f4 | 4 | 32 |" in text and "| f8 | 8 | 32 |" in text and "context |" in text
    assert (figs / "compression_rd.png").stat().st_size > 1000 and (figs / "compression_crop.png").is_file()
    with open(figs / "compression_rows.csv") as f:
        rows = list(csv.DictReader(f))
    codecs = [r["codec"] for r in rows]
    assert codecs.count("vqlab") == 2 * 3 and codecs.count("PNG") == 3 and codecs.count("JPEG") == 5 * 3
    assert {r["image"] for r in rows} == {"astronaut", "coffee", "flower"}
    again = _run(*cmd, "--steps", "train,context", cwd=tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("finished, skipped") == 2 and again.stdout.count("context model of its newest") == 2
