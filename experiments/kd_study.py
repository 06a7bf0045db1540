#!/usr/bin/env python3
"""The K/D study of issue 12: runs its sweeps (resumable) and, with --page, rewrites docs/experiments.md.

Stages, in order (each a ``vqlab sweep`` into ROOT/NAME; run the script again to continue where it stopped):

  fm-budget      Fashion-MNIST, reconstruct, default model: --steps 1500,3000,6000,12000 (seed 0), doubled further
                 while the last doubling still gains (up to --max-budget); picks the budget
  fm-kd          Fashion-MNIST, reconstruct: K in 8..2048 at D=64, D in 2..256 at K=512, 3 seeds, at that budget
  color-kd       photos, colorize, the same axes at the default colorize budget (3000 steps), 3 seeds
  photos-budget  photos, reconstruct: the same budget sweep; picks the budget
  photos-kd      photos, reconstruct: the K/D axes, 3 seeds, at that budget
  fm-check, photos-check
                 seed 0 of every other K/D setting at twice the budget: each setting counts as converged when
                 doubling its steps gains less than CONVERGED_DB of test PSNR (the default setting's doubling is
                 the budget sweep's)
  fm-more, photos-more
                 every setting that has not converged at its stage's steps is doubled again (seed 0) until a
                 doubling gains less than CONVERGED_DB (or up to --max-budget), then trained with every seed at
                 the steps where it stopped (the settings nearest to done first); the page's K/D tables show each
                 setting there. One sweep folder per (K, D, steps): ROOT/fm-more/K8-D64-steps12000. A K/D
                 stage keeps the steps it started with even when the budget sweep later picks more: this stage
                 carries its settings on.

Every finished run is recorded in the run archive (--archive, default experiments/results/STAGE/, committed with
the page): a later session on a machine that kept no run folders trains only what the archive lacks, and
kd_page.py builds the page from both.

The budget rule (kd_page.pick_budget): the smallest step count from which every further doubling in the grid gains
less than GAIN_DB of test PSNR (the largest tried when the last doubling still gains more; the page then says the
budget is not shown to be flat). The toy mode (--toy) runs every stage at a few
steps with a tiny model on the data given by --toy-data, for the integration test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

K_VALUES = "8,32,128,512,2048"
D_VALUES = "2,8,32,64,256"
BUDGET_STEPS = (1500, 3000, 6000, 12000)
FASHION = ["--data", "fashion-mnist"]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from kd_page import (
    ARCHIVE,
    MAX_BUDGET,
    more_name,
    more_rows,
    more_step,
    next_budget,
    pick_budget,
    read_plan,
    run_rows,
    seed0_psnr,
    setting_runs,
)


def sweep(root: Path, name: str, args: list[str], archive: Path, log) -> list[dict]:
    """Run one ``vqlab sweep`` into ROOT/NAME (skipping the runs archived in ARCHIVE/NAME), then archive its
    finished runs; returns the rows of every finished run of its plan (here or archived)."""
    out = root / name
    cmd = [sys.executable, "-m", "vqlab", "sweep", "--out", str(out), "--log-every", "10", *args]
    log(f"[{time.strftime('%H:%M:%S')}] {name}: {' '.join(cmd[1:])}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text("OMP_NUM_THREADS=1 vqlab " + " ".join(cmd[3:]) + "\n")
    proc = subprocess.run([*cmd, "--skip-archived", str(archive / name / "runs.jsonl")], check=False)
    rows, missing, from_archive = run_rows(out, archive / name)  # archived even when a run failed
    log(f"{name}: {len(rows)} runs finished ({from_archive} from {archive / name}), {missing} missing")
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return rows


def axis_without(values: str, default: int) -> list[str]:
    """The comma-separated VALUES of a K/D axis without the default one, unless that leaves a single value (the
    sweep would then set it for every run instead of varying it): then all of them."""
    rest = [v for v in values.split(",") if int(v) != default]
    return rest if len(rest) > 1 else values.split(",")


def default_kd(toy: bool) -> tuple[int, int]:
    """(K, D) of the default model (of the tiny preset with --toy): the setting every K/D axis passes through."""
    from vqlab import config as cfgmod

    cfg = cfgmod.Config()
    if toy:
        cfgmod.apply_overrides(cfg, cfgmod.preset_overrides("tiny"), "preset tiny")
    return cfg.model.num_embeddings, cfg.model.embedding_dim


def more_eval_every(steps: int) -> int:
    """Steps between the test evaluations of a more-stage run: about 12 along the run, a multiple of 500 (500 at
    6000 steps and below, 2000 at 24000, 4000 at 48000). A Fashion-MNIST evaluation (10000 test images) costs
    about as much as 80 training steps, so at the K/D stages' 500 it would add a sixth to a 48000-step run; the
    page needs the final evaluation and the one at three quarters of the run (both kept). Checkpoints stay every 500
    steps, so a stopped run loses little."""
    return max(500, steps // 12 // 500 * 500)


def more_stage(args: argparse.Namespace, stage: str, flags: list[str], archive: Path, log) -> None:
    """The more stage of kd_study's docstring: one worker per K/D setting (ARGS.jobs at a time), each training
    what kd_page.more_step asks for, one sweep at a time, until it asks for nothing. A sweep of several seeds
    trains up to ARGS.jobs of them at once (a single setting left would otherwise use one core)."""
    prefix = stage.split("-")[0]
    rows, unchecked = {}, set()
    for name in (f"{prefix}-kd", f"{prefix}-check", f"{prefix}-budget"):
        rows[name], missing, _ = run_rows(args.root / name, archive / name)
        if name == f"{prefix}-check" and rows[name] and missing:
            # The check stage still running: the settings whose check run is finished can go on meanwhile.
            plan, _ = read_plan(args.root / name, archive / name)
            done = {(int(r["num_embeddings"]), int(r["embedding_dim"])) for r in rows[name]}
            unchecked = {(int(r["settings"]["num_embeddings"]), int(r["settings"]["embedding_dim"]))
                         for r in plan["runs"]} - done  # type: ignore[index]
        elif missing or not rows[name]:
            state = f"has {missing} planned runs not finished" if missing else "has not run"
            print(f"error: {stage} needs {name}, which {state}: run that stage", file=sys.stderr)
            raise SystemExit(2)
    start = min(int(r["steps"]) for r in rows[f"{prefix}-kd"])
    cap = args.max_budget or (4 * start if args.toy else MAX_BUDGET)
    default = default_kd(args.toy)

    def carry_on(key: tuple[int, int]) -> str:
        if key in unchecked:
            return f"K{key[0]}-D{key[1]}: its {prefix}-check run is not finished; run this stage again after it"
        asked = None
        while True:
            own, _ = more_rows(args.root, stage, archive, only=key)
            runs = setting_runs(rows[f"{prefix}-kd"], rows[f"{prefix}-check"], own, rows[f"{prefix}-budget"],
                                default)[key]
            nxt = more_step(runs, start, len(runs[start]), cap)
            if nxt is None:
                return f"K{key[0]}-D{key[1]}: done"
            if nxt == asked:
                raise RuntimeError(f"{stage}: K{key[0]}-D{key[1]} at {nxt[0]} steps: the sweep finished but its "
                                   "runs are not readable")
            asked = nxt
            steps, need = nxt
            seeds = sorted({int(r.get("seed", 0)) for r in own if int(r["steps"]) == steps} | set(need))
            sweep(args.root, more_name(stage, *key, steps),
                  [*flags, "--steps", str(steps), "--num-embeddings", str(key[0]), "--embedding-dim", str(key[1]),
                   "--seed", ",".join(str(s) for s in seeds), "--jobs", str(min(len(need), args.jobs)),
                   *([] if args.toy else ["--eval-every", str(more_eval_every(steps)), "--checkpoint-every", "500"])],
                  archive, log)

    settings = sorted({(int(r["num_embeddings"]), int(r["embedding_dim"])) for r in rows[f"{prefix}-kd"]})
    # The settings nearest to done first (seed 0 taken furthest), so that a session ending part-way leaves whole
    # settings finished rather than every one half-way.
    own, _ = more_rows(args.root, stage, archive)
    runs = setting_runs(rows[f"{prefix}-kd"], rows[f"{prefix}-check"], own, rows[f"{prefix}-budget"], default)
    settings.sort(key=lambda key: -max(seed0_psnr(runs.get(key, {})), default=0))
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for line in pool.map(carry_on, settings):
            log(f"{stage}: {line}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies"), help="folder of the sweeps (studies)")
    p.add_argument("--stages", default="fm-budget,fm-kd,fm-check,fm-more,color-kd,photos-budget,photos-kd,photos-check,"
                                         "photos-more")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process (1)")
    p.add_argument("--max-budget", type=int, default=None,
                   help="largest step count a budget sweep or a more stage doubles to while its curve still rises "
                        f"({MAX_BUDGET}; with --toy the budget grid is not extended unless this is given)")
    p.add_argument("--toy", action="store_true", help="tiny model, few steps (integration test)")
    p.add_argument("--toy-data", default="photos", help="dataset of every stage in --toy mode")
    p.add_argument("--archive", type=Path, default=None,
                   help="run archive, one subfolder per stage (experiments/results; ROOT/archive with --toy)")
    args = p.parse_args(argv)
    archive = args.archive or (args.root / "archive" if args.toy else ARCHIVE)
    log = lambda line: print(line, flush=True)
    toy = ["--preset", "tiny", "--data", args.toy_data] if args.toy else []
    budget_steps = (10, 20, 40) if args.toy else BUDGET_STEPS
    k_values, d_values = ("4,8", "2,8") if args.toy else (K_VALUES, D_VALUES)
    common = ["--eval-every", "500", "--checkpoint-every", "500"] if not args.toy else []
    common += ["--jobs", str(args.jobs)]
    budgets: dict[str, int] = {}
    for stage in args.stages.split(","):
        data = {"fm": FASHION, "photos": [], "color": []}[stage.split("-")[0]]
        if args.toy:
            data = []
        task = ["--task", "colorize"] if stage.startswith("color") else []
        if stage.endswith("-budget"):
            grid = list(budget_steps)
            while True:
                steps = ",".join(str(s) for s in grid)
                rows = sweep(args.root, stage, [*data, *task, *toy, *common, "--steps", steps], archive, log)
                more = next_budget(rows, args.max_budget or (budget_steps[-1] if args.toy else MAX_BUDGET))
                if more is None:
                    break
                log(f"{stage}: the last doubling still gains >= the rule's threshold: adding {more} steps")
                grid.append(more)
            budgets[stage.split("-")[0]] = pick_budget(rows)
            log(f"{stage}: budget {budgets[stage.split('-')[0]]} steps")
        elif stage.endswith("-more"):
            if stage.startswith("color"):
                p.error("color-more: the colorize settings are checked against the gray baseline, not for convergence")
            more_stage(args, stage, [*data, *toy], archive, log)
        elif stage.endswith(("-kd", "-check")):
            prefix = stage.split("-")[0]
            if stage.endswith("-check") and prefix == "color":
                p.error("color-check: the colorize settings are checked against the gray baseline, not for convergence")
            kd_rows = [] if prefix == "color" else run_rows(args.root / f"{prefix}-kd", archive / f"{prefix}-kd")[0]
            if kd_rows:
                # A K/D stage keeps the steps it was started with (the more stage carries its settings on).
                budgets[prefix] = min(int(r["steps"]) for r in kd_rows)
            if prefix != "color" and prefix not in budgets:
                rows, missing, _ = run_rows(args.root / f"{prefix}-budget", archive / f"{prefix}-budget")
                if missing or not rows:
                    p.error(f"{stage} needs the budget of {prefix}-budget, which is not finished: run that stage")
                budgets[prefix] = pick_budget(rows)
            steps = [] if prefix == "color" else ["--steps", str(budgets[prefix])]
            if args.toy:
                steps = ["--steps", "20"]
            if stage.endswith("-check"):
                # Seed 0 of every setting but the default one at twice the budget: has each setting converged at
                # the budget? (The default setting's doubling is in the budget sweep already.)
                default = default_kd(args.toy)
                doubled = ["--steps", str(2 * int(steps[1]))]
                ks, ds = (",".join(axis_without(values, value))
                          for values, value in ((k_values, default[0]), (d_values, default[1])))
                sweep(args.root, stage, [*data, *toy, *common, *doubled, "--num-embeddings", ks, "--embedding-dim",
                                         ds, "--vary", "--seeds", "1"], archive, log)
                continue
            kd = [*data, *task, *toy, *common, *steps, "--num-embeddings", k_values, "--embedding-dim", d_values,
                  "--vary"]
            # One seed of every setting at a time, so a study stopped part-way still covers every setting, and
            # each pass archives what it finished before the next starts (a session may end in the middle).
            for seeds in range(1, args.seeds + 1):
                sweep(args.root, stage, [*kd, "--seeds", str(seeds)], archive, log)
        else:
            p.error(f"unknown stage {stage!r}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        raise SystemExit(main())
    except subprocess.CalledProcessError as exc:  # the sweep printed why; its finished runs are kept and archived
        print(f"error: {' '.join(str(a) for a in exc.cmd[1:5])} ... exited with {exc.returncode}; "
              "run the same command again to continue", file=sys.stderr)
        raise SystemExit(2) from None
