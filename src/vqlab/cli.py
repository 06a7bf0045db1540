"""Command line: argument parsing only. Calls the layers below, prints, sets exit codes.

Exit codes: 0 success, 2 user error (one line ``error: ...`` on stderr, no traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vqlab import __version__
from vqlab import config as cfgmod
from vqlab.cli_generate import (
    add_generation,
    add_prior,
    cmd_decode,
    cmd_encode,
    cmd_mix,
    cmd_prior,
    cmd_sample,
)
from vqlab.errors import VQLabError

# CLI flag dest -> (config section, field)
TRAIN_FLAGS: dict[str, tuple[str, str]] = {
    "model": ("model", "name"), "hidden": ("model", "hidden"), "res_blocks": ("model", "num_res_blocks"),
    "num_embeddings": ("model", "num_embeddings"), "embedding_dim": ("model", "embedding_dim"),
    "beta": ("model", "beta"), "ema": ("model", "ema"), "decay": ("model", "decay"),
    "kmeans_init": ("model", "kmeans_init"), "restart_after": ("model", "restart_after"),
    "vae_sigma": ("model", "vae_sigma"), "likelihood": ("model", "likelihood"),
    "logistic_mixtures": ("model", "logistic_mixtures"), "gaussian_sigma": ("model", "gaussian_sigma"),
    "vimco_samples": ("model", "vimco_samples"),
    "data": ("data", "dataset"), "task": ("data", "task"), "color_space": ("data", "color_space"),
    "image_size": ("data", "image_size"), "data_root": ("data", "root"), "download": ("data", "download"),
    "hflip": ("data", "hflip"),
    "steps": ("train", "steps"), "batch_size": ("train", "batch_size"), "lr": ("train", "lr"),
    "lr_schedule": ("train", "lr_schedule"), "warmup_steps": ("train", "warmup_steps"),
    "seed": ("train", "seed"), "precision": ("train", "precision"), "compile": ("train", "compile"),
    "log_every": ("train", "log_every"), "eval_every": ("train", "eval_every"),
    "checkpoint_every": ("train", "checkpoint_every"), "max_minutes": ("train", "max_minutes"),
}
# Options a resumed run may change: they do not alter what is computed up to the saved step.
RESUMABLE = {"steps", "log_every", "eval_every", "checkpoint_every", "max_minutes"}


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {message} (see '{self.prog} --help')\n")
        raise SystemExit(2)


def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model into a run directory", description=(
        "Train a VQ-VAE or Gaussian VAE. With only --out it trains a small CPU-friendly model on the offline "
        "'photos' data in a few minutes. Precedence: defaults < --preset < --config < flags."))
    S = argparse.SUPPRESS
    p.add_argument("--out", required=True, type=Path, help="run directory to create (or resume)")
    p.add_argument("--preset", default=None, help=f"one of: {', '.join(cfgmod.PRESETS)}")
    p.add_argument("--config", type=Path, default=None, help="YAML file with model:/data:/train: sections")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    g = p.add_argument_group("model")
    g.add_argument("--model", default=S, help="vqvae (default), vae (Gaussian VAE) or vimco (discrete, VIMCO)")
    g.add_argument("--hidden", type=int, default=S, help="hidden channels h (paper: 256)")
    g.add_argument("--res-blocks", type=int, default=S, help="residual blocks per encoder/decoder (2)")
    g.add_argument("--num-embeddings", "-K", type=int, default=S, help="codebook size K")
    g.add_argument("--embedding-dim", "-D", type=int, default=S, help="code dimension D (VAE: latent channels)")
    g.add_argument("--beta", type=float, default=S, help="commitment weight (0.25)")
    g.add_argument("--ema", action=argparse.BooleanOptionalAction, default=S, help="EMA codebook updates")
    g.add_argument("--decay", type=float, default=S, help="EMA decay (0.99)")
    g.add_argument("--kmeans-init", action=argparse.BooleanOptionalAction, default=S,
                   help="k-means codebook initialisation on the first batch")
    g.add_argument("--restart-after", type=int, default=S, help="re-seed codes unused this many steps (0: off)")
    g.add_argument("--vae-sigma", type=float, default=S, help="VAE Gaussian likelihood std (0.1)")
    g.add_argument("--likelihood", default=S, help=(
        "output likelihood: mse (default: plain MSE), softmax256 (256-way categorical per sub-pixel), logistic "
        "(discretized logistic mixture), gaussian (discretized Gaussian with fixed --gaussian-sigma)"))
    g.add_argument("--logistic-mixtures", type=int, default=S, help="components of the logistic mixture (5)")
    g.add_argument("--gaussian-sigma", type=float, default=S, help="std of the discretized Gaussian (0.1)")
    g.add_argument("--vimco-samples", type=int, default=S, help="VIMCO samples per image (50, as the paper)")
    g = p.add_argument_group("data")
    g.add_argument("--data", default=S, help="photos (default), cifar10, mnist, fashion-mnist, folder:PATH")
    g.add_argument("--data-root", default=S, help="folder of cifar10 / mnist / fashion-mnist files")
    g.add_argument("--download", action="store_true", default=S, help="download CIFAR-10 if missing")
    g.add_argument("--task", default=S, help="reconstruct (default) or colorize")
    g.add_argument("--color-space", default=S, help=(
        "colorize target: auto (default: ycbcr with --likelihood mse, else rgb), ycbcr or lab (predict the "
        "colour, keep the input's luma or lightness), rgb (predict all three channels)"))
    g.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=S,
                   help="mirror a random half of each training batch left-right")
    g.add_argument("--image-size", type=int, default=S, help="resize images to this size (multiple of 4)")
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=int, default=S, help="optimizer steps")
    g.add_argument("--batch-size", type=int, default=S, help="images per step")
    g.add_argument("--lr", type=float, default=S, help="Adam learning rate (1e-3; paper preset 2e-4)")
    g.add_argument("--lr-schedule", default=S, help=(
        "constant (default) or cosine: anneal to 0 over --steps, or over --max-minutes if that runs out first"))
    g.add_argument("--warmup-steps", type=int, default=S, help="linear learning-rate warm-up steps (0)")
    g.add_argument("--seed", type=int, default=S, help="random seed")
    g.add_argument("--precision", default=S, help="auto (default: bf16 where the hardware is fast), fp32, bf16")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=S, help="torch.compile the model")
    g.add_argument("--log-every", type=int, default=S, help="steps between metrics rows")
    g.add_argument("--eval-every", type=int, default=S, help="steps between test evaluations and sample grids")
    g.add_argument("--checkpoint-every", type=int, default=S, help="steps between checkpoints")
    g.add_argument("--max-minutes", type=float, default=S,
                   help="also stop (evaluate, checkpoint) once this much training wall time is spent")


def _add_inference(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="test-split metrics of a trained run")
    p.add_argument("run", type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--iw-samples", type=int, default=100,
                   help="samples of the importance-weighted (VAE) and multi-sample (VIMCO) bounds (100)")
    p = sub.add_parser("compare", help="side-by-side table of runs (bits/dim with its bound, MSE, PSNR, ...)")
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    p.add_argument("--iw-samples", type=int, default=100, help="samples of the VAE/VIMCO bounds (100)")
    p.add_argument("--batch-size", type=int, default=256)
    for name, what in (("colorize", "colorize a grayscale or colour image (colorize runs)"),
                       ("reconstruct", "pass an image through encoder, codebook and decoder")):
        p = sub.add_parser(name, help=what)
        p.add_argument("run", type=Path)
        p.add_argument("image", type=Path)
        p.add_argument("-o", "--output", type=Path, required=True, help="output image (.png, .jpg, ...)")


def _sweep_value(kind: Any) -> Any:
    """An argparse type that reads a comma list, converting each item with ``kind`` (a bool reads true/false)."""
    def convert(text: str) -> list[Any]:
        items = [x.strip() for x in text.split(",") if x.strip()]
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


def _add_sweep(sub: Any) -> None:
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
    # Every train option, as a comma list.
    train = argparse.ArgumentParser(add_help=False)
    _add_train(train.add_subparsers())
    train_parser = next(a for a in train._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    g = p.add_argument_group("train options (each a comma list)")
    for action in train_parser._actions:
        if action.dest not in TRAIN_FLAGS:
            continue
        kind = bool if action.nargs == 0 else (action.type or str)
        names = [o for o in action.option_strings if not o.startswith("--no-")]
        g.add_argument(*names, dest=action.dest, type=_sweep_value(kind), default=argparse.SUPPRESS,
                       metavar="V[,V...]", help=action.help)


def _add_report(sub: Any) -> None:
    p = sub.add_parser("report", help="one self-contained HTML page (and report.md) of a sweep")
    p.add_argument("sweep", type=Path, help="sweep folder (vqlab sweep --out)")
    p.add_argument("-o", "--output", type=Path, default=None, help="HTML file (default: SWEEP/report.html)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="vqlab", description="Discrete image representations with VQ-VAE.")
    parser.add_argument("--version", action="version", version=f"vqlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    _add_train(sub)
    _add_inference(sub)
    add_prior(sub)
    add_generation(sub)
    _add_sweep(sub)
    _add_report(sub)
    return parser


def config_from_args(args: argparse.Namespace) -> cfgmod.Config:
    """Defaults < --preset < --config < explicit flags (train command)."""
    cfg = cfgmod.preset(args.preset or "default")
    if args.config is not None:
        cfgmod.load_yaml(args.config, cfg)
    for dest, (section, field) in TRAIN_FLAGS.items():
        if dest in args:
            setattr(getattr(cfg, section), field, getattr(args, dest))
    return cfgmod.validate(cfg)


def _format_metrics(metrics: dict[str, Any]) -> str:
    keys = ("mse", "psnr", "ssim", "perplexity", "codebook_usage")
    return "  ".join(f"{k}={metrics[k]:.4g}" for k in keys if k in metrics)


def cmd_train(args: argparse.Namespace) -> int:
    from vqlab.train.loop import train
    from vqlab.train.run import read_config

    if args.resume:
        given = {d for d in TRAIN_FLAGS if d in args}
        if args.preset or args.config or given - RESUMABLE:
            bad = sorted(given - RESUMABLE) or ["--preset/--config"]
            raise VQLabError(f"--resume continues the run's own config; it cannot change: {', '.join(bad)}")
        cfg, _ = read_config(args.out)
        for dest in given:
            section, field = TRAIN_FLAGS[dest]
            setattr(getattr(cfg, section), field, getattr(args, dest))
        cfgmod.validate(cfg)
    else:
        cfg = config_from_args(args)
    metrics = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        print(f"test: {_format_metrics(metrics)}")
        print(f"run directory: {args.out}  (samples in {args.out / 'samples'})")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from vqlab.experiments.evaluation import evaluate_run

    metrics = evaluate_run(args.run, iw_samples=args.iw_samples, batch_size=args.batch_size, use_cache=False)
    metrics = {"run": str(args.run), **{k: v for k, v in metrics.items() if k != "run"}}
    if args.json:
        print(json.dumps(metrics))
    else:
        for k, v in metrics.items():
            print(f"{k:>20}: {v:.6g}" if isinstance(v, float) else f"{k:>20}: {v}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from vqlab.experiments.compare import FORMATS
    from vqlab.experiments.evaluation import evaluate_run

    results = []
    for run in args.runs:
        metrics = evaluate_run(run, iw_samples=args.iw_samples, batch_size=args.batch_size)
        results.append({**metrics, "name": run.name or str(run)})
    fmt = "markdown" if args.markdown else "csv" if args.csv else "text"
    sys.stdout.write(FORMATS[fmt](results))
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    from vqlab.inference import transform_image_file

    transform_image_file(args.run, args.image, args.output, expect_task=args.command)
    print(f"wrote {args.output}")
    return 0


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
    cfgmod.validate(base)
    runs = sw.plan_sweep(base, axes, TRAIN_FLAGS, vary=args.vary)
    args.out.mkdir(parents=True, exist_ok=True)
    sw.write_plan(args.out, runs, list(axes), args.vary)
    t0 = time.time()
    try:
        sw.run_sweep(args.out, runs, jobs=args.jobs, echo=lambda line: print(line, flush=True))
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; finished runs are kept, run the same command again to continue\n")
        return 130
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


COMMANDS = {
    "train": cmd_train, "evaluate": cmd_evaluate, "compare": cmd_compare, "colorize": cmd_image,
    "reconstruct": cmd_image, "prior": cmd_prior, "sample": cmd_sample, "mix": cmd_mix, "encode": cmd_encode,
    "decode": cmd_decode, "sweep": cmd_sweep, "report": cmd_report,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``vqlab`` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except VQLabError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted; the last checkpoint is kept (continue with --resume)\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
