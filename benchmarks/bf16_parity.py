"""Does bf16 autocast train as well as float32? The default configuration trained twice with the same seed,
once per precision; compares the final training loss (mean over the last 5% of steps) and test codebook usage.

Target (issue 4): final training loss within 3% and codebook usage within 5 points.

    python benchmarks/bf16_parity.py [--steps N (default: the default config's)] [--task reconstruct]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def final_train_loss(rows: list[dict], fraction: float = 0.05) -> float:
    """Mean training loss over the last ``fraction`` of logged steps."""
    train = [r for r in rows if r["split"] == "train"]
    last_step = train[-1]["step"]
    tail = [r["loss"] for r in train if r["step"] > last_step * (1 - fraction)] or [train[-1]["loss"]]
    return sum(tail) / len(tail)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=None, help="training steps (the default config's)")
    p.add_argument("--task", default="reconstruct")
    args = p.parse_args()

    from vqlab import config as cfgmod
    from vqlab.train.loop import train
    from vqlab.train.run import read_metrics

    results = {}
    for precision in ("fp32", "bf16"):
        cfg = cfgmod.preset("default")
        steps = args.steps or cfg.train.steps
        cfg.data.task, cfg.train.steps, cfg.train.precision = args.task, steps, precision
        cfg.train.eval_every = cfg.train.checkpoint_every = steps
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            final = train(cfg, Path(tmp) / "run", progress=False)
            results[precision] = (final_train_loss(read_metrics(Path(tmp) / "run")), final, time.time() - t0)
    print(f"default config, task {args.task}, {steps} steps, seed 0")
    print(f"{'precision':<10}{'final loss':>12}{'test PSNR':>11}{'usage':>8}{'wall s':>8}")
    for precision, (loss, final, wall) in results.items():
        print(f"{precision:<10}{loss:>12.5f}{final['psnr']:>11.2f}{100 * final['codebook_usage']:>7.1f}%{wall:>8.0f}")
    (l32, f32, _), (l16, f16, _) = results["fp32"], results["bf16"]
    print(f"loss difference {100 * (l16 - l32) / l32:+.2f}% (target within 3%), usage difference "
          f"{100 * (f16['codebook_usage'] - f32['codebook_usage']):+.1f} points (target within 5)")


if __name__ == "__main__":
    main()
