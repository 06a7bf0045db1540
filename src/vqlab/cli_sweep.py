"""Command line for ``vqlab sweep`` and ``vqlab report`` (parsing and printing only).

Registered by :mod:`vqlab.cli`; the work happens in :mod:`vqlab.experiments`.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path
from typing import Any

from vqlab import config as cfgmod
from vqlab.cli_options import FLAGS as TRAIN_FLAGS
from vqlab.cli_options import add_option_flags
from vqlab.errors import VQLabError


def _sweep_value(kind: Any, sep: str = ",") -> Any:
    """An argparse type that reads a list separated by ``sep`` (a comma for most options), converting each item
    with ``kind`` (a bool reads true/false)."""
    def convert(text: str) -> list[Any]:
        items = [x.strip() for x in text.split(sep) if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"empty list {text!r}")
        if kind is bool:
            table = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
            if any(x.lower() not in table for x in items):
                raise argparse.ArgumentTypeError(f"expected true/false values, got {text!r}")
            return [table[x.lower()] for x in items]
        try:
            return [kind(x) for x in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} in {text!r}") from None
    return convert


def add_sweep(sub: Any) -> None:
    p = sub.add_parser("sweep", help="train a grid of runs (any train option may be a comma list) and plot them",
                       description=(
        "Train one run per combination of the comma-separated train options into OUT/runs/NAME, then write "
        "OUT/results.csv and OUT/figures/. Run it again after an interruption: finished runs are skipped, "
        "unfinished ones resume. Boolean options take values here: --ema true,false."))
    p.add_argument("--out", required=True, type=Path, help="sweep folder")
    p.add_argument("--preset", default=None, help=f"one of: {', '.join(cfgmod.PRESETS)}")
    p.add_argument("--config", type=Path, default=None, help="YAML file with model:/data:/train: sections")
    p.add_argument("--seeds", type=int, default=None, help="N seeds per setting: train.seed 0..N-1")
    p.add_argument("--vary", action="store_true",
                   help="one option at a time, the others at their defaults (default: the full product)")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once, each in its own process (1)")
    p.add_argument("--iw-samples", type=int, default=100, help="samples of the VAE/VIMCO bounds in results (100)")
    p.add_argument("--no-figures", action="store_true", help="write results.csv only")
    p.add_argument("--skip-archived", type=Path, default=None, metavar="FILE",
                   help="a study's run archive (JSON lines of name, config and results): the planned runs it "
                        "records with the same settings are not trained here, nor in results.csv")
    # Every train option, as a comma list.
    add_option_flags(p, as_lists=_sweep_value)


def add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page (and report.md) of a sweep")
    p.add_argument("sweep", type=Path, help="sweep folder (vqlab sweep --out)")
    p.add_argument("-o", "--output", type=Path, default=None, help="HTML file (default: SWEEP/report.html)")


def cmd_sweep(args: argparse.Namespace) -> int:
    from vqlab.experiments import sweep as sw

    base = cfgmod.preset(args.preset or "default")
    if args.config is not None:
        cfgmod.load_yaml(args.config, base)
    axes: dict[str, list[Any]] = {}
    for dest, (section, field) in TRAIN_FLAGS.items():
        if dest in args:
            values = getattr(args, dest)
            if len(values) == 1:
                setattr(getattr(base, section), field, values[0])
            else:
                axes[dest] = values
    if args.seeds is not None:
        if args.seeds < 1:
            raise VQLabError("--seeds must be >= 1")
        if "seed" in axes:
            raise VQLabError("give either --seeds N or a list of --seed values, not both")
        axes["seed"] = list(range(args.seeds))
    cfgmod.validate(copy.deepcopy(base))  # fail early, but leave `auto` choices to each run's own settings
    runs = sw.plan_sweep(base, axes, TRAIN_FLAGS, vary=args.vary)
    archived: list[str] = []
    if args.skip_archived is not None:
        archived, other = sw.archived_runs(args.skip_archived, runs)
        # A run whose folder is here is the real thing (with its checkpoints): it is resumed or kept, not skipped.
        archived = [n for n in archived if not (args.out / sw.RUNS_DIR / n / "config.json").is_file()]
        print(f"{len(archived)} planned runs are in {args.skip_archived} and not here: not trained here"
              + (f"; {len(other)} recorded there with other settings are trained ({', '.join(other)})"
                 if other else ""))
    args.out.mkdir(parents=True, exist_ok=True)
    sw.write_plan(args.out, runs, list(axes), args.vary, archived)
    runs = [r for r in runs if r.name not in set(archived)]
    t0 = time.time()
    try:
        sw.run_sweep(args.out, runs, jobs=args.jobs, echo=lambda line: print(line, flush=True), estimate=True)
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; finished runs are kept, run the same command again to continue\n")
        return 130
    if not runs:
        print(f"every planned run is in {args.skip_archived}; nothing to train or evaluate here")
        return 0
    print(f"training finished in {time.time() - t0:.0f} s; evaluating")
    from vqlab.experiments.results import write_results

    rows = write_results(args.out, runs, iw_samples=args.iw_samples)
    print(f"wrote {args.out / 'results.csv'} ({len(rows)} runs)")
    if not args.no_figures:
        from vqlab.experiments.figures import write_figures

        paths = write_figures(args.out)
        print(f"wrote {len(paths)} figures to {args.out / 'figures'}")
    print(f"report: vqlab report {args.out}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from vqlab.experiments.report import write_report

    html, md = write_report(args.sweep, args.output)
    print(f"wrote {html} and {md}")
    return 0
