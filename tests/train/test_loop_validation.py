"""Training on data with a val split: validation rows, the best checkpoint and loading it, chroma shrinkage, and
the generalisation options under an interruption (through the real command line, tiny models)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vqlab
from tests.conftest import TINY, make_images, run_cli, train_interrupted
from vqlab import cli
from vqlab.data.tasks import rgb_to_chroma
from vqlab.train import run as rundir
from vqlab.train.checkpoint import read_state
from vqlab.train.run import load_run


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("split")
    make_images(root / "train", n=40, seed=0)
    make_images(root / "val", n=12, seed=1)
    make_images(root / "test", n=8, seed=2)
    return root


COMMON = [*TINY, "--task", "colorize", "--steps", "40", "--log-every", "10", "--eval-every", "10",
          "--checkpoint-every", "20", "--lr", "2e-3", "--lr-schedule", "constant"]


def _rows(run: Path, split: str) -> list[dict]:
    return [r for r in rundir.read_metrics(run) if r["split"] == split]


@pytest.fixture(scope="module")
def val_run(split_folder, tmp_path_factory) -> tuple[Path, str]:
    run = tmp_path_factory.mktemp("runs") / "color"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{split_folder}", *COMMON, "--val-images", "10")
    assert proc.returncode == 0, proc.stderr
    return run, proc.stdout


def test_validation_rows_and_the_best_checkpoint(val_run, tmp_path, split_folder):
    run, stdout = val_run
    val = _rows(run, "val")
    assert [r["step"] for r in val] == [10, 20, 30, 40]
    assert all(r["num_images"] == 10 and 0 <= r["fitted_chroma_scale"] <= 1 for r in val)
    top = max(val, key=lambda r: r["psnr"])  # the first of the highest
    best = (run / "checkpoints" / "best").read_text().strip()
    assert best == f"step_{top['step']:08d}" and (run / "checkpoints" / best / "model.safetensors").is_file()
    assert read_state(run / "checkpoints" / best)["val_psnr"] == pytest.approx(top["psnr"])
    assert f"best checkpoint: step {top['step']} (val psnr=" in stdout
    assert load_run(run, checkpoint="best").step == top["step"] and load_run(run).step == 40
    assert load_run(run).task.chroma_scale == 1.0  # trained without --chroma-shrink: outputs unscaled
    proc = run_cli("evaluate", str(run), "--checkpoint", "best", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["step"] == top["step"]
    out = tmp_path / "c.png"
    proc = run_cli("colorize", str(run), str(split_folder / "test" / "img_000.png"), "-o", str(out),
                   "--checkpoint", "best")
    assert proc.returncode == 0 and out.is_file(), proc.stderr


def test_data_without_a_val_split_trains_as_before(image_folder, tmp_path):
    run = tmp_path / "flat"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *TINY, "--steps", "4",
                   "--eval-every", "2", "--checkpoint-every", "2")
    assert proc.returncode == 0, proc.stderr
    assert {r["split"] for r in rundir.read_metrics(run)} == {"train", "test"}
    assert not (run / "checkpoints" / "best").exists() and "best checkpoint" not in proc.stdout
    proc = run_cli("reconstruct", str(run), str(image_folder / "img_000.png"), "-o", str(tmp_path / "r.png"),
                   "--checkpoint", "best")
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "no best checkpoint" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli("train", "--out", str(tmp_path / "shrink"), "--data", f"folder:{image_folder}", *TINY,
                   "--task", "colorize", "--chroma-shrink", "--steps", "2")
    assert proc.returncode == 2 and "validation split" in proc.stderr


def test_chroma_shrink_stores_and_applies_its_gain(split_folder, tmp_path):
    run = tmp_path / "shrink"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{split_folder}", *COMMON, "--steps", "20",
                   "--chroma-shrink")
    assert proc.returncode == 0, proc.stderr
    val, test = _rows(run, "val"), _rows(run, "test")
    assert all(t["chroma_scale"] == v["fitted_chroma_scale"] for v, t in zip(val, test))
    state = read_state(run / "checkpoints" / "step_00000020")
    assert state["chroma_scale"] == val[-1]["fitted_chroma_scale"]
    assert load_run(run).task.chroma_scale == state["chroma_scale"]
    assert load_run(run, chroma_scale=1.0).task.chroma_scale == 1.0  # the caller may turn it off


def test_interrupted_run_with_every_new_option_resumes_exactly(split_folder, tmp_path, monkeypatch, capsys):
    common = ["--data", f"folder:{split_folder}", *COMMON, "--seed", "3", "--chroma-shrink", "--random-crop", "0.5",
              "--hflip", "--weight-decay", "0.1", "--eval-every", "5", "--checkpoint-every", "15"]
    full, broken = tmp_path / "full", tmp_path / "broken"
    assert cli.main(["train", "--out", str(full), *common]) == 0
    assert train_interrupted(monkeypatch, ["--out", str(broken), *common], at_step=35) == 130
    assert cli.main(["train", "--out", str(broken), "--resume", "--no-progress"]) == 0
    capsys.readouterr()
    a, b = rundir.read_metrics(full), rundir.read_metrics(broken)
    assert [(r["split"], r["step"]) for r in a] == [(r["split"], r["step"]) for r in b]
    for ra, rb in zip(a, b):
        for key in ra:
            if key not in ("split", "wall_time"):
                assert ra[key] == pytest.approx(rb[key], rel=1e-6, abs=1e-9), (ra["split"], ra["step"], key)
    assert (full / "checkpoints" / "best").read_text() == (broken / "checkpoints" / "best").read_text()


def test_chroma_bins_colorizer_trains_shrinks_and_colorizes(split_folder, tmp_path):
    # Colour as classification end to end: training by cross entropy, the chroma gain fitted on validation, the
    # annealed mean in the output, and the temperature in the saved config (a later load shows the same).
    run = tmp_path / "bins"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{split_folder}", *COMMON, "--steps", "20",
                   "--likelihood", "chroma-bins", "--chroma-bins", "16", "--chroma-temperature", "0.5",
                   "--chroma-shrink")
    assert proc.returncode == 0, proc.stderr
    loaded = load_run(run)
    assert loaded.config.model.likelihood == "chroma-bins" and loaded.task.color_space == "ycbcr"
    assert loaded.model.likelihood.temperature == 0.5 and loaded.model.likelihood.params_per_channel == 16
    assert 0.0 <= loaded.task.chroma_scale <= 1.0
    train_rows = _rows(run, "train")
    assert train_rows[-1]["recon_loss"] < train_rows[0]["recon_loss"]  # the cross entropy falls
    assert train_rows[-1]["recon_loss"] < math.log(16)  # cross entropy per value, below the uniform guess
    image = split_folder / "test" / min(p.name for p in (split_folder / "test").iterdir())
    out = tmp_path / "colour.png"
    proc = run_cli("colorize", str(run), str(image), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert Image.open(out).size == Image.open(image).size and Image.open(out).mode == "RGB"

    # The temperature at inference: the annealed mean's chroma is larger at T=0.1 than at T=1 (the mean), as loaded.
    def chroma(temperature: float) -> float:
        model = vqlab.load(run, "cpu", chroma_scale=1.0, chroma_temperature=temperature)
        assert model.module.likelihood.temperature == temperature
        rgb = np.asarray(model.colorize(image), dtype=np.float32) / 255
        return float(rgb_to_chroma(torch.from_numpy(rgb).permute(2, 0, 1)[None]).abs().mean())

    assert chroma(0.1) > chroma(1.0)
    with pytest.raises(vqlab.VQLabError, match="chroma-bins"):
        vqlab.load(split_folder_run(tmp_path, split_folder), "cpu", chroma_temperature=0.5)
    with pytest.raises(vqlab.VQLabError, match="> 0"):
        vqlab.load(run, "cpu", chroma_temperature=0)


def split_folder_run(tmp_path: Path, split_folder: Path) -> Path:
    """A tiny colorize run trained with the default MSE (for the chroma-bins-only options)."""
    run = tmp_path / "mse"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{split_folder}", *COMMON, "--steps", "2")
    assert proc.returncode == 0, proc.stderr
    return run
