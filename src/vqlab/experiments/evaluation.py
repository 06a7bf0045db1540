"""Full evaluation of a run directory (image metrics and bits/dim), cached in ``RUN/evaluation.json``.

The cache holds one result keyed by what decides the numbers: the fingerprint of the checkpoint evaluated (so a
run trained again to the same step is evaluated again), the evaluation options (importance samples, batch size:
the bounds' random draws depend on the batching), the device kind and autocast dtype, and :data:`EVAL_VERSION`,
the version of this evaluation code. An unchanged run is never evaluated twice with the same options; the file is
written atomically.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write_json

if TYPE_CHECKING:
    import torch

EVAL_FILE = "evaluation.json"
# Raise it whenever a change to the evaluation (metrics, bounds, sigma fit) changes its numbers.
EVAL_VERSION = 2


def cache_key(ckpt: Path, *, iw_samples: int, batch_size: int, device: torch.device,
              dtype: torch.dtype | None) -> dict[str, Any]:
    """The key of an evaluation of checkpoint folder ``ckpt`` with these options (a JSON-able dict)."""
    from vqlab.train.checkpoint import fingerprint, read_state

    return {"version": EVAL_VERSION, "checkpoint": fingerprint(ckpt).hex(), "step": read_state(ckpt)["step"],
            "iw_samples": iw_samples, "batch_size": batch_size, "device": device.type,
            "dtype": str(dtype) if dtype is not None else "float32"}


def read_cached(run_dir: Path, key: dict[str, Any]) -> dict[str, Any] | None:
    """The metrics cached in ``RUN/evaluation.json`` when they were computed under ``key``, else None."""
    path = Path(run_dir) / EVAL_FILE
    try:
        blob = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if not isinstance(blob, dict) or blob.get("key") != key:
        return None
    metrics = blob.get("metrics")
    return metrics if isinstance(metrics, dict) else None


def evaluate_run(run_dir: str | Path, *, iw_samples: int = 100, batch_size: int = 256, use_cache: bool = True,
                 checkpoint: str = "latest") -> dict[str, Any]:
    """Test-split metrics and bits/dim of a run's newest (or ``checkpoint="best"``) checkpoint; written to
    ``RUN/evaluation.json``.

    Returns run facts (model, likelihood, K, D, hidden, step, wall_time) followed by the metrics of
    :func:`vqlab.eval.metrics.evaluate_model` and :func:`vqlab.eval.bits.bits_per_dim`. With ``use_cache`` a
    result cached under the same key (see :func:`cache_key`) is returned without evaluating.
    """
    from vqlab.data import load_dataset
    from vqlab.eval.bits import bits_per_dim
    from vqlab.eval.metrics import evaluate_model
    from vqlab.train.checkpoint import find_checkpoint, read_state
    from vqlab.train.device import default_device, resolve_precision
    from vqlab.train.run import load_run, read_config, run_fingerprint

    if iw_samples < 1:
        raise VQLabError("--iw-samples must be >= 1")
    if batch_size < 1:
        raise VQLabError("--batch-size must be >= 1")
    run_dir = Path(run_dir)
    device = default_device()
    cfg, _ = read_config(run_dir)
    ckpt = find_checkpoint(run_dir, checkpoint)
    dtype = resolve_precision(cfg.train.precision, device)
    key = cache_key(ckpt, iw_samples=iw_samples, batch_size=batch_size, device=device, dtype=dtype)
    if use_cache:
        cached = read_cached(run_dir, key)
        if cached is not None:
            return cached
    run = load_run(run_dir, device, checkpoint=checkpoint)
    wall = float(read_state(run.checkpoint or ckpt).get("wall_time", math.nan))
    m, d = run.config.model, run.config.data
    data = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
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
    # Keyed by the weights actually loaded: a process still training the run may have written a newer checkpoint.
    key.update(checkpoint=run_fingerprint(run).hex(), step=run.step)
    atomic_write_json(run_dir / EVAL_FILE, {"key": key, "metrics": metrics})
    return metrics
