"""The training loop: step-based, resumable, logging JSON lines, evaluating and checkpointing as it goes."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch

from vqlab import config as cfgmod
from vqlab.data import load_dataset
from vqlab.data.augment import crop_boxes, flip_mask, hflip, random_crop
from vqlab.data.tasks import Task
from vqlab.errors import VQLabError
from vqlab.eval.chroma import fit_chroma_scale
from vqlab.eval.metrics import autocast_context, evaluate_model, predict_rgb, task_target_rgb
from vqlab.eval.samples import make_grid, save_png
from vqlab.models.registry import build_model
from vqlab.train import run as rundir
from vqlab.train.checkpoint import (
    latest_checkpoint,
    load_training_state,
    load_weights,
    mark_best,
    read_state,
    save_checkpoint,
)
from vqlab.train.device import default_device, resolve_precision
from vqlab.train.distributed import (
    DistContext,
    agree,
    barrier,
    check_together,
    init_distributed,
    mean_over_ranks,
    shutdown,
)
from vqlab.train.optim import make_optimizer
from vqlab.train.schedule import budget_fraction, lr_factor
from vqlab.train.validation import BestTracker, evaluate_validation, validation_subset

NUM_SAMPLE_IMAGES = 8
# Scalar fields of a model output logged in the training rows when the model has them (besides loss, recon_loss).
STAT_FIELDS = ("perplexity", "vq_loss", "commitment_loss", "kl", "nelbo", "bound", "mse")


class EpochSampler:
    """Indices of the training batch for every step: a fresh seeded permutation per epoch, dropping the
    remainder. Depends only on (seed, step), so a resumed run sees exactly the batches it would have seen."""

    def __init__(self, num_items: int, batch_size: int, seed: int) -> None:
        if batch_size > num_items:
            raise VQLabError(f"--batch-size {batch_size} is larger than the training set ({num_items} images)")
        self.num_items, self.batch_size, self.seed = num_items, batch_size, seed
        self.per_epoch = num_items // batch_size
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def __call__(self, step: int) -> torch.Tensor:
        """Indices (batch_size,) for 0-based ``step``."""
        epoch, pos = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.num_items, generator=g)
        return self._perm[pos * self.batch_size:(pos + 1) * self.batch_size]


def _check_run_dir(run_dir: Path, resume: bool) -> None:
    """Refuse to overwrite a run or to resume a folder that is not one (read-only: safe on every rank).

    A folder whose config was written by an attempt that failed before its first checkpoint holds no run yet:
    a fresh ``train`` may start over in it (its config and metrics are replaced).
    """
    if resume:
        if not run_dir.exists():
            raise VQLabError(f"cannot resume: run directory {run_dir} does not exist")
        if not (run_dir / rundir.CONFIG_FILE).is_file():
            raise VQLabError(f"cannot resume: {run_dir} is not a vqlab run directory (no {rundir.CONFIG_FILE})")
        return
    if run_dir.exists() and not run_dir.is_dir():
        raise VQLabError(f"--out {run_dir} exists and is not a folder")
    if latest_checkpoint(run_dir) is not None:
        raise VQLabError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")


def _all_finite(model: torch.nn.Module) -> bool:
    return all(torch.isfinite(p).all() for p in model.parameters())


def _write_samples(path: Path, model, task: Task, images: torch.Tensor, device, dtype) -> None:
    inputs, outputs, _ = predict_rgb(model, task, images, device, dtype)
    save_png(path, make_grid([inputs, outputs, task_target_rgb(task, images)]))


def _step_stats(out) -> dict[str, torch.Tensor]:
    """The scalars of a model output that go into the training rows: loss, recon_loss and those it has of
    STAT_FIELDS."""
    stats = {"loss": out.loss, "recon_loss": out.recon_loss}
    for key in STAT_FIELDS:
        value = getattr(out, key, None)
        if value is not None:
            stats[key] = value
    return stats


def train(cfg: cfgmod.Config, run_dir: str | Path, *, resume: bool = False, progress: bool = True) -> dict[str, Any]:
    """Train the model ``cfg`` describes into ``run_dir``; returns the final test metrics.

    When the data has a val split (and ``--val-images`` > 0), every evaluation also scores a fixed subset of it
    (rows with split ``val``) and the checkpoint with the best validation PSNR is kept as ``checkpoints/best``.
    With ``resume`` the run continues from its newest checkpoint (``cfg`` must be the run's own config,
    possibly with more steps). Under ``torchrun`` the global batch is split across ranks and rank 0 alone
    writes. The run directory's lock (:func:`vqlab.train.run.training_lock`) is held throughout, by rank 0.
    Raises VQLabError for bad input, for a run directory another process trains, and for a loss that is not
    finite.
    """
    ctx = init_distributed(default_device())
    run_dir = Path(run_dir)
    try:
        with contextlib.ExitStack() as held:
            def prepare() -> None:
                cfgmod.resolve(cfgmod.validate(cfg))
                if ctx.is_main and (not resume or run_dir.is_dir()):
                    # The lock comes first: the checks below and every write happen under it, so two trainers
                    # started at once cannot both find the folder free. Rank 0 alone holds it for the job.
                    held.enter_context(rundir.training_lock(run_dir, create=not resume))
                _check_run_dir(run_dir, resume)
                if cfg.train.batch_size % ctx.world_size:
                    raise VQLabError(f"--batch-size {cfg.train.batch_size} is not divisible by the "
                                     f"{ctx.world_size} processes")

            check_together(ctx, prepare)  # every rank fails together (no rank left waiting in a collective)
            result = _train(cfg, run_dir, resume, progress, ctx)
            # Every rank done (rank 0's last writes included) before any leaves the group: a rank that tears gloo
            # down while another still talks to it can abort at exit ("terminate called without an active
            # exception"). Only on success: after an error a rank may be gone, and a barrier would wait for it.
            barrier(ctx)
            return result
    finally:
        shutdown(ctx)


def _train(cfg: cfgmod.Config, run_dir: Path, resume: bool, progress: bool, ctx: DistContext) -> dict[str, Any]:
    from tqdm import tqdm

    t = cfg.train
    local_batch = t.batch_size // ctx.world_size
    torch.manual_seed(t.seed)

    def load() -> Any:
        return load_dataset(cfg.data.dataset, root=cfg.data.root, image_size=cfg.data.image_size,
                            download=cfg.data.download)

    dataset = load() if ctx.is_main else None  # rank 0 first: it may build a cache or download
    barrier(ctx)
    dataset = dataset if dataset is not None else load()
    h, w = dataset.image_size
    f = cfg.model.downsample
    if h % f or w % f:
        raise VQLabError(f"image size {h}x{w} is not divisible by --downsample {f}; pass --image-size")
    task = Task(cfg.data.task, dataset.channels, cfg.data.color_space)
    device = ctx.device
    dtype = resolve_precision(t.precision, device)
    model = build_model(cfg, task.in_channels, task.out_channels).to(device)
    model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(model, t.lr, t.weight_decay)
    val_images = validation_subset(dataset.val, t.val_images)
    if cfg.data.chroma_shrink and val_images is None:
        raise VQLabError(f"--chroma-shrink fits its gain on a validation split; --data {cfg.data.dataset} has none"
                         + (" (--val-images is 0)" if dataset.val is not None and dataset.val.shape[0] else ""))

    start_step, wall_offset = 0, 0.0
    ckpt = latest_checkpoint(run_dir) if resume else None
    if ckpt is not None:
        state = read_state(ckpt)
        load_weights(ckpt, model)
        load_training_state(ckpt, optimizer)
        start_step, wall_offset = state["step"], float(state.get("wall_time", 0.0))
        if start_step > t.steps:
            raise VQLabError(f"run is at step {start_step}, beyond --steps {t.steps}")
        saved_steps = rundir.read_config(run_dir)[0].train.steps
        if ctx.is_main and t.lr_schedule == "cosine" and saved_steps != t.steps and start_step < t.steps:
            print(f"warning: the cosine learning-rate schedule now anneals over {t.steps} steps instead of "
                  f"{saved_steps}: from step {start_step} on the rate follows the new curve, so this run will not "
                  f"match one trained for {t.steps} steps from the start", file=sys.stderr)
    best = BestTracker.from_run(run_dir, start_step) if ckpt is not None else BestTracker()
    barrier(ctx)
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        rundir.write_config(run_dir, cfg, dataset.channels, dataset.image_size)
        rundir.truncate_metrics(run_dir, start_step)
        rundir.truncate_samples(run_dir, start_step)

    forward: torch.nn.Module = model
    if ctx.enabled:
        from torch.nn.parallel import DistributedDataParallel

        # The quantizer keeps its buffers in sync itself (all-reduced statistics), so no buffer broadcast.
        forward = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                          broadcast_buffers=False)
    if t.compile:
        forward = torch.compile(forward)

    sampler = EpochSampler(dataset.train.shape[0], t.batch_size, t.seed)
    pick = torch.linspace(0, dataset.test.shape[0] - 1, min(NUM_SAMPLE_IMAGES, dataset.test.shape[0])).long()
    sample_images = dataset.test[pick]
    last_good = start_step if ckpt is not None else None
    t0 = time.time()
    sums: torch.Tensor | None = None
    n_sum = 0
    final: dict[str, Any] = {}
    bar = tqdm(total=t.steps, initial=start_step, disable=not (progress and ctx.is_main), dynamic_ncols=True,
               unit="step")
    model.train()
    try:
        for step in range(start_step + 1, t.steps + 1):
            mine = slice(ctx.rank * local_batch, (ctx.rank + 1) * local_batch)
            images = dataset.train[sampler(step - 1)[mine]]
            if cfg.data.random_crop < 1:
                images = random_crop(images, crop_boxes(t.seed, step, t.batch_size, cfg.data.random_crop)[mine])
            if cfg.data.hflip:
                images = hflip(images, flip_mask(t.seed, step, t.batch_size)[mine])
            inputs, targets = task.prepare(images)
            inputs = inputs.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
            targets = targets.to(device, non_blocking=True)
            with autocast_context(device, dtype):
                out = forward(inputs, targets)
            stats = _step_stats(out)
            # The wall time rides along so that every rank anneals the learning rate by the same clock.
            local = [v.detach().float() for v in stats.values()]
            local.append(torch.tensor(wall_offset + time.time() - t0, device=local[0].device))
            values = mean_over_ranks(ctx, torch.stack(local))
            values, clock = values[:-1], float(values[-1])
            loss_value = float(values[0])
            if not math.isfinite(loss_value):
                where = f"step {last_good}" if last_good is not None else "none (no checkpoint was written yet)"
                raise VQLabError(f"loss became {loss_value} at step {step}; training stopped. "
                                 f"Last good checkpoint: {where}. Try a lower --lr or --precision fp32")
            optimizer.zero_grad(set_to_none=True)
            out.loss.backward()
            lr = t.lr * lr_factor(t.lr_schedule, step, budget_fraction(step - 1, t.steps, clock, t.max_minutes),
                                  t.warmup_steps)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.step()

            sums = values if sums is None else sums + values
            n_sum += 1
            bar.update(1)
            wall = wall_offset + time.time() - t0
            # The last step: --steps reached, or the time budget spent (all ranks stop at the same step).
            last = step == t.steps or (t.max_minutes is not None and not agree(ctx, wall < 60 * t.max_minutes))

            if ctx.is_main and (step % t.log_every == 0 or last):
                row = {"split": "train", "step": step, "wall_time": round(wall, 3), "lr": lr,
                       **{k: float(v) / n_sum for k, v in zip(stats, sums)}}
                rundir.append_metrics(run_dir, row)
                bar.set_postfix({k: f"{row[k]:.4g}" for k in ("loss", "perplexity") if k in row})
            if step % t.log_every == 0 or last:
                sums, n_sum = None, 0

            improved, val_state = False, {}
            if step % t.eval_every == 0 or last:
                if ctx.is_main:
                    out_task = task
                    if val_images is not None:
                        val, out_task = evaluate_validation(model, task, val_images, shrink=cfg.data.chroma_shrink,
                                                            batch_size=t.eval_batch_size, device=device, dtype=dtype)
                        rundir.append_metrics(run_dir, {"split": "val", "step": step, "wall_time": round(wall, 3),
                                                        **val})
                        improved = best.offer(step, val["psnr"])
                        val_state = {"val_psnr": val["psnr"]}
                    final = evaluate_model(model, out_task, dataset.test, batch_size=t.eval_batch_size,
                                           device=device, dtype=dtype)
                    _write_samples(run_dir / "samples" / f"step_{step:08d}.png", model, out_task, sample_images,
                                   device, dtype)
                    shrunk = {"chroma_scale": out_task.chroma_scale} if cfg.data.chroma_shrink else {}
                    val_state.update(shrunk)
                    rundir.append_metrics(run_dir, {"split": "test", "step": step, "wall_time": round(wall, 3),
                                                    **final, **shrunk})
                model.train()
                barrier(ctx)
                improved = not agree(ctx, not improved)  # rank 0 decides; every rank then checkpoints

            if step % t.checkpoint_every == 0 or last or improved:
                if not agree(ctx, _all_finite(model)):
                    raise VQLabError(f"weights became non-finite at step {step}; training stopped. "
                                     f"Last good checkpoint: step {last_good}")
                if ctx.is_main:
                    if cfg.data.chroma_shrink and "chroma_scale" not in val_state:  # between evaluations
                        scale = fit_chroma_scale(model, task, val_images, batch_size=t.eval_batch_size,
                                                 device=device, dtype=dtype)
                        model.train()
                        val_state = {"chroma_scale": scale}
                    save_checkpoint(run_dir, step, model, optimizer,
                                    {"wall_time": wall_offset + time.time() - t0, "world_size": ctx.world_size,
                                     **val_state}, keep=t.keep_checkpoints)
                    if improved:
                        mark_best(run_dir, step, keep=t.keep_checkpoints)
                barrier(ctx)
                last_good = step
            if last:
                break
    finally:
        bar.close()
    if not final and ckpt is not None and ctx.is_main:
        # Resumed a finished run: report its metrics without training further.
        if cfg.data.chroma_shrink:
            task = dataclasses.replace(task, chroma_scale=float(state.get("chroma_scale", 1.0)))
        final = evaluate_model(model, task, dataset.test, batch_size=t.eval_batch_size, device=device, dtype=dtype)
    return final
