"""Command line for ``vqlab train``: its flags (built from the option declarations in :mod:`vqlab.config`),
how they map onto the config, and the command itself.

Registered by :mod:`vqlab.cli`; the sweep command (:mod:`vqlab.cli_sweep`) takes the same flags as comma lists.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from vqlab import config as cfgmod
from vqlab.cli_options import FLAGS, add_option_flags, as_overrides, given
from vqlab.errors import VQLabError

# Kept for callers of the earlier module: CLI flag dest -> (config section, field).
TRAIN_FLAGS = FLAGS


def add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model into a run directory", description=(
        "Train a VQ-VAE, Gaussian VAE or VIMCO model. With only --out it trains a small CPU-friendly model on the "
        "offline 'photos' data in a few minutes. Precedence: defaults < --preset < --config < flags."))
    p.add_argument("--out", required=True, type=Path, help="run directory to create (or resume)")
    p.add_argument("--preset", default=None, help=f"one of: {', '.join(cfgmod.PRESETS)}")
    p.add_argument("--config", type=Path, default=None, help="YAML file with model:/quantizer:/data:/train: sections")
    p.add_argument("--resume", action="store_true", help=(
        "continue the run in --out from its last checkpoint; options may be repeated with their original values, "
        "and only steps, intervals and --max-minutes may change"))
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_option_flags(p)


def explicit_overrides(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """What the user set, in precedence order: (source, ``{section: {field: value}}``) for --preset, --config
    and the flags."""
    out: list[tuple[str, dict[str, Any]]] = []
    if args.preset:
        out.append((f"preset {args.preset}", cfgmod.preset_overrides(args.preset)))
    if args.config is not None:
        out.append((str(args.config), cfgmod.read_yaml(args.config)))
    out.append(("flags", as_overrides(given(args))))
    return out


def config_from_args(args: argparse.Namespace) -> cfgmod.Config:
    """Defaults < --preset < --config < explicit flags (train command), validated and resolved."""
    cfg = cfgmod.Config()
    for source, overrides in explicit_overrides(args):
        cfgmod.apply_overrides(cfg, overrides, source)
    return cfgmod.resolve(cfgmod.validate(cfg))


def resume_config(saved: cfgmod.Config, args: argparse.Namespace) -> cfgmod.Config:
    """The config of a resumed run: the saved one with what the user gave applied on top. Values equal to the
    saved ones are accepted; a real change of an option a resume may not change is refused, naming it with its
    old and new values."""
    import copy

    cfg = copy.deepcopy(saved)
    for source, overrides in explicit_overrides(args):
        cfgmod.apply_overrides(cfg, overrides, source)
    cfgmod.resolve(cfgmod.validate(cfg))
    changed = [(s, k, a, b) for s, k, a, b in cfgmod.diff(saved, cfg) if not cfgmod.is_resumable(s, k)]
    if changed:
        what = ", ".join(f"{s}.{k} {a!r} -> {b!r}" for s, k, a, b in changed)
        raise VQLabError(f"--resume continues the run's own config; it cannot change: {what}")
    return cfg


def format_metrics(metrics: dict[str, Any]) -> str:
    keys = ("mse", "psnr", "ssim", "perplexity", "codebook_usage")
    return "  ".join(f"{k}={metrics[k]:.4g}" for k in keys if k in metrics)


def cmd_train(args: argparse.Namespace) -> int:
    from vqlab.train.loop import train
    from vqlab.train.run import best_summary, read_config

    if args.resume:
        saved, _ = read_config(args.out)
        cfg = resume_config(saved, args)
    else:
        cfg = config_from_args(args)
    metrics = train(cfg, args.out, resume=args.resume, progress=not args.no_progress)
    if os.environ.get("RANK", "0") == "0":  # under torchrun only rank 0 reports
        print(f"test: {format_metrics(metrics)}")
        best = best_summary(args.out)
        if best is not None:
            test = f", test psnr={best['test_psnr']:.4g}" if isinstance(best["test_psnr"], float) else ""
            scale = f", chroma scale {best['chroma_scale']:.3g}" if best["chroma_scale"] is not None else ""
            print(f"best checkpoint: step {best['step']} (val psnr={best['val_psnr']:.4g}{test}{scale}); "
                  f"use it with --checkpoint best")
        print(f"run directory: {args.out}  (samples in {args.out / 'samples'})")
    return 0
