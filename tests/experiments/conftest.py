"""A tiny 2x2 sweep that is interrupted (the whole process tree killed) after its first finished run and then
run again: shared by the sweep, figures and report tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SWEEP_ARGS = ["--hidden", "16", "-K", "8,16", "-D", "4,8", "--seeds", "1", "--batch-size", "8", "--precision", "fp32",
              "--steps", "4", "--log-every", "1", "--eval-every", "4", "--checkpoint-every", "2", "--iw-samples", "2"]


def experiment(name: str):
    """The module ``experiments/NAME.py`` (the scripts are not a package: imported with their folder on the path)."""
    import importlib

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "experiments"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.pop(0)


def descendants(pid: int) -> list[int]:
    """Every descendant of ``pid`` (children of all its threads, recursively)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            children = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def finished_runs(out: Path) -> list[str]:
    done = []
    for run in sorted((out / "runs").glob("*")):
        pointer = run / "checkpoints" / "latest"
        if pointer.is_file():
            state = run / "checkpoints" / pointer.read_text().strip() / "state.json"
            if state.is_file() and json.loads(state.read_text())["step"] == 4:
                done.append(run.name)
    return done


def _finished_and_logged(out: Path) -> list[str]:
    logs = {name: out / "runs" / name / "train.log" for name in finished_runs(out)}
    return [name for name, log in logs.items() if log.is_file() and "test: " in log.read_text()]


def sweep_command(out: Path, image_folder: Path) -> list[str]:
    return [sys.executable, "-m", "vqlab", "sweep", "--out", str(out), "--data", f"folder:{image_folder}",
            *SWEEP_ARGS]


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture(scope="session")
def interrupted_sweep(image_folder, tmp_path_factory) -> dict:
    """Run the sweep, kill it (and its children) once one run is finished, run it again to the end.

    Returns out (the sweep folder), killed_done (runs finished before the kill), stamps (their checkpoint
    files' mtimes at the kill) and the completed second process."""
    out = tmp_path_factory.mktemp("sweep") / "kd"
    proc = subprocess.Popen(sweep_command(out, image_folder), env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    # Wait for a run whose process has also printed its final metrics: its last checkpoint is written just
    # before, and a kill in between would leave a finished run with an empty log.
    while not _finished_and_logged(out) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    for pid in [proc.pid, *descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    killed_done = finished_runs(out)
    stamps = {name: {str(p): p.stat().st_mtime_ns for p in (out / "runs" / name / "checkpoints").rglob("*")}
              for name in killed_done}
    second = subprocess.run(sweep_command(out, image_folder), env=cli_env(), capture_output=True, text=True,
                            timeout=300, check=False)
    return {"out": out, "killed_done": killed_done, "stamps": stamps, "second": second}


@pytest.fixture(scope="session")
def colorize_sweep(interrupted_sweep, tmp_path_factory) -> Path:
    """A copy of the real tiny sweep whose results are made those of colorize runs: the gray input's metrics, no
    bits/dim (chroma-only colour spaces have none) and final losses four orders of magnitude apart."""
    import shutil

    from vqlab.experiments.results import format_results_csv, read_results

    out = tmp_path_factory.mktemp("colorize") / "kd"
    shutil.copytree(interrupted_sweep["out"], out)
    rows = read_results(out)
    for i, row in enumerate(rows):
        row.update(task="colorize", final_train_loss=(7.971e-05, 0.0052, 0.0123, 0.00031)[i], bits_per_dim=None,
                   bound="none: colorize with --color-space ycbcr predicts chroma, not pixels", psnr=24.0 + i,
                   colorfulness=20.0 + i, gray_psnr=21.5, gray_ssim=0.81, gray_colorfulness=0.0)
    (out / "results.csv").write_text(format_results_csv(rows))
    return out
