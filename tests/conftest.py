"""Fixtures shared by the integration tests: a tiny image folder and a helper to run the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n N``) every worker and the processes it starts use one thread: N workers on N cores
    with torch's default of a thread per core would oversubscribe the machine, and OpenMP threads that wait on each
    other across processes slow everything down many times over."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        os.environ["MKL_NUM_THREADS"] = "1"
        import torch

        torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the real ~/.cache during tests."""
    monkeypatch.setenv("VQLAB_CACHE", str(tmp_path_factory.getbasetemp() / "default-cache"))


def make_images(folder: Path, n: int = 40, size: int = 16, seed: int = 0) -> Path:
    """Write ``n`` smooth colourful PNGs (gradients with a coloured square) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    for i in range(n):
        a, b, c = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        img = a[None, None] * xx[..., None] + b[None, None] * yy[..., None] + 0.3 * c[None, None]
        y0, x0 = rng.integers(0, size // 2, 2)
        img[y0:y0 + size // 3, x0:x0 + size // 3] = rng.uniform(0, 1, 3)
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(folder / f"img_{i:03d}.png")
    return folder


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_images(tmp_path_factory.mktemp("images"))


TINY = ["--hidden", "16", "-K", "32", "-D", "8", "--batch-size", "8", "--precision", "fp32", "--no-progress"]


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m vqlab ARGS`` in a subprocess, as a user would; returns the completed process."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "vqlab", *args], check=False, capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=300)


def train_interrupted(monkeypatch: pytest.MonkeyPatch, args: list[str], at_step: int) -> int:
    """``vqlab train ARGS`` in this process, stopped by a KeyboardInterrupt (Ctrl+C) when the metrics row of step
    ``at_step`` is about to be written; returns the exit code (130 expected) with the metrics writer restored."""
    from vqlab import cli
    from vqlab.train import run as rundir

    real_append = rundir.append_metrics

    def interrupt(run_dir: Path, row: dict) -> None:
        if row["step"] >= at_step:
            raise KeyboardInterrupt
        real_append(run_dir, row)

    monkeypatch.setattr(rundir, "append_metrics", interrupt)
    try:
        return cli.main(["train", *args])
    finally:
        monkeypatch.setattr(rundir, "append_metrics", real_append)
