"""Wall-time estimate of a sweep before it starts, and its ETA while it runs.

Before: seconds per training step of each distinct model shape (the config without seed, steps, learning rate and
logging options), taken from checkpoints this sweep already has for that shape (their ``wall_time / step``) or
else measured by timing a few training steps in this process, times each run's steps still to train (capped by
its ``--max-minutes``). That leaves out process start, data loading and evaluations, so once runs finish the
predictions are corrected: a shape with finished runs uses their measured seconds per step, the others the prior
scaled by (measured / predicted) of the finished runs. Runs already finished are not counted. The wall time of
the sweep is the schedule of those predictions on ``jobs`` slots, in queue order.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vqlab import config as cfgmod
from vqlab.errors import VQLabError

# Train options that change the cost of one step; the others (seed, steps, lr, logging) do not.
COST_FIELDS = ("batch_size", "precision", "compile")
WARMUP_STEPS = 1
TIMED_STEPS = 2


def shape_key(cfg: cfgmod.Config) -> str:
    """Runs with equal keys cost the same per training step."""
    d = cfg.to_dict()
    d["train"] = {k: d["train"][k] for k in COST_FIELDS}
    return json.dumps(d, sort_keys=True)


@dataclass
class RunCost:
    """What is left of one run: ``steps`` to train, its model ``shape`` and ``budget_s``, the seconds its
    ``--max-minutes`` still allows (None: no budget)."""

    name: str
    shape: str
    steps: int
    budget_s: float | None = None


def run_cost(run_dir: Path, name: str, cfg: cfgmod.Config) -> RunCost:
    """The cost left of the run ``name`` planned with ``cfg`` in ``run_dir`` (resumed from its last checkpoint)."""
    step, wall = _checkpoint(run_dir)
    t = cfg.train
    budget = None if t.max_minutes is None else max(60.0 * t.max_minutes - wall, 0.0)
    return RunCost(name, shape_key(cfg), max(t.steps - step, 0), budget)


def _checkpoint(run_dir: Path) -> tuple[int, float]:
    """(step, wall_time) of a run's newest checkpoint; (0, 0.0) without one."""
    from vqlab.train.checkpoint import latest_checkpoint, read_state

    ckpt = latest_checkpoint(run_dir) if run_dir.is_dir() else None
    if ckpt is None:
        return 0, 0.0
    try:
        state = read_state(ckpt)
    except VQLabError:
        return 0, 0.0
    return int(state["step"]), float(state.get("wall_time", 0.0) or 0.0)


def measured_step_seconds(run_dir: Path) -> float | None:
    """Seconds per step a run took so far (training wall time of its newest checkpoint / its step), or None."""
    step, wall = _checkpoint(run_dir)
    return wall / step if step > 0 and wall > 0 and math.isfinite(wall) else None


def time_training_steps(cfg: cfgmod.Config, threads: int | None = None, dataset: Any = None) -> float:
    """Seconds per training step of ``cfg``'s model, measured here on real training images: one warm-up step
    (k-means initialisation, allocations), then :data:`TIMED_STEPS` timed Adam steps with ``threads`` threads."""
    import torch

    from vqlab.data import load_dataset
    from vqlab.data.tasks import Task
    from vqlab.eval.metrics import autocast_context
    from vqlab.models.registry import build_model
    from vqlab.train.device import default_device, resolve_precision

    cfg = cfgmod.resolve(cfgmod.validate(copy.deepcopy(cfg)))
    d, t = cfg.data, cfg.train
    if dataset is None:
        dataset = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
    device = default_device()
    dtype = resolve_precision(t.precision, device)
    task = Task(d.task, dataset.channels, d.color_space)
    before = torch.get_num_threads()
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = build_model(cfg, task.in_channels, task.out_channels).to(device)
            model = model.to(memory_format=torch.channels_last).train()
            optimizer = torch.optim.Adam(model.parameters(), lr=t.lr)
            pick = torch.arange(t.batch_size) % dataset.train.shape[0]
            inputs, targets = task.prepare(dataset.train[pick])
            inputs = inputs.to(device).contiguous(memory_format=torch.channels_last)
            targets = targets.to(device)
            for i in range(WARMUP_STEPS + TIMED_STEPS):
                if i == WARMUP_STEPS:
                    if device.type == "cuda":
                        torch.cuda.synchronize(device)
                    t0 = time.perf_counter()
                with autocast_context(device, dtype):
                    out = model(inputs, targets)
                optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                optimizer.step()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            return (time.perf_counter() - t0) / TIMED_STEPS
    finally:
        torch.set_num_threads(before)


def prior_step_seconds(shapes: dict[str, cfgmod.Config], measured: dict[str, list[float]],
                       timer: Callable[[cfgmod.Config], float] | None) -> tuple[dict[str, float], str]:
    """Seconds per step of each shape in ``shapes`` (key -> a config of that shape): the mean of ``measured``
    (key -> seconds per step of runs on disk) where there is one, else ``timer(config)``; and where they came
    from, in words. A shape without a timer or whose timing fails (data not found, out of memory) is left out."""
    prior: dict[str, float] = {}
    timed = failed = 0
    for key, cfg in shapes.items():
        if measured.get(key):
            prior[key] = statistics.fmean(measured[key])
            continue
        if timer is None:
            failed += 1
            continue
        try:
            prior[key] = timer(cfg)
            timed += 1
        except Exception:  # noqa: BLE001 - an estimate never stops a sweep; the run reports its own error
            failed += 1
    parts = []
    if timed:
        parts.append(f"timing {TIMED_STEPS} training steps of {timed} model shape{'s' * (timed > 1)}, "
                     f"without start-up and evaluations")
    if len(shapes) - timed - failed:
        n = len(shapes) - timed - failed
        parts.append(f"the checkpoints of {n} shape{'s' * (n > 1)}")
    if failed:
        parts.append(f"{failed} shape{'s' * (failed > 1)} not timed")
    return prior, "; ".join(parts) or "nothing"


