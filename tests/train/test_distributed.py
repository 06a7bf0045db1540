"""Multi-process training through torchrun (gloo on CPU): parity with one process, identical codebooks,
resuming a killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import TINY, run_cli
from vqlab.train import run as rundir

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]


def _descendants(pid: int) -> list[int]:
    """pid and all processes below it (torchrun's workers may sit in their own process groups)."""
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        for task in Path(f"/proc/{p}/task").glob("*/children"):
            todo += [int(c) for c in task.read_text().split()]
    return found


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and its descendants at once, like a crashed machine."""
    for p in _descendants(pid):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _train_losses(run: Path) -> dict[int, dict]:
    return {r["step"]: r for r in rundir.read_metrics(run) if r["split"] == "train"}


@pytest.fixture(scope="module")
def common(image_folder) -> list[str]:
    return ["--data", f"folder:{image_folder}", *TINY, "--batch-size", "8", "--log-every", "1",
            "--eval-every", "1000", "--checkpoint-every", "15", "--seed", "5", "--restart-after", "3", "--hflip",
            "--lr-schedule", "constant"]  # the killed run has another --steps: its rate must not depend on them


@pytest.fixture(scope="module")
def two_process_run(common, tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("ddp") / "two"
    proc = subprocess.run(_torchrun("-m", "vqlab", "train", "--out", str(run), *common, "--steps", "30"),
                          env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("test: mse=") == 1  # rank 0 alone reports
    return run


def test_two_processes_match_one_process_with_the_same_global_batch(common, two_process_run, tmp_path):
    one = tmp_path / "one"
    proc = run_cli("train", "--out", str(one), *common, "--steps", "30")
    assert proc.returncode == 0, proc.stderr
    a, b = _train_losses(one), _train_losses(two_process_run)
    assert sorted(a) == sorted(b) == list(range(1, 31))
    for step in a:
        for key in ("loss", "recon_loss", "perplexity", "commitment_loss"):
            assert b[step][key] == pytest.approx(a[step][key], rel=1e-4), (step, key)
    state = json.loads((two_process_run / "checkpoints" / "step_00000030" / "state.json").read_text())
    assert state["world_size"] == 2


@pytest.fixture(scope="module")
def worker_result(tmp_path_factory) -> dict:
    """What tests/train/ddp_worker.py reports after six DDP steps on two ranks."""
    out = tmp_path_factory.mktemp("worker") / "result.json"
    for _ in range(2):  # one retry, only for gloo's rare abort at process teardown (SIGABRT), never for a failure
        proc = subprocess.run(_torchrun(str(ROOT / "tests" / "train" / "ddp_worker.py"), str(out)), env=_env(),
                              capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode == 0 or "SIGABRT" not in proc.stderr:
            break
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


def test_codebooks_and_weights_stay_identical_across_ranks(worker_result):
    result = worker_result
    assert result["world_size"] == 2 and result["initialized"]
    assert result["max_diff"] == 0.0


def test_killed_multi_process_run_resumes(common, two_process_run, tmp_path):
    run = tmp_path / "killed"
    proc = subprocess.Popen(_torchrun("-m", "vqlab", "train", "--out", str(run), *common, "--steps", "100000"),
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    latest = run / "checkpoints" / "latest"
    try:
        deadline = time.time() + 240
        while not latest.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
    finally:
        _kill_tree(proc.pid)
        proc.wait(timeout=60)
    time.sleep(0.5)
    saved = int(latest.read_text().strip().split("_")[1])
    assert saved >= 15 and saved % 15 == 0
    steps = str(max(30, saved))
    resumed = subprocess.run(_torchrun("-m", "vqlab", "train", "--out", str(run), "--resume", "--steps", steps,
                                       "--no-progress"),
                             env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert latest.read_text().strip() == f"step_{int(steps):08d}"
    got, ref = _train_losses(run), _train_losses(two_process_run)
    assert sorted(got) == list(range(1, int(steps) + 1))
    for step in range(1, 31):
        assert got[step]["loss"] == pytest.approx(ref[step]["loss"], rel=1e-4), step


def test_user_errors_under_torchrun_are_printed_once_and_no_rank_waits(common, tmp_path):
    def errors(proc: subprocess.CompletedProcess) -> list[str]:
        assert proc.returncode != 0
        return [line for line in proc.stderr.splitlines() if line.startswith("error: ")]

    odd = tmp_path / "odd"
    proc = subprocess.run(_torchrun("-m", "vqlab", "train", "--out", str(odd), *common, "--batch-size", "7",
                                    "--steps", "2"), env=_env(), capture_output=True, text=True, timeout=300,
                          check=False)
    assert errors(proc) == ["error: --batch-size 7 is not divisible by the 2 processes"]
    assert "File \"" not in proc.stderr.split("error: ")[0]  # no traceback from vqlab's processes before it
    assert not odd.exists()
    busy = tmp_path / "busy"
    with rundir.training_lock(busy):  # rank 0 is refused; rank 1 must not wait for it forever
        proc = subprocess.run(_torchrun("-m", "vqlab", "train", "--out", str(busy), *common, "--steps", "2"),
                              env=_env(), capture_output=True, text=True, timeout=300, check=False)
    assert errors(proc) == [f"error: {busy} is being trained by another process (pid {os.getpid()})"]
    assert not (busy / "config.json").exists()


def test_the_restart_counter_follows_the_global_code_histogram(worker_result):
    """Codes used on one rank only count as used on every rank; the counter matches a hand-kept one throughout."""
    assert worker_result["restart_counter_ok"] is True
    assert worker_result["restarts"] > 0  # restarts did happen in these six steps
    assert worker_result["used_on_one_rank_only"] > 0  # and local histograms would have told another story


def test_two_processes_match_one_with_validation_and_the_new_augmentations(tmp_path):
    from tests.conftest import make_images

    data = tmp_path / "data"
    for split, n, seed in (("train", 24, 0), ("val", 6, 1), ("test", 4, 2)):
        make_images(data / split, n=n, seed=seed)
    args = ["--data", f"folder:{data}", *TINY, "--task", "colorize", "--log-every", "1", "--eval-every", "5",
            "--checkpoint-every", "100", "--seed", "2", "--random-crop", "0.5", "--weight-decay", "0.1",
            "--chroma-shrink", "--steps", "12"]
    two, one = tmp_path / "two", tmp_path / "one"
    proc = subprocess.run(_torchrun("-m", "vqlab", "train", "--out", str(two), *args), env=_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run_cli("train", "--out", str(one), *args)
    assert proc.returncode == 0, proc.stderr
    a, b = _train_losses(one), _train_losses(two)
    assert sorted(a) == sorted(b) == list(range(1, 13))
    for step in a:
        assert b[step]["loss"] == pytest.approx(a[step]["loss"], rel=1e-4), step
    val_a = [r for r in rundir.read_metrics(one) if r["split"] == "val"]
    val_b = [r for r in rundir.read_metrics(two) if r["split"] == "val"]
    assert [r["step"] for r in val_a] == [r["step"] for r in val_b] == [5, 10, 12]
    for ra, rb in zip(val_a, val_b):
        assert rb["psnr"] == pytest.approx(ra["psnr"], rel=1e-4)
    assert (one / "checkpoints" / "best").read_text() == (two / "checkpoints" / "best").read_text()
