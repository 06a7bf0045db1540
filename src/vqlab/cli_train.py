"""Command line for ``vqlab train``: its flags, how they map onto the config, and the command itself.

Registered by :mod:`vqlab.cli`; the sweep command (:mod:`vqlab.cli_sweep`) reuses the same flags as comma lists.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from vqlab import config as cfgmod
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



def add_train(sub: Any) -> None:
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
        "cosine (default: anneal to 0 over --steps, or over --max-minutes if that runs out first) or constant"))
    g.add_argument("--warmup-steps", type=int, default=S, help="linear learning-rate warm-up steps (0)")
    g.add_argument("--seed", type=int, default=S, help="random seed")
    g.add_argument("--precision", default=S, help="auto (default: bf16 where the hardware is fast), fp32, bf16")
    g.add_argument("--compile", action=argparse.BooleanOptionalAction, default=S, help="torch.compile the model")
    g.add_argument("--log-every", type=int, default=S, help="steps between metrics rows")
    g.add_argument("--eval-every", type=int, default=S, help="steps between test evaluations and sample grids")
    g.add_argument("--checkpoint-every", type=int, default=S, help="steps between checkpoints")
    g.add_argument("--max-minutes", type=float, default=S,
                   help="also stop (evaluate, checkpoint) once this much training wall time is spent")


def config_from_args(args: argparse.Namespace) -> cfgmod.Config:
    """Defaults < --preset < --config < explicit flags (train command)."""
    cfg = cfgmod.preset(args.preset or "default")
    if args.config is not None:
        cfgmod.load_yaml(args.config, cfg)
    for dest, (section, field) in TRAIN_FLAGS.items():
        if dest in args:
            setattr(getattr(cfg, section), field, getattr(args, dest))
    return cfgmod.validate(cfg)


def format_metrics(metrics: dict[str, Any]) -> str:
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
        print(f"test: {format_metrics(metrics)}")
        print(f"run directory: {args.out}  (samples in {args.out / 'samples'})")
    return 0
