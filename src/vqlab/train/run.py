"""The run directory: the unit of work on disk (config, metrics, checkpoints, samples).

Every command after ``train`` takes a run directory; :func:`load_run` rebuilds its model from it.
"""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vqlab import config as cfgmod
from vqlab.data.tasks import Task
from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write_text
from vqlab.models.registry import build_model
from vqlab.train.checkpoint import (
    best_checkpoint,
    find_checkpoint,
    fingerprint,
    latest_checkpoint,
    load_weights,
    read_state,
)

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
LOCK_FILE = ".lock"


def _lock_holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"


@contextmanager
def training_lock(run_dir: Path, *, create: bool = True) -> Iterator[None]:
    """Hold ``RUN/.lock`` (an exclusive ``flock``) while a process trains ``run_dir``.

    Refuses with a VQLabError naming the holder's pid when another process holds it. The OS drops the lock when
    the process ends in any way (SIGKILL included), so a stale lock file never blocks. With ``create`` a missing
    run directory is made first (and removed again on exit when nothing but the lock was put in it). Readers of
    a run (evaluation, inference) do not take it. The lock file is unlinked while still locked on exit; a
    process that locked a file that was unlinked meanwhile notices (inode check) and tries again.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise VQLabError(f"--out {run_dir} exists and is not a folder")
    made = False
    path = run_dir / LOCK_FILE
    while True:
        if create and not run_dir.is_dir():
            try:
                run_dir.mkdir(parents=True)
                made = True
            except FileExistsError:
                pass
            except OSError as exc:
                raise VQLabError(f"cannot create run directory {run_dir}: {exc.strerror or exc}") from None
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            if create:
                continue  # a failed attempt removed the empty folder it had made: make it again
            raise VQLabError(f"run directory {run_dir} does not exist") from None
        except OSError as exc:
            raise VQLabError(f"cannot lock run directory {run_dir}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise VQLabError(f"{run_dir} is being trained by another process ({_lock_holder(path)})") from None
            raise VQLabError(f"cannot lock run directory {run_dir}: {exc.strerror or exc}") from None
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder unlinked it after we opened it: lock the file that is there now
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        try:
            path.unlink()
        except OSError:
            pass
        os.close(fd)
        if made:
            try:
                run_dir.rmdir()  # only succeeds when the failed attempt left the new folder empty
            except OSError:
                pass


def _read_config_file(run_dir: Path) -> tuple[cfgmod.Config, dict[str, Any]]:
    """The run's config and what is stored next to it about its data (``channels``, ``image_size``)."""
    path = run_dir / CONFIG_FILE
    if not run_dir.is_dir():
        raise VQLabError(f"run directory {run_dir} does not exist")
    if not path.is_file():
        raise VQLabError(f"{run_dir} is not a vqlab run directory (no {CONFIG_FILE})")
    try:
        data = json.loads(path.read_text())
        extras = {key: data.pop(key, None) for key in ("channels", "image_size")}
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise VQLabError(f"{path} is not a valid run config: {exc}") from None
    return cfgmod.from_dict(data, str(path)), extras


def read_config(run_dir: Path) -> tuple[cfgmod.Config, int | None]:
    """The config a run was trained with and its data's channel count; a folder without one is not a run."""
    cfg, extras = _read_config_file(run_dir)
    return cfg, extras["channels"]


def _image_size(value: Any) -> tuple[int, int] | None:
    """A recorded ``image_size`` [H, W] as a tuple; None when absent (runs from before it was recorded)."""
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return int(value[0]), int(value[1])
    return None


def write_config(run_dir: Path, cfg: cfgmod.Config, data_channels: int,
                 image_size: tuple[int, int] | None = None) -> None:
    """Store the run's config with the dataset's channel count (needed to rebuild the model) and its training
    image size (H, W) (needed to sample without the data)."""
    data = cfg.to_dict()
    data["channels"] = data_channels
    if image_size is not None:
        data["image_size"] = [int(image_size[0]), int(image_size[1])]
    atomic_write_text(run_dir / CONFIG_FILE, json.dumps(data, indent=2, sort_keys=True) + "\n")


@dataclass
class LoadedRun:
    """A trained model ready for inference, with what is needed to feed it.

    ``image_size`` is the (H, W) of the training images, None for runs trained before it was recorded.
    ``checkpoint`` is the folder the weights came from and ``fingerprint`` theirs (see
    :func:`run_fingerprint`); both None for a run assembled by hand. ``task.chroma_scale`` is the gain on the
    predicted colour (colorize runs that predict it).
    """

    model: nn.Module
    config: cfgmod.Config
    task: Task
    step: int
    run_dir: Path
    image_size: tuple[int, int] | None = None
    checkpoint: Path | None = None
    fingerprint: bytes | None = None


