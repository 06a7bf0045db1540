"""The run directory: it records the data's channels and image size (so a run samples without its training
data), the training lock (in-process and between real trainer processes), starting over in a folder whose first
attempt failed before any checkpoint, and which checkpoint a loaded run came from."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import TINY, run_cli
from tests.fake_run import make_run
from vqlab import config as cfgmod
from vqlab.errors import VQLabError
from vqlab.generate import latent_grid
from vqlab.models.registry import build_model
from vqlab.train import run as rundir
from vqlab.train.checkpoint import fingerprint, save_checkpoint
from vqlab.train.run import load_run, read_config

ROOT = Path(__file__).resolve().parents[2]


def test_image_size_is_recorded_and_loaded(tmp_path) -> None:
    run = make_run(tmp_path / "r", image_size=(24, 32))
    saved = json.loads((run / "config.json").read_text())
    assert saved["channels"] == 3 and saved["image_size"] == [24, 32]
    cfg, channels = read_config(run)
    assert channels == 3 and cfg.data.image_size is None  # the recorded size is not the --image-size option
    loaded = load_run(run)
    assert loaded.image_size == (24, 32) and loaded.step == 7


def test_latent_grid_uses_the_recorded_size_without_loading_data(tmp_path, monkeypatch) -> None:
    def no_data(*args, **kwargs):
        raise AssertionError("the dataset must not be loaded")

    monkeypatch.setattr("vqlab.data.load_dataset", no_data)
    assert latent_grid(load_run(make_run(tmp_path / "r", image_size=(24, 32)))) == (6, 8)


def test_old_runs_without_an_image_size_fall_back_to_the_dataset(tmp_path, monkeypatch) -> None:
    class Data:
        image_size = (20, 20)

    calls = []
    monkeypatch.setattr("vqlab.data.load_dataset", lambda *a, **k: calls.append(a) or Data())
    run = load_run(make_run(tmp_path / "old", image_size=None))
    assert run.image_size is None
    assert latent_grid(run) == (5, 5) and calls


@pytest.mark.parametrize("value", [[0, 8], [8], "32", None])
def test_a_malformed_recorded_size_is_ignored(tmp_path, value) -> None:
    run = make_run(tmp_path / "r")
    saved = json.loads((run / "config.json").read_text())
    saved["image_size"] = value
    (run / "config.json").write_text(json.dumps(saved))
    assert load_run(run).image_size is None


def _assert_user_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _popen_cli(*args: str) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen([sys.executable, "-m", "vqlab", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(predicate, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while not predicate():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "timed out"
        time.sleep(0.02)


def test_lock_refuses_a_second_holder_names_the_pid_and_is_released(tmp_path):
    run = tmp_path / "r"
    with rundir.training_lock(run):
        assert (run / rundir.LOCK_FILE).read_text().strip() == str(os.getpid())
        # flock conflicts between two open files even inside one process
        refused = pytest.raises(VQLabError, match=rf"is being trained by another process \(pid {os.getpid()}\)")
        with refused, rundir.training_lock(run):
            pass
        (run / "config.json").write_text("{}")
    assert not (run / rundir.LOCK_FILE).exists()
    with rundir.training_lock(run, create=False):  # free again
        pass
    assert run.is_dir()


def test_lock_removes_the_empty_folder_it_made_and_refuses_a_file(tmp_path):
    with rundir.training_lock(tmp_path / "new"):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()  # a failed attempt leaves nothing behind
    (tmp_path / "file").write_text("x")
    with pytest.raises(VQLabError, match="not a folder"), rundir.training_lock(tmp_path / "file"):
        pass
    with pytest.raises(VQLabError, match="does not exist"), rundir.training_lock(tmp_path / "missing", create=False):
        pass


def test_a_stale_lock_file_does_not_block(tmp_path):
    (tmp_path / rundir.LOCK_FILE).write_text("999999\n")  # left by a killed process: nobody holds the lock
    with rundir.training_lock(tmp_path):
        assert (tmp_path / rundir.LOCK_FILE).read_text().strip() == str(os.getpid())


@pytest.fixture(scope="module")
def common(image_folder) -> list[str]:
    return ["--data", f"folder:{image_folder}", *TINY, "--log-every", "5", "--eval-every", "1000",
            "--checkpoint-every", "1000"]


def test_a_second_trainer_is_refused_while_the_first_trains_and_the_first_finishes_intact(common, tmp_path):
    run = tmp_path / "shared"
    # Many steps but a time budget: it is surely still training when the others start, and then ends by itself.
    # 30 s: the two refused trainers each import torch first, which took over 9 s on a loaded 2-core machine (a
    # budget of 9 s let the first finish before the resumed one asked for the lock).
    first = _popen_cli("train", "--out", str(run), *common, "--steps", "1000000", "--max-minutes", "0.5",
                       "--eval-every", "1000000", "--checkpoint-every", "1000000")
    # The lock exists before config.json: the second trainer is refused even in that window (the old race).
    _wait_for(lambda: (run / rundir.LOCK_FILE).is_file(), first)
    fresh = _popen_cli("train", "--out", str(run), *common, "--steps", "5")
    _wait_for(lambda: bool(rundir.read_metrics(run)), first)
    resumed = run_cli("train", "--out", str(run), "--resume", "--steps", "5", "--no-progress")
    fresh_out, fresh_err = fresh.communicate(timeout=120)
    out, err = first.communicate(timeout=300)
    assert first.returncode == 0, err
    for proc in (subprocess.CompletedProcess(fresh.args, fresh.returncode, fresh_out, fresh_err), resumed):
        _assert_user_error(proc, str(run), "is being trained by another process", f"(pid {first.pid})")
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["steps"] == 1000000 and cfg["train"]["max_minutes"] == 0.5
    rows = rundir.read_metrics(run)
    last = max(r["step"] for r in rows)
    train_steps = [r["step"] for r in rows if r["split"] == "train"]
    assert train_steps == [*range(5, last, 5), last]  # every row, each once: the refused trainers wrote none
    assert [(r["split"], r["step"]) for r in rows if r["split"] == "test"] == [("test", last)]
    assert (run / "checkpoints" / "latest").read_text().strip() == f"step_{last:08d}"
    assert not (run / rundir.LOCK_FILE).exists()
    assert "test: mse=" in out


def test_a_killed_trainer_does_not_keep_the_lock(common, tmp_path):
    run = tmp_path / "killed"
    proc = _popen_cli("train", "--out", str(run), *common, "--steps", "1000000", "--checkpoint-every", "5")
    latest = run / "checkpoints" / "latest"
    try:
        _wait_for(latest.is_file, proc)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
    assert (run / rundir.LOCK_FILE).is_file()  # left behind, but the OS released the lock with the process
    saved = int(latest.read_text().strip().split("_")[1])
    resumed = run_cli("train", "--out", str(run), "--resume", "--steps", str(saved + 5), "--no-progress")
    assert resumed.returncode == 0, resumed.stderr
    assert latest.read_text().strip() == f"step_{saved + 5:08d}"


@pytest.mark.parametrize("failing", [
    ["--batch-size", "64"],  # larger than the 40 images: fails after config.json is written
    ["--lr", "1e30", "--ema", "--no-kmeans-init"],  # the loss becomes non-finite before any checkpoint
])
def test_a_run_that_failed_before_its_first_checkpoint_can_be_trained_again(common, tmp_path, failing):
    run = tmp_path / "retry"
    proc = run_cli("train", "--out", str(run), *common, "--steps", "50", *failing)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert (run / "config.json").is_file() and not (run / "checkpoints").exists()
    proc = run_cli("train", "--out", str(run), *common, "--steps", "10", "--seed", "4")
    assert proc.returncode == 0, proc.stderr
    cfg = json.loads((run / "config.json").read_text())  # the new config replaced the failed attempt's
    assert cfg["train"]["seed"] == 4 and cfg["train"]["batch_size"] == 8 and cfg["train"]["lr"] != 1e30
    assert [r["step"] for r in rundir.read_metrics(run) if r["split"] == "train"] == [5, 10]
    # Now it holds a run: a fresh train is refused as before.
    _assert_user_error(run_cli("train", "--out", str(run), *common, "--steps", "10"), "already holds a run")


def test_truncate_samples_drops_grids_after_the_step(tmp_path):
    (tmp_path / "samples").mkdir()
    for step in (10, 20, 30):
        (tmp_path / "samples" / f"step_{step:08d}.png").write_bytes(b"")
    rundir.truncate_samples(tmp_path, 20)
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["step_00000010.png", "step_00000020.png"]
    rundir.truncate_samples(tmp_path / "nothing", 0)  # no samples folder: nothing to do


def tiny_run(run_dir: Path, data: str = "photos") -> tuple[cfgmod.Config, torch.nn.Module, torch.optim.Optimizer,
                                                             Path]:
    """A run directory with one checkpoint (step 1) of a tiny VQ-VAE on ``data``, written without training."""
    cfg = cfgmod.preset("tiny")
    cfg.train.precision = "fp32"
    cfg.data.dataset = data
    cfgmod.resolve(cfgmod.validate(cfg))
    torch.manual_seed(0)
    model = build_model(cfg, 3, 3)
    opt = torch.optim.Adam(model.parameters())
    rundir.write_config(run_dir, cfg, 3)
    return cfg, model, opt, save_checkpoint(run_dir, 1, model, opt, {})


def test_a_loaded_run_names_the_checkpoint_it_came_from_not_a_newer_one(tmp_path):
    _, model, opt, first = tiny_run(tmp_path)
    loaded = rundir.load_run(tmp_path)
    assert loaded.checkpoint == first and loaded.step == 1
    assert loaded.fingerprint == fingerprint(first) == rundir.run_fingerprint(loaded)
    with torch.no_grad():  # a training process writes a newer checkpoint with other weights
        next(model.parameters()).add_(1.0)
    newer = save_checkpoint(tmp_path, 2, model, opt, {})
    assert fingerprint(newer) != fingerprint(first)
    assert rundir.run_fingerprint(loaded) == fingerprint(first)
    assert rundir.run_fingerprint(rundir.load_run(tmp_path)) == fingerprint(newer)
