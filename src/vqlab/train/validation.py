"""Validation while training: a fixed subset of the data's val split scored at each evaluation, the best checkpoint
chosen on its PSNR, and (colorize runs that predict the colour) the chroma gain fitted on it.

The subset is ``--val-images`` crops evenly spaced over the split (the split is stored photo by photo, so every
validation photograph contributes in proportion to its crops); it depends only on the data, so a resumed or
multi-process run scores the same images. Data without a val split (``ImageDataset.val`` is None) and
``--val-images 0`` give no validation: the run trains and evaluates exactly as before.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import torch

from vqlab.data.tasks import Task
from vqlab.eval.chroma import fit_chroma_scale
from vqlab.eval.metrics import evaluate_model
from vqlab.train.checkpoint import best_checkpoint, read_state


def validation_subset(val: torch.Tensor | None, count: int) -> torch.Tensor | None:
    """At most ``count`` images of the val split (N, C, H, W), evenly spaced; None without validation."""
    if val is None or val.shape[0] == 0 or count <= 0:
        return None
    if val.shape[0] <= count:
        return val
    return val[torch.linspace(0, val.shape[0] - 1, count).round().long()]


def evaluate_validation(model: torch.nn.Module, task: Task, images: torch.Tensor, *, shrink: bool,
                        batch_size: int, device: torch.device, dtype: torch.dtype | None
                        ) -> tuple[dict[str, Any], Task]:
    """Score the model on the validation images; returns (the metrics row's values, the task its outputs use).

    For a task that predicts the colour the row holds ``fitted_chroma_scale`` (:mod:`vqlab.eval.chroma`); with
    ``shrink`` the metrics, and the returned task, apply that gain. Otherwise the task is returned unchanged.
    """
    extra: dict[str, Any] = {}
    if task.predicts_chroma:
        scale = fit_chroma_scale(model, task, images, batch_size=batch_size, device=device, dtype=dtype)
        extra["fitted_chroma_scale"] = scale
        if shrink:
            task = dataclasses.replace(task, chroma_scale=scale)
    metrics = evaluate_model(model, task, images, batch_size=batch_size, device=device, dtype=dtype)
    return {**metrics, **extra}, task


@dataclasses.dataclass
class BestTracker:
    """The best validation PSNR so far and its step (None before the first validation)."""

    step: int | None = None
    psnr: float = -math.inf

    def offer(self, step: int, psnr: float) -> bool:
        """Record ``psnr`` at ``step``; True when it beats every earlier one (the run then marks it best)."""
        if not (isinstance(psnr, float) and not math.isnan(psnr)) or psnr <= self.psnr:
            return False
        self.step, self.psnr = step, psnr
        return True

    @classmethod
    def from_run(cls, run_dir: Path, start_step: int) -> BestTracker:
        """The best so far of a run resumed at ``start_step``, from its ``best`` checkpoint (if any)."""
        ckpt = best_checkpoint(run_dir)
        if ckpt is None:
            return cls()
        state = read_state(ckpt)
        psnr = state.get("val_psnr")
        if state["step"] > start_step or not isinstance(psnr, (int, float)):
            return cls()
        return cls(state["step"], float(psnr))
