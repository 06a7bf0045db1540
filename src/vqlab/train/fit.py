"""The small training loop shared by the models trained on a VQ-VAE's code maps (the PixelCNN prior, the
context model): step until ``steps`` or a time budget, log the mean NLL in bits every ``log_every`` steps."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def fit_steps(step_loss: Callable[[], torch.Tensor], optimizer: torch.optim.Optimizer, *, steps: int,
              log_every: int, max_minutes: float | None, metrics_path: Path, metric: str, desc: str,
              progress: bool, after_step: Callable[[], None] | None = None) -> tuple[int, float]:
    """Run ``step_loss()`` (a scalar NLL in nats) through ``optimizer`` for ``steps`` steps, or until
    ``max_minutes`` of wall time; ``after_step`` runs after each optimizer step (e.g. a scheduler). Writes
    training rows ``{split, step, wall_time, METRIC}`` (bits) to ``metrics_path`` (replaced).

    Returns (steps done, ``time.perf_counter()`` at the start)."""
    from tqdm import tqdm

    metrics_path.unlink(missing_ok=True)
    start, step, running = time.perf_counter(), 0, []
    unit = metric.rsplit("_per_", 1)[-1]
    bar = tqdm(total=steps, disable=not progress, dynamic_ncols=True, desc=desc)
    while step < steps:
        loss = step_loss()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if after_step is not None:
            after_step()
        step += 1
        running.append(loss.item())
        bar.update(1)
        minutes = (time.perf_counter() - start) / 60
        if step % log_every == 0 or step == steps:
            row = {"split": "train", "step": step, "wall_time": round(minutes * 60, 3),
                   metric: float(np.mean(running)) / math.log(2.0)}
            running = []
            with open(metrics_path, "a") as f:
                f.write(json.dumps(row) + "\n")
            bar.set_postfix({f"bits/{unit}": f"{row[metric]:.3f}"})
        if max_minutes is not None and minutes >= max_minutes:
            break
    bar.close()
    return step, start
