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
                 doubling its steps gains less than GAIN_DB of test PSNR (the default setting's doubling is the
                 budget sweep's)

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
from pathlib import Path

K_VALUES = "8,32,128,512,2048"
D_VALUES = "2,8,32,64,256"
BUDGET_STEPS = (1500, 3000, 6000, 12000)
FASHION = ["--data", "fashion-mnist"]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from kd_page import ARCHIVE, next_budget, pick_budget, run_rows


def sweep(root: Path, name: str, args: list[str], archive: Path, log) -> list[dict]:
    """Run one ``vqlab sweep`` into ROOT/NAME (skipping the runs archived in ARCHIVE/NAME), then archive its
    finished runs; returns the rows of every finished run of its plan (here or archived)."""
    out = root / name
    cmd = [sys.executable, "-m", "vqlab", "sweep", "--out", str(out), "--log-every", "10", *args]
    log(f"[{time.strftime('%H:%M:%S')}] {name}: {' '.join(cmd[1:])}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "command.txt").write_text("OMP_NUM_THREADS=1 vqlab " + " ".join(cmd[3:]) + "\n")
    subprocess.run([*cmd, "--skip-archived", str(archive / name / "runs.jsonl")], check=True)
    rows, missing, from_archive = run_rows(out, archive / name)
    log(f"{name}: {len(rows)} runs finished ({from_archive} from {archive / name}), {missing} missing")
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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies"), help="folder of the sweeps (studies)")
    p.add_argument("--stages", default="fm-budget,fm-kd,fm-check,color-kd,photos-budget,photos-kd,photos-check")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process (1)")
    p.add_argument("--max-budget", type=int, default=None,
                   help="largest step count a budget sweep is doubled to while its curve still rises (48000; with "
                        "--toy the grid is not extended unless this is given)")
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
                more = next_budget(rows, args.max_budget or (budget_steps[-1] if args.toy else 48000))
                if more is None:
                    break
                log(f"{stage}: the last doubling still gains >= the rule's threshold: adding {more} steps")
                grid.append(more)
            budgets[stage.split("-")[0]] = pick_budget(rows)
            log(f"{stage}: budget {budgets[stage.split('-')[0]]} steps")
        elif stage.endswith(("-kd", "-check")):
            prefix = stage.split("-")[0]
            if stage.endswith("-check") and prefix == "color":
                p.error("color-check: the colorize settings are checked against the gray baseline, not for convergence")
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
    raise SystemExit(main())
