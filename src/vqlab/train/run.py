"""The run directory: the unit of work on disk (config, metrics, checkpoints, samples).

Every command after ``train`` takes a run directory; :func:`load_run` rebuilds its model from it.
"""

from __future__ import annotations

import json
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
from vqlab.train.checkpoint import latest_checkpoint, load_weights, read_state

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"


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
    """

    model: nn.Module
    config: cfgmod.Config
    task: Task
    step: int
    run_dir: Path
    image_size: tuple[int, int] | None = None


def load_run(run_dir: str | Path, device: torch.device | str = "cpu") -> LoadedRun:
    """Rebuild the model of a run from its newest checkpoint, in eval mode on ``device``."""
    run_dir = Path(run_dir)
    cfg, extras = _read_config_file(run_dir)
    channels = extras["channels"]
    if channels not in (1, 3):
        raise VQLabError(f"{run_dir / CONFIG_FILE} does not record the data's channel count")
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise VQLabError(f"run {run_dir} has no checkpoint yet (train it first)")
    state = read_state(ckpt)
    task = Task(cfg.data.task, channels, cfg.data.color_space)
    model = build_model(cfg, task.in_channels, task.out_channels)
    load_weights(ckpt, model)
    model.to(device).eval()
    return LoadedRun(model=model, config=cfg, task=task, step=state["step"], run_dir=run_dir,
                     image_size=_image_size(extras["image_size"]))


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """All rows of a run's metrics.jsonl (a torn last line from a killed process is ignored)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop metrics rows logged after ``step`` (they belong to work a resumed run will redo)."""
    rows = [r for r in read_metrics(run_dir) if r.get("step", 0) <= step]
    atomic_write_text(run_dir / METRICS_FILE, "".join(json.dumps(r) + "\n" for r in rows))


def append_metrics(run_dir: Path, row: dict[str, Any]) -> None:
    """Append one JSON row to metrics.jsonl and flush it to disk."""
    with open(run_dir / METRICS_FILE, "a") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