@dataclass
class SweepETA:
    """Predicted seconds of the runs of a sweep still to train, corrected as they finish."""

    costs: dict[str, RunCost]
    prior: dict[str, float] = field(default_factory=dict)  # shape -> seconds per step before any run finished
    jobs: int = 1
    done: dict[str, float] = field(default_factory=dict)  # name -> measured seconds

    def finished(self, name: str, seconds: float) -> None:
        """Record that run ``name`` took ``seconds`` (wall time of its process)."""
        self.done[name] = seconds

    def _per_step(self, shape: str | None = None) -> list[float]:
        return [s / max(self.costs[n].steps, 1) for n, s in self.done.items()
                if shape is None or self.costs[n].shape == shape]

    def ratio(self) -> float:
        """Measured over predicted seconds of the finished runs whose shape had a prior (1 when none did)."""
        pairs = [(s, self._prior_seconds(self.costs[n])) for n, s in self.done.items()]
        pairs = [(s, p) for s, p in pairs if p is not None and p > 0]
        return sum(s for s, _ in pairs) / sum(p for _, p in pairs) if pairs else 1.0

    def _prior_seconds(self, cost: RunCost) -> float | None:
        per_step = self.prior.get(cost.shape)
        return None if per_step is None else _capped(per_step * cost.steps, cost.budget_s)

    def predicted(self, name: str) -> float | None:
        """Seconds run ``name`` is expected to take; None while nothing is known about its cost."""
        cost = self.costs[name]
        same = self._per_step(cost.shape)
        if same:
            return _capped(statistics.fmean(same) * cost.steps, cost.budget_s)
        prior = self._prior_seconds(cost)
        if prior is not None:
            return prior * self.ratio()
        other = self._per_step()
        return _capped(statistics.fmean(other) * cost.steps, cost.budget_s) if other else None

    def remaining(self, queued: list[str], running: dict[str, float] | None = None) -> float | None:
        """Seconds until the sweep ends: ``running`` (name -> seconds it has run) go on in their slots, then
        ``queued`` start in order, each in the first free one of :attr:`jobs` slots. None when a run's cost is
        unknown."""
        slots = []
        for name, elapsed in (running or {}).items():
            p = self.predicted(name)
            if p is None:
                return None
            slots.append(max(p - elapsed, 0.0))
        slots += [0.0] * max(self.jobs - len(slots), 0)
        for name in queued:
            p = self.predicted(name)
            if p is None:
                return None
            i = min(range(len(slots)), key=slots.__getitem__)
            slots[i] += p
        return max(slots, default=0.0)


def _capped(seconds: float, budget_s: float | None) -> float:
    return seconds if budget_s is None else min(seconds, budget_s)


def minutes(seconds: float | None) -> str:
    """``~12 min`` (one decimal below 10 minutes, hours added from 2 h, ``<0.1 min`` below 6 s); ``unknown``
    for None."""
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    m = seconds / 60
    if m < 0.05:
        return "<0.1 min"
    text = f"~{m:.1f} min" if m < 10 else f"~{m:.0f} min"
    return text + (f" ({m / 60:.1f} h)" if m >= 120 else "")


def plan_eta(out: Path, runs: list, todo: list, jobs: int, threads: int | None = None, *, timing: bool = True,
             timer: Callable[[cfgmod.Config], float] | None = None) -> tuple[SweepETA, str]:
    """The ETA of a sweep in ``out`` whose planned ``runs`` (``sweep.PlannedRun``) leave ``todo`` to train, and
    the line announcing its estimate. Priors come from the sweep's checkpoints and, with ``timing``, from timing
    the shapes that have none with ``timer`` (default: :func:`time_training_steps` with ``threads``)."""
    from vqlab.experiments.sweep import RUNS_DIR

    costs = {r.name: run_cost(out / RUNS_DIR / r.name, r.name, r.config) for r in todo}
    measured: dict[str, list[float]] = {}
    for r in runs:
        seconds = measured_step_seconds(out / RUNS_DIR / r.name)
        if seconds is not None:
            measured.setdefault(shape_key(r.config), []).append(seconds)
    shapes = {costs[r.name].shape: r.config for r in todo}
    if not timing:
        timer = None
    elif timer is None:
        datasets: dict[tuple, Any] = {}

        def timer(cfg: cfgmod.Config) -> float:
            from vqlab.data import load_dataset

            d = cfg.data
            key = (d.dataset, d.root, d.image_size)
            if key not in datasets:
                datasets[key] = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
            return time_training_steps(cfg, threads, datasets[key])

    prior, source = prior_step_seconds(shapes, measured, timer)
    eta = SweepETA(costs, prior, jobs)
    total = eta.remaining([r.name for r in todo])
    if total is None:
        return eta, f"estimated: unknown for {len(todo)} runs (from {source}); an ETA follows the first finished run"
    return eta, f"estimated: {minutes(total)} for {len(todo)} runs (from {source})"
