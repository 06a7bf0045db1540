"""benchmarks/quantizers.py (the quantizers side by side at equal wall time) at toy size: every quantizer trains
for a few seconds on a tiny folder dataset, the table is written, and a second invocation skips finished runs."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "quantizers.py"), *args], check=False,
                          env=env, capture_output=True, text=True, timeout=900)


def test_study_at_toy_size(image_folder, tmp_path):
    out = tmp_path / "study"
    args = ["--out", str(out), "--toy", "--sizes", "16", "--data", f"folder:{image_folder}"]
    proc = _run(*args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["quantizer"] for r in rows] == ["vq-paper", "vq", "vq-cosine", "vq-rotation", "fsq", "simvq", "rvq"]
    for r in rows:
        assert float(r["psnr"]) > 0 and 0 < float(r["usage"]) <= 1 and int(r["steps"]) >= 1
        assert float(r["sec_per_step"]) > 0 and float(r["peak_mb"]) > 50
    by = {r["quantizer"]: r for r in rows}
    # 32x32 images, an 8x8 grid: 64 log2(16) = 256 bits; rvq: 2 codebooks of 4 codes = the same rate
    assert float(by["vq"]["bits_per_image"]) == pytest.approx(256) == float(by["rvq"]["bits_per_image"])
    assert by["fsq"]["codes"] == "16 (4,4)" and by["rvq"]["codes"] == "4x2"
    budgets = json.loads((out / "budgets.json").read_text())["folder-K16"]
    for r in rows:  # each run trained exactly the steps its timed step speed buys in the budget
        assert int(r["steps"]) == budgets["steps"][r["quantizer"]]
        assert int(r["steps"]) == max(1, round(60 * budgets["minutes"] / float(r["sec_per_step"])))
        assert f"--steps {r['steps']}" in r["command"] and f"-K {'4' if r['quantizer'] == 'rvq' else '16'}" in r["command"]
    assert (out / "figures" / "quantizers.png").stat().st_size > 10_000
    page = (out / "quantizers.md").read_text()
    assert "| quantizer | size | codes | test PSNR |" in page and page.count("\n| ") >= 6
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "quantizers.md").write_text("# old\n\n<!-- reading -->\nUse fsq.\n<!-- /reading -->\n\nold table\n")
    again = _run(*args, "--docs", str(docs))
    assert again.returncode == 0, again.stderr[-3000:]
    assert "train " not in again.stdout and "resume" not in again.stdout  # finished runs are not trained again
    regenerated = (docs / "quantizers.md").read_text()  # the tables are new, the hand-written reading is kept
    assert "old table" not in regenerated and "<!-- reading -->\nUse fsq.\n<!-- /reading -->" in regenerated
    assert regenerated.startswith("# Quantizers at equal compute time") and (docs / "figures" / "quantizers.png").is_file()
