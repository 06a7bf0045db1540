"""Sweeps: a grid of training runs from comma lists of train options, run (and resumed) one process per run.

A sweep folder holds ``sweep.json`` (the plan), ``runs/NAME/`` (one run directory per planned run) and, once
the runs are finished, ``results.csv`` and ``figures/``. Run names are stable and readable (``K32-D16-s1``): the
value of every varied option, then the seed. Planning a sweep again gives the same names, so a sweep that was
interrupted can be run again: finished runs are skipped, unfinished ones resume from their last checkpoint.
"""

from __future__ import annotations

import copy
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vqlab import config as cfgmod
from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write_json, atomic_write_text

PLAN_FILE = "sweep.json"
RUNS_DIR = "runs"
CONFIGS_DIR = "configs"
# Short labels of common options in run names; other options use their flag name.
LABELS = {"num_embeddings": "K", "embedding_dim": "D", "hidden": "h", "seed": "s", "model": "", "lr": "lr",
          "batch_size": "b", "steps": "steps", "likelihood": "", "task": "", "data": ""}
# Options a finished run may change without being trained again from scratch (declared in vqlab.config).
RESUMABLE_FIELDS = {(s, f.name) for s, f in cfgmod.options() if f.metadata.get("resumable")}
# Resumable options that still decide a finished run's result: an archived result only stands for a planned run
# with the same values. A run folder may be resumed to more steps, unless its learning rate is annealed over its
# steps (cosine): the resumed run would then differ from one trained for the planned steps from the start.
RESULT_FIELDS = {("train", "steps"), ("train", "max_minutes")}


@dataclass
class PlannedRun:
    """One run of a sweep: its name, the value of every varied option (CLI dest -> value) and its config."""

    name: str
    settings: dict[str, Any]
    config: cfgmod.Config

    @property
    def setting(self) -> str:
        """The name without the seed: runs that differ only in their seed share it."""
        return re.sub(r"-?s\d+$", "", self.name) or "default"


def _label(dest: str, value: Any) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value).lower() if isinstance(value, bool) else str(value)
    text = re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")
    prefix = LABELS.get(dest, dest.replace("_", "-"))
    return f"{prefix}{text}" if prefix in ("K", "D", "h", "s", "b", "lr", "steps") else (
        f"{prefix}_{text}" if prefix else text)


def run_name(settings: dict[str, Any], axes: Sequence[str]) -> str:
    """``K32-D16-s1``: the label of each axis in ``axes`` order, seed last."""
    parts = [_label(dest, settings[dest]) for dest in axes if dest != "seed"]
    return "-".join(parts + ([_label("seed", settings["seed"])] if "seed" in settings else []))


def plan_sweep(base: cfgmod.Config, axes: dict[str, list[Any]], flags: dict[str, tuple[str, str]],
               vary: bool = False) -> list[PlannedRun]:
    """Expand ``axes`` (CLI dest -> list of values, ``seed`` included) into runs on top of ``base``.

    The full product by default; with ``vary`` one axis at a time, the others at their value in ``base``
    (runs that coincide, such as the all-defaults run, are planned once). ``flags`` maps each dest to its
    (config section, field), as :data:`vqlab.cli_train.TRAIN_FLAGS`. Every config is validated.
    """
    axes = {dest: list(dict.fromkeys(values)) for dest, values in axes.items()}
    axes.setdefault("seed", [base.train.seed])
    names = [d for d in axes if d != "seed"]
    default = {d: getattr(getattr(base, flags[d][0]), flags[d][1]) for d in names}
    combos: list[dict[str, Any]] = []
    if vary and len(names) > 1:
        for d in names:
            combos += [{**default, d: v} for v in axes[d]]
    else:
        combos = [dict(zip(names, values)) for values in itertools.product(*(axes[d] for d in names))]
    runs: dict[str, PlannedRun] = {}
    for combo in combos:
        for seed in axes["seed"]:
            settings = {**combo, "seed": seed}
            # A copy of the unresolved base: its `auto` choices resolve with this run's own settings.
            cfg = copy.deepcopy(base)
            for dest, value in settings.items():
                section, field = flags[dest]
                setattr(getattr(cfg, section), field, value)
            try:
                cfgmod.resolve(cfgmod.validate(cfg))
            except VQLabError as exc:
                raise VQLabError(f"sweep setting {run_name(settings, names)}: {exc}") from None
            name = run_name(settings, names)
            runs.setdefault(name, PlannedRun(name, settings, cfg))
    return list(runs.values())


def write_plan(out: Path, runs: list[PlannedRun], axes: Sequence[str], vary: bool,
               archived: Sequence[str] = ()) -> None:
    """Record the plan in ``OUT/sweep.json`` (what ``results`` and ``report`` read back); ``archived`` names the
    planned runs that are recorded in a study's archive instead of trained here (see :func:`archived_runs`).

    Refused (VQLabError, nothing written) when a run of the plan already exists with other settings, so a sweep
    that is refused leaves the plan of the existing runs in place."""
    check_runs(out, [r for r in runs if r.name not in set(archived)])
    atomic_write_json(out / PLAN_FILE, {
        "axes": [a for a in axes if a != "seed"], "vary": vary,
        "runs": [{"name": r.name, "setting": r.setting, "settings": r.settings} for r in runs],
        "archived": sorted(archived)})


