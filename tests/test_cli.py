"""Integration tests through the real command line on tiny models and data."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import TINY, run_cli, train_interrupted
from vqlab import cli
from vqlab import config as cfgmod
from vqlab.train import run as rundir


def strict_json_loads(text: str):
    """json.loads that, like strict JSON parsers, refuses NaN and Infinity."""
    def refuse(name: str):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def _train_rows(run: Path) -> list[dict]:
    return [r for r in rundir.read_metrics(run) if r["split"] == "train"]


def _assert_user_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture(scope="module")
def trained(image_folder, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "recon"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *TINY, "--steps", "60",
                   "--log-every", "5", "--eval-every", "30", "--checkpoint-every", "30", "--lr", "2e-3",
                   "--lr-schedule", "constant")  # 60 steps at a fixed rate halve the loss
    assert proc.returncode == 0, proc.stderr
    assert "test: mse=" in proc.stdout
    return run


def test_training_lowers_the_loss_and_writes_a_run_directory(trained):
    rows = _train_rows(trained)
    assert [r["step"] for r in rows] == list(range(5, 61, 5))
    assert rows[-1]["loss"] < 0.5 * rows[0]["loss"]
    for key in ("loss", "recon_loss", "wall_time", "perplexity"):
        assert key in rows[0]
    tests = [r for r in rundir.read_metrics(trained) if r["split"] == "test"]
    assert [r["step"] for r in tests] == [30, 60]
    assert {"mse", "psnr", "ssim", "perplexity", "codebook_usage"} <= set(tests[-1])
    assert 0 < tests[-1]["codebook_usage"] <= 1
    for step in (30, 60):
        with Image.open(trained / "samples" / f"step_{step:08d}.png") as im:
            assert im.format == "PNG" and im.width > im.height  # 3 rows (input, output, target) of tiles
    assert (trained / "checkpoints" / "latest").read_text().strip() == "step_00000060"
    assert (trained / "checkpoints" / "step_00000060" / "model.safetensors").is_file()


def test_evaluate_prints_json_metrics(trained):
    proc = run_cli("evaluate", str(trained), "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads(proc.stdout)
    assert metrics["step"] == 60 and metrics["model"] == "vqvae"
    final = [r for r in rundir.read_metrics(trained) if r["split"] == "test"][-1]
    for key in ("mse", "psnr", "ssim", "perplexity", "codebook_usage"):
        assert metrics[key] == pytest.approx(final[key], rel=1e-6)


def test_reconstruct_keeps_the_image_size(trained, tmp_path, image_folder):
    src = tmp_path / "odd.png"
    Image.open(image_folder / "img_000.png").resize((37, 23)).save(src)
    out = tmp_path / "out.png"
    proc = run_cli("reconstruct", str(trained), str(src), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        assert im.size == (37, 23) and im.mode == "RGB"


def test_colorize_run_end_to_end(image_folder, tmp_path):
    run = tmp_path / "color"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", "--task", "colorize", *TINY,
                   "--steps", "10", "--eval-every", "10", "--checkpoint-every", "10")
    assert proc.returncode == 0, proc.stderr
    gray = tmp_path / "gray.png"
    Image.open(image_folder / "img_001.png").convert("L").resize((30, 18)).save(gray)
    out = tmp_path / "colour.png"
    proc = run_cli("colorize", str(run), str(gray), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    with Image.open(out) as im:
        assert im.size == (30, 18) and im.mode == "RGB"
        # the default colour space predicts chroma only: the output's luma is the gray input's (up to rounding),
        # wherever no channel had to be clipped to [0, 255]
        assert json.loads((run / "config.json").read_text())["data"]["color_space"] == "ycbcr"
        luma = np.asarray(im.convert("L"), dtype=np.int16)
        inside = ((np.asarray(im) > 0) & (np.asarray(im) < 255)).all(axis=2)
    assert inside.mean() > 0.5
    assert np.abs(luma - np.asarray(Image.open(gray), dtype=np.int16))[inside].max() <= 1
    _assert_user_error(run_cli("reconstruct", str(run), str(gray), "-o", str(tmp_path / "x.png")), "colorize")
    proc = run_cli("evaluate", str(run), "--json")
    assert proc.returncode == 0, proc.stderr
    metrics = strict_json_loads(proc.stdout)  # standard JSON: the bits/dim that does not apply is null, not NaN
    assert metrics["bits_per_dim"] is None and metrics["bound"].startswith("none: colorize")
    assert metrics["psnr"] > 0 and metrics["gray_psnr"] > 0


def test_colorize_refuses_a_reconstruct_run(trained, tmp_path, image_folder):
    proc = run_cli("colorize", str(trained), str(image_folder / "img_000.png"), "-o", str(tmp_path / "c.png"))
    _assert_user_error(proc, "reconstruct")


def test_resume_after_interruption_reproduces_the_uninterrupted_run(image_folder, tmp_path, monkeypatch, capsys):
    common = ["--data", f"folder:{image_folder}", *TINY, "--steps", "40", "--log-every", "5",
              "--eval-every", "20", "--checkpoint-every", "20", "--seed", "3", "--restart-after", "4",
              "--lr-schedule", "cosine", "--warmup-steps", "5", "--hflip"]
    full, broken = tmp_path / "full", tmp_path / "broken"
    assert cli.main(["train", "--out", str(full), *common]) == 0

    assert train_interrupted(monkeypatch, ["--out", str(broken), *common], at_step=30) == 130
    assert "interrupted" in capsys.readouterr().err
    assert (broken / "checkpoints" / "latest").read_text().strip() == "step_00000020"
    assert max(r["step"] for r in rundir.read_metrics(broken)) == 25  # rows past the checkpoint exist

    assert cli.main(["train", "--out", str(broken), "--resume", "--no-progress"]) == 0
    a, b = rundir.read_metrics(full), rundir.read_metrics(broken)
    assert [(r["split"], r["step"]) for r in a] == [(r["split"], r["step"]) for r in b]
    for ra, rb in zip(a, b):
        for key in ra:
            if key == "split":
                assert ra[key] == rb[key]
            elif key != "wall_time":
                assert ra[key] == pytest.approx(rb[key], rel=1e-6, abs=1e-9), (ra["step"], key)
    lrs = [r["lr"] for r in _train_rows(full)]  # cosine after warm-up: falls to ~0 at the last step
    assert lrs[0] == pytest.approx(cfgmod.TrainConfig().lr * 0.5 * (1 + math.cos(math.pi * 4 / 40)))
    assert all(x > y for x, y in itertools.pairwise(lrs)) and lrs[-1] < 0.01 * lrs[0]


def test_resume_refuses_changing_the_model(trained):
    _assert_user_error(run_cli("train", "--out", str(trained), "--resume", "-K", "64"), "num_embeddings")


def test_resume_refusal_names_the_option_with_its_old_and_new_values(trained):
    proc = run_cli("train", "--out", str(trained), "--resume", "-K", "64", "--hidden", "16", "--steps", "61")
    _assert_user_error(proc, "model.num_embeddings 32 -> 64")
    assert "hidden" not in proc.stderr  # an equal value is not a change


def test_resume_accepts_the_original_command_with_more_steps(image_folder, tmp_path):
    run = tmp_path / "again"
    original = ["train", "--out", str(run), "--data", f"folder:{image_folder}", "--preset", "tiny", *TINY,
                "--color-space", "auto", "--log-every", "5", "--checkpoint-every", "10", "--eval-every", "10"]
    assert run_cli(*original, "--steps", "10").returncode == 0
    proc = run_cli(*original, "--steps", "20", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert max(r["step"] for r in _train_rows(run)) == 20
    assert json.loads((run / "config.json").read_text())["train"]["steps"] == 20
    # The tiny preset anneals with a cosine: the user is told the extended run differs from a 20-step one.
    assert "warning: the cosine learning-rate schedule now anneals over 20 steps instead of 10" in proc.stderr
    constant = tmp_path / "constant"
    first = ["train", "--out", str(constant), "--data", f"folder:{image_folder}", "--preset", "tiny", *TINY,
             "--lr-schedule", "constant", "--log-every", "5", "--checkpoint-every", "10", "--eval-every", "10"]
    assert run_cli(*first, "--steps", "10").returncode == 0
    proc = run_cli("train", "--out", str(constant), "--resume", "--steps", "20", "--no-progress")
    assert proc.returncode == 0 and "warning" not in proc.stderr, proc.stderr


def test_training_into_an_existing_run_is_refused(trained):
    _assert_user_error(run_cli("train", "--out", str(trained), *TINY, "--steps", "1"), "--resume")


def test_non_finite_loss_stops_with_an_error_and_keeps_the_last_good_checkpoint(image_folder, tmp_path):
    run = tmp_path / "nan"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *TINY, "--steps", "50",
                   "--lr", "1e30", "--checkpoint-every", "1", "--eval-every", "1000", "--ema", "--no-kmeans-init")
    _assert_user_error(proc, "became", "Last good checkpoint")
    latest = (run / "checkpoints" / "latest").read_text().strip()
    proc = run_cli("evaluate", str(run), "--json")  # the kept checkpoint is loadable and finite
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["step"] == int(latest.split("_")[1])


@pytest.mark.parametrize("args,needle", [
    (["train", "--out", "{tmp}/r", "--num-embeddings", "0"], "num-embeddings"),
    (["train", "--out", "{tmp}/r", "--embedding-dim", "-3"], "embedding-dim"),
    (["train", "--out", "{tmp}/r", "--steps", "abc"], "--steps"),
    (["train", "--out", "{tmp}/r", "--task", "paint"], "paint"),
    (["train", "--out", "{tmp}/r", "--color-space", "hsv"], "ycbcr"),
    (["train", "--out", "{tmp}/r", "--lr-schedule", "linear"], "--lr-schedule"),
    (["train", "--out", "{tmp}/r", "--warmup-steps", "-1"], "--warmup-steps"),
    (["train", "--out", "{tmp}/r", "--data", "nosuchdata"], "nosuchdata"),
    (["train", "--out", "{tmp}/r", "--data", "folder:{tmp}/missing"], "missing"),
    (["train", "--out", "{tmp}/r", "--preset", "huge"], "huge"),
    (["train", "--out", "{tmp}/r", "--config", "{tmp}/none.yaml"], "none.yaml"),
    (["train", "--out", "{tmp}/r", "--resume"], "does not exist"),
    (["evaluate", "{tmp}/nothing"], "does not exist"),
    (["evaluate", "{tmp}"], "not a vqlab run"),
    (["bogus"], "invalid choice"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, args, needle):
    proc = run_cli(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    _assert_user_error(proc, needle)


def test_bad_config_file_contents(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: {hidden: [1, 2}\n")
    _assert_user_error(run_cli("train", "--out", str(tmp_path / "r"), "--config", str(bad)), "YAML")
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("model:\n  widht: 3\n")
    _assert_user_error(run_cli("train", "--out", str(tmp_path / "r"), "--config", str(unknown)), "widht")


def test_missing_and_corrupt_images_exit_2(trained, tmp_path):
    _assert_user_error(run_cli("reconstruct", str(trained), str(tmp_path / "no.png"), "-o", str(tmp_path / "o.png")),
                       "not found")
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 20)
    _assert_user_error(run_cli("reconstruct", str(trained), str(junk), "-o", str(tmp_path / "o.png")), "junk.png")
    assert not (tmp_path / "o.png").exists()


def test_corrupt_checkpoint_exits_2(trained, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained, copy)
    (copy / "checkpoints" / "step_00000060" / "model.safetensors").write_bytes(b"not safetensors")
    _assert_user_error(run_cli("evaluate", str(copy)), "model.safetensors")
    (copy / "config.json").write_text("{not json")
    _assert_user_error(run_cli("evaluate", str(copy)), "config.json")


def test_time_budget_stops_training_with_a_final_evaluation_and_checkpoint(image_folder, tmp_path):
    run = tmp_path / "budget"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *TINY, "--steps", "100000",
                   "--max-minutes", "0.0001", "--eval-every", "1000", "--checkpoint-every", "1000")
    assert proc.returncode == 0, proc.stderr
    rows = rundir.read_metrics(run)
    assert [(r["split"], r["step"]) for r in rows] == [("train", 1), ("test", 1)]
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_00000001"


def test_the_smallest_image_size_works_end_to_end_and_smaller_is_refused(image_folder, tmp_path):
    _assert_user_error(run_cli("train", "--out", str(tmp_path / "r4"), "--image-size", "4"), "at least 8")
    assert not (tmp_path / "r4").exists()
    run = tmp_path / "r8"
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *TINY, "--image-size", "8",
                   "--steps", "4", "--eval-every", "4", "--checkpoint-every", "4")
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("evaluate", str(run), "--json", "--iw-samples", "2")
    assert proc.returncode == 0, proc.stderr
    metrics = strict_json_loads(proc.stdout)
    assert 0 < metrics["ssim"] <= 1 and metrics["bits_per_dim"] > 0 and metrics["psnr"] > 0
