"""Full evaluation of a run directory (image metrics and bits/dim), cached in ``RUN/evaluation.json``.

The cache holds one result keyed by the checkpoint step and the options that change the numbers (importance
samples, format version); it is written atomically and recomputed when the run has a newer checkpoint or the
options differ.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write_json

EVAL_FILE = "evaluation.json"
EVAL_VERSION = 1


def _cache_key(step: int, iw_samples: int) -> dict[str, Any]:
    return {"version": EVAL_VERSION, "step": step, "iw_samples": iw_samples}


def read_cached(run_dir: Path, step: int, iw_samples: int) -> dict[str, Any] | None:
    """The cached metrics when they match the run's checkpoint step and the options, else None."""
    path = Path(run_dir) / EVAL_FILE
    try:
        blob = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(blob, dict) or blob.get("key") != _cache_key(step, iw_samples):
        return None
    metrics = blob.get("metrics")
    return metrics if isinstance(metrics, dict) else None


def evaluate_run(run_dir: str | Path, *, iw_samples: int = 100, batch_size: int = 256, use_cache: bool = True
                 ) -> dict[str, Any]:
    """Test-split metrics and bits/dim of a run's newest checkpoint; written to ``RUN/evaluation.json``.

    Returns run facts (model, likelihood, K, D, hidden, step, wall_time) followed by the metrics of
    :func:`vqlab.eval.metrics.evaluate_model` and :func:`vqlab.eval.bits.bits_per_dim`.
    """
    from vqlab.data import load_dataset
    from vqlab.eval.bits import bits_per_dim
    from vqlab.eval.metrics import evaluate_model
    from vqlab.train.checkpoint import latest_checkpoint, read_state
    from vqlab.train.device import default_device, resolve_precision
    from vqlab.train.run import load_run

    if iw_samples < 1:
        raise VQLabError("--iw-samples must be >= 1")
    if batch_size < 1:
        raise VQLabError("--batch-size must be >= 1")
    run_dir = Path(run_dir)
    device = default_device()
    run = load_run(run_dir, device)
    if use_cache:
        cached = read_cached(run_dir, run.step, iw_samples)
        if cached is not None:
            return cached
    ckpt = latest_checkpoint(run_dir)
    wall = float(read_state(ckpt).get("wall_time", math.nan)) if ckpt else math.nan
    m, d = run.config.model, run.config.data
    data = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
    dtype = resolve_precision(run.config.train.precision, device)
    metrics: dict[str, Any] = {
        "run": str(run_dir), "step": run.step, "model": m.name, "task": run.task.name, "likelihood": m.likelihood,
        "K": run.model.num_codes, "D": m.embedding_dim, "hidden": m.hidden,
        "wall_time": wall,
    }
    own = getattr(run.config, m.name, None)  # the model family's own section (vae, vimco), if it has one
    if own is not None:
        metrics.update({f"{m.name}_{k}": v for k, v in dataclasses.asdict(own).items()})
    metrics.update(evaluate_model(run.model, run.task, data.test, batch_size=batch_size, device=device, dtype=dtype))
    if run.task.name == "colorize" and run.task.color_space != "rgb":
        # The model's target is continuous chroma, not 8-bit pixels: a likelihood in bits/dim is not defined.
        metrics.update(bits_per_dim=math.nan,
                       bound=f"none: colorize with --color-space {run.task.color_space} predicts chroma, not pixels")
    else:
        metrics.update(bits_per_dim(run.model, run.task, data.test, train_images=data.train,
                                    iw_samples=iw_samples, batch_size=batch_size, device=device, dtype=dtype))
    atomic_write_json(run_dir / EVAL_FILE, {"key": _cache_key(run.step, iw_samples), "metrics": metrics})
    return metrics