def load_run(run_dir: str | Path, device: torch.device | str = "cpu", *, checkpoint: str = "latest",
             chroma_scale: float | None = None, chroma_temperature: float | None = None) -> LoadedRun:
    """Rebuild the model of a run from a checkpoint, in eval mode on ``device``.

    ``checkpoint``: ``"latest"`` (the newest) or ``"best"`` (best validation PSNR; runs whose data had a val
    split). ``chroma_scale`` (colorize runs that predict the colour): the gain on the predicted colour, 0 (gray)
    to 1 (as predicted); None takes the run's own: the gain fitted on validation data and stored with the
    checkpoint for runs trained with ``--chroma-shrink``, else 1. ``chroma_temperature`` (``--likelihood
    chroma-bins`` runs): the annealed mean's temperature instead of the run's own (a stored chroma gain was fitted
    at the run's own temperature; give ``chroma_scale`` too to change it).
    """
    run_dir = Path(run_dir)
    cfg, extras = _read_config_file(run_dir)
    channels = extras["channels"]
    if channels not in (1, 3):
        raise VQLabError(f"{run_dir / CONFIG_FILE} does not record the data's channel count")
    ckpt = find_checkpoint(run_dir, checkpoint)
    state = read_state(ckpt)
    task = Task(cfg.data.task, channels, cfg.data.color_space)
    if chroma_scale is None and cfg.data.chroma_shrink:
        chroma_scale = state.get("chroma_scale")
        if not isinstance(chroma_scale, (int, float)):
            raise VQLabError(f"checkpoint {ckpt} of a --chroma-shrink run records no chroma_scale")
    if chroma_scale is not None:
        if isinstance(chroma_scale, bool) or not isinstance(chroma_scale, (int, float)):
            raise VQLabError(f"chroma_scale must be a number in [0, 1], not {chroma_scale!r}")
        task = dataclasses.replace(task, chroma_scale=float(chroma_scale))
    if chroma_temperature is not None:
        if cfg.model.likelihood != "chroma-bins":
            raise VQLabError(f"chroma_temperature applies to --likelihood chroma-bins runs; {run_dir} was trained "
                             f"with --likelihood {cfg.model.likelihood}")
        if isinstance(chroma_temperature, bool) or not isinstance(chroma_temperature, (int, float)) \
                or not chroma_temperature > 0:
            raise VQLabError(f"chroma_temperature must be a number > 0, not {chroma_temperature!r}")
        cfg.model.chroma_temperature = float(chroma_temperature)
    model = build_model(cfg, task.in_channels, task.out_channels)
    weights_fingerprint = load_weights(ckpt, model)
    model.to(device).eval()
    return LoadedRun(model=model, config=cfg, task=task, step=state["step"], run_dir=run_dir,
                     image_size=_image_size(extras["image_size"]), checkpoint=ckpt, fingerprint=weights_fingerprint)


def run_fingerprint(run: LoadedRun) -> bytes:
    """Fingerprint of the weights ``run`` holds: of the checkpoint it was loaded from, not of whichever checkpoint
    is newest now (a process still training the run may have written a newer one since)."""
    if run.fingerprint is not None:
        return run.fingerprint
    if run.checkpoint is not None:
        return fingerprint(run.checkpoint)
    raise VQLabError(f"run {run.run_dir} has no checkpoint yet (train it first)")


def best_summary(run_dir: Path) -> dict[str, Any] | None:
    """The best checkpoint of a run: ``step``, ``val_psnr``, ``test_psnr`` (the test row logged at that step, if
    any) and ``chroma_scale`` (--chroma-shrink runs); None when the run has no best checkpoint."""
    ckpt = best_checkpoint(Path(run_dir))
    if ckpt is None:
        return None
    state = read_state(ckpt)
    tests = [r for r in read_metrics(Path(run_dir)) if r.get("split") == "test" and r.get("step") == state["step"]]
    return {"step": state["step"], "val_psnr": state.get("val_psnr"),
            "test_psnr": tests[-1].get("psnr") if tests else None, "chroma_scale": state.get("chroma_scale")}


def read_jsonl(path: Path) -> list[Any]:
    """The rows of a JSON-lines file (none when it is missing; a torn last line from a killed process is
    ignored)."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All rows of a run's metrics.jsonl."""
    return read_jsonl(run_dir / METRICS_FILE)


def training_state(run_dir: Path, cfg: cfgmod.Config) -> str:
    """``partial`` (no checkpoint yet, or its newest is short of ``cfg``'s steps and time budget) or ``done``."""
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        return "partial"
    state = read_state(ckpt)
    t = cfg.train
    budget_spent = t.max_minutes is not None and float(state.get("wall_time", 0.0)) >= 60 * t.max_minutes
    return "done" if state["step"] >= t.steps or budget_spent else "partial"


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop metrics rows logged after ``step`` (they belong to work a resumed run will redo)."""
    rows = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
    atomic_write_text(run_dir / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in rows))


def truncate_samples(run_dir: Path, step: int) -> None:
    """Delete sample grids of steps after ``step`` (from work that a resumed or restarted run redoes)."""
    for path in (run_dir / "samples").glob("step_*.png"):
        number = path.stem.removeprefix("step_")
        if number.isdigit() and int(number) > step:
            path.unlink(missing_ok=True)


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    """Append one JSON row to metrics.jsonl and flush it to disk."""
    with open(run_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
