"""vqlab compare and the bits/dim fields of vqlab evaluate, through the real CLI on tiny runs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import TINY, run_cli
from vqlab.experiments.compare import format_csv, format_markdown, format_text
from vqlab.experiments.evaluation import EVAL_FILE

STEPS = ["--steps", "6", "--eval-every", "6", "--checkpoint-every", "6", "--log-every", "3"]


@pytest.fixture(scope="module")
def runs(image_folder, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    out = {}
    for name, extra in (("vq", ["--model", "vqvae", "--likelihood", "softmax256"]),
                        ("vae", ["--model", "vae", "--likelihood", "gaussian", "--gaussian-sigma", "0.05"]),
                        ("vimco", ["--model", "vimco", "--likelihood", "logistic", "--vimco-samples", "3"])):
        run = root / name
        proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *TINY, *STEPS, *extra)
        assert proc.returncode == 0, proc.stderr
        out[name] = run
    return out


def test_training_rows_keep_their_keys_and_add_mse(runs):
    rows = [json.loads(line) for line in (runs["vimco"] / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["split"] == "train"]
    for key in ("loss", "recon_loss", "wall_time", "perplexity", "mse", "bound"):
        assert key in train[0]


def test_evaluate_reports_bits_per_dim_with_its_bound(runs):
    proc = run_cli("evaluate", str(runs["vae"]), "--json", "--iw-samples", "7")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)
    assert m["bound"] == "vae: IWAE k=7" and m["elbo_bound"] == "vae: negative ELBO"
    assert m["bits_per_dim"] <= m["elbo_bits_per_dim"]
    for key in ("nmse", "recon_bits_per_dim", "rate_bits_per_dim", "mse", "psnr"):
        assert key in m
    cached = json.loads((runs["vae"] / EVAL_FILE).read_text())
    assert cached["key"]["iw_samples"] == 7 and cached["metrics"]["bits_per_dim"] == m["bits_per_dim"]


def test_compare_prints_text_markdown_and_csv_and_reuses_the_cache(runs):
    args = [str(runs[n]) for n in ("vq", "vae", "vimco")]
    proc = run_cli("compare", *args, "--iw-samples", "4")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["run", "model", "likelihood"] and len(lines) == 5
    assert "vq: -log p(x|z_q)" in proc.stdout and "vae: IWAE k=4" in proc.stdout
    assert "vimco: multi-sample bound k=4" in proc.stdout
    stamp = (runs["vq"] / EVAL_FILE).stat().st_mtime_ns
    md = run_cli("compare", *args, "--iw-samples", "4", "--markdown")
    assert md.returncode == 0 and md.stdout.startswith("| run | model |")
    assert (runs["vq"] / EVAL_FILE).stat().st_mtime_ns == stamp  # served from the cache
    rows = list(csv.DictReader(io.StringIO(run_cli("compare", *args, "--iw-samples", "4", "--csv").stdout)))
    assert [r["model"] for r in rows] == ["vqvae", "vae", "vimco"]
    assert float(rows[0]["bits/dim"]) > 0 and rows[1]["K"] == ""


def test_compare_errors_are_one_line(tmp_path):
    proc = run_cli("compare", str(tmp_path / "missing"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("flags,needle", [
    (["--likelihood", "bogus"], "unknown likelihood"),
    (["--task", "colorize", "--color-space", "lab", "--likelihood", "logistic"], "needs --likelihood mse"),
    (["--model", "vimco", "--vimco-samples", "1"], "--vimco-samples"),
])
def test_bad_new_options_are_user_errors(tmp_path, flags, needle):
    proc = run_cli("train", "--out", str(tmp_path / "r"), *flags)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_formatters_mark_missing_values():
    results = [{"name": "a", "model": "vae", "K": None, "bits_per_dim": 4.5, "bound": "vae: IWAE k=100",
                "mse": float("nan")}]
    text = format_text(results)
    assert "4.500" in text and " - " in text
    assert format_markdown(results).count("\n") == 3
    assert "p(x\\|z)" in format_markdown([{"bound": "vq: -log p(x|z)"}])
    assert format_csv(results).splitlines()[1].startswith("a,vae,,")