def local_runs(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The planned runs of a sweep's plan that are trained in its folder (all but the archived ones)."""
    archived = set(plan.get("archived", []))
    return [r for r in plan["runs"] if r["name"] not in archived]


def read_archive(path: Path) -> list[dict[str, Any]]:
    """The records of a study's run archive: JSON lines, each with at least ``name`` and ``config`` (the run's
    config.json) and the run's results. A missing file is an empty archive; an unreadable one is an error."""
    path = Path(path)
    if not path.is_file():
        return []
    records = []
    try:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.strip():
                record = json.loads(line)
                if not isinstance(record, dict) or "name" not in record or not isinstance(record.get("config"), dict):
                    raise ValueError(f"line {number} has no name and config")
                records.append(record)
    except (OSError, ValueError) as e:
        raise VQLabError(f"{path} is not a run archive ({e})") from None
    return records


def archived_runs(path: Path, runs: list[PlannedRun]) -> tuple[list[str], list[str]]:
    """(names of the planned runs that ``path`` records with the planned settings, names it records with other
    settings). Runs finished in an earlier session keep their results there when their folders are gone; a sweep
    does not train them again. A record with other settings does not count: that run is trained."""
    records = {r["name"]: r for r in read_archive(path)}
    same, other = [], []
    for run in runs:
        record = records.get(run.name)
        if record is not None:
            saved = _in_todays_layout(record["config"], f"{path}: {run.name}")
            (other if _differences(saved, run.config.to_dict(), RESULT_FIELDS) else same).append(run.name)
    return same, other


def _in_todays_layout(saved: dict[str, Any], source: str) -> dict[str, Any]:
    """A saved config (a run's config.json or an archive record) with today's defaults for the options added since
    it was written (the defaults keep the old behaviour), so that only real differences count; compared as written
    when it is not a valid config."""
    try:
        return cfgmod.from_dict({k: v for k, v in saved.items() if k in cfgmod.SECTIONS}, source).to_dict()
    except VQLabError:
        return saved


def read_plan(out: Path) -> dict[str, Any]:
    """The plan a sweep folder was run with."""
    try:
        return json.loads((Path(out) / PLAN_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        raise VQLabError(f"{out} is not a sweep folder (no readable {PLAN_FILE}); run 'vqlab sweep' first") from None


def _comparable(cfg_dict: dict[str, Any], keep: set[tuple[str, str]]) -> dict[str, Any]:
    return {s: {k: v for k, v in fields.items() if (s, k) not in RESUMABLE_FIELDS or (s, k) in keep}
            for s, fields in cfg_dict.items() if s in cfgmod.SECTIONS}


def _annealed(cfg_dict: dict[str, Any]) -> bool:
    return (cfg_dict.get("train") or {}).get("lr_schedule", "cosine") == "cosine"


def _differences(saved: dict[str, Any], planned: dict[str, Any],
                 keep: set[tuple[str, str]] | None = None) -> list[str]:
    """``section.field: OLD in the run, NEW planned`` for every option that differs and a resume cannot change
    (``keep``: resumable options that count all the same; by default the steps of an annealed schedule)."""
    if keep is None:
        keep = {("train", "steps")} if _annealed(saved) or _annealed(planned) else set()
    a, b = _comparable(saved, keep), _comparable(planned, keep)
    missing = "unset"
    out = []
    for section in cfgmod.SECTIONS:
        old, new = a.get(section) or {}, b.get(section) or {}
        for key in sorted(set(old) | set(new)):
            if old.get(key, missing) != new.get(key, missing):
                out.append(f"{section}.{key}: {json.dumps(old.get(key, missing))} in the run, "
                           f"{json.dumps(new.get(key, missing))} planned")
    return out


def run_state(run_dir: Path, cfg: cfgmod.Config) -> str:
    """``done`` (its newest checkpoint is at ``steps``, or its time budget is spent), ``partial`` (resume it)
    or ``new``. A folder holding a run with a different config (other than in the options a resume may change)
    is an error naming the run and each differing option: the sweep would mix results or retrain the run."""
    from vqlab.train.run import training_state

    path = run_dir / "config.json"
    if not path.is_file():
        return "new"
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        saved = None
    if not isinstance(saved, dict):
        raise VQLabError(f"{path} is unreadable; remove {run_dir} to train it again")
    diffs = _differences(_in_todays_layout(saved, str(path)), cfg.to_dict())
    if diffs:
        why = ("; its cosine learning-rate schedule anneals over the steps it was started with, so resuming it to "
               "other steps would not give the planned run" if any(d.startswith("train.steps:") for d in diffs)
               else "")
        raise VQLabError(f"sweep run {run_dir.name}: {run_dir} holds a run with other settings than this sweep "
                         f"plans ({'; '.join(diffs)}{why}); use another --out, or remove {run_dir} to train it "
                         "again")
    return training_state(run_dir, cfg)


def check_runs(out: Path, runs: list[PlannedRun]) -> dict[str, str]:
    """:func:`run_state` of every planned run (name -> state), before anything is started or written."""
    return {run.name: run_state(out / RUNS_DIR / run.name, run.config) for run in runs}


def train_command(run_dir: Path, config_file: Path, cfg: cfgmod.Config, resume: bool) -> list[str]:
    """The ``python -m vqlab train`` command line that trains (or resumes) one run."""
    cmd = [sys.executable, "-m", "vqlab", "train", "--out", str(run_dir), "--no-progress"]
    if not resume:
        return cmd + ["--config", str(config_file)]
    t = cfg.train
    cmd += ["--resume", "--steps", str(t.steps), "--log-every", str(t.log_every), "--eval-every", str(t.eval_every),
            "--checkpoint-every", str(t.checkpoint_every)]
    return cmd + (["--max-minutes", str(t.max_minutes)] if t.max_minutes is not None else [])


def _child_env(threads: int | None) -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])  # the folder holding the vqlab package
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    if threads is not None:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(threads)
    return env


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no log"
    return lines[-1] if lines else "empty log"


def run_sweep(out: Path, runs: list[PlannedRun], *, jobs: int = 1,
              echo: Callable[[str], None] = lambda s: None, estimate: bool = False) -> dict[str, str]:
    """Train every planned run that is not finished, at most ``jobs`` processes at once.

    Each run trains in its own ``python -m vqlab train`` process (log in ``RUN/train.log``); with several jobs
    each gets ``cores // jobs`` threads. On KeyboardInterrupt the children are stopped (their last checkpoint
    stays) and the interrupt is re-raised. Returns run name -> ``skipped``/``trained``; a failed run is a
    VQLabError naming it, raised after the others have finished. With ``estimate`` the wall time of the runs to
    train is estimated first (:mod:`vqlab.experiments.eta`, timing a few steps of each model shape) and echoed;
    each finished run is echoed with the ETA of the rest.
    """
    from vqlab.experiments.eta import minutes, plan_eta

    if jobs < 1:
        raise VQLabError("--jobs must be >= 1")
    threads = max(1, (os.cpu_count() or 1) // jobs) if jobs > 1 else None
    outcome: dict[str, str] = {}
    todo: list[tuple[PlannedRun, bool]] = []
    states = check_runs(out, runs)  # every run is checked before any is started
    for run in runs:
        state = states[run.name]
        if state == "done":
            outcome[run.name] = "skipped"
        else:
            todo.append((run, state == "partial"))
    echo(f"{len(runs)} runs: {len(outcome)} finished, {len(todo)} to train ({jobs} at a time)")
    eta, estimate_line = plan_eta(out, runs, [r for r, _ in todo], jobs, threads, timing=estimate)
    if estimate and todo:
        echo(estimate_line)
    running: list[tuple[PlannedRun, subprocess.Popen, Any, float]] = []
    failed: list[str] = []
    done, total = 0, len(todo)  # runs finished before this call are not counted
    try:
        while todo or running:
            while todo and len(running) < jobs:
                run, resume = todo.pop(0)
                run_dir = out / RUNS_DIR / run.name
                config_file = out / CONFIGS_DIR / f"{run.name}.json"
                atomic_write_text(config_file, run.config.to_json() + "\n")  # JSON is YAML
                run_dir.mkdir(parents=True, exist_ok=True)
                log = open(run_dir / "train.log", "a")  # noqa: SIM115 - closed when the process ends
                proc = subprocess.Popen(train_command(run_dir, config_file, run.config, resume), stdout=log,
                                        stderr=subprocess.STDOUT, env=_child_env(threads))
                echo(f"{'resume' if resume else 'start '} {run.name}")
                running.append((run, proc, log, time.time()))
            time.sleep(0.2)
            for item in list(running):
                run, proc, log, t0 = item
                if proc.poll() is None:
                    continue
                running.remove(item)
                log.close()
                done += 1
                if proc.returncode == 0:
                    outcome[run.name] = "trained"
                    now = time.time()
                    eta.finished(run.name, now - t0)
                    left = eta.remaining([r.name for r, _ in todo], {r.name: now - t for r, _, _, t in running})
                    echo(f"[{done}/{total}] {run.name} done in {now - t0:.0f} s; ETA {minutes(left)}")
                else:
                    failed.append(f"{run.name} ({_last_line(out / RUNS_DIR / run.name / 'train.log')})")
                    echo(f"[{done}/{total}] {run.name} FAILED (exit {proc.returncode})")
    except BaseException:
        for _, proc, log, _ in running:
            proc.terminate()
        for _, proc, log, _ in running:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()
        raise
    if failed:
        raise VQLabError(f"{len(failed)} run(s) failed (see RUN/train.log): {'; '.join(failed)}")
    return outcome
