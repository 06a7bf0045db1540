#!/usr/bin/env python3
"""The codec study of the compression issue: VQ-VAEs at several rates on photos-wide, their wavefront context
models, and the rate-distortion page docs/compression.md (benchmarks/rate_distortion.py).

Steps, in order (run the script again to continue where it stopped; finished steps are skipped):

  train     ROOT/codec/<point> for each --points entry (f4, f8, f16: --downsample 4, 8, 16 with K=512):
            vqlab train --data photos-wide --image-size 64 (64x64 crops, so an F=16 map is 4x4, not 2x2), the
            default model otherwise (h=128, D=64, EMA k-means codebook, batch 32, cosine learning rate annealed
            over the time budget), --max-minutes --minutes each; an unfinished run is resumed
  context   vqlab context-model ROOT/codec/<point> (whole training photographs of photos-wide at 768 and 384
            pixels), --context-steps capped at --context-minutes; skipped when RUN/context belongs to the run's
            newest weights
  bench     benchmarks/rate_distortion.py ROOT/codec (the test photos and photos-wide's validation photos at
            768 pixels, JPEG, WebP, PNG) writing --page and its figures

ROOT/codec is then a rate folder: ``vqlab encode ROOT/codec IMAGE -o x.vqz --entropy context --target-bpp 0.2``.
Every vqlab command runs from ROOT and is logged with its wall time in ROOT/commands.jsonl. The toy mode (--toy)
runs every step with the tiny preset on --toy-data for the integration test.

CPU time at the defaults (one thread per process): building the 64x64 photos-wide crops once (minutes), 3 x 100
minutes of training, 3 context models (each: encoding the 45 training photographs twice, about a minute at F=4,
and 8000 steps, about 5 minutes on a free core; capped at 20), and the benchmark (15 pictures x (3 rate points +
35 JPEG/WebP/PNG points), MS-SSIM of each, equal-bpp crops: about 10 minutes): about 5.5 hours.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_common import Study, train

REPO = Path(__file__).resolve().parents[1]
# name -> (downsampling factor, K)
POINTS = {"f2": (2, 512), "f4": (4, 512), "f8": (8, 512), "f16": (16, 512), "f8k4096": (8, 4096)}
FOLDER = "codec"


def train_flags(args: argparse.Namespace, point: str) -> list[str]:
    """``vqlab train`` flags of one rate point (without --out)."""
    f, k = POINTS[point]
    if args.toy:
        return ["--preset", "tiny", "--data", args.toy_data, "--downsample", str(f), "--steps", "6"]
    return ["--data", "photos-wide", "--image-size", "64", "--downsample", str(f), "-K", str(k),
            "--steps", "1000000", "--max-minutes", str(args.minutes), "--eval-every", "1000",
            "--checkpoint-every", "500", "--log-every", "50"]


def context_flags(args: argparse.Namespace) -> list[str]:
    """``vqlab context-model`` flags (without the run)."""
    if args.toy:
        return ["--steps", "20", "--hidden", "16", "--embed-dim", "4", "--batch-size", "64", "--max-side", "64"]
    return ["--steps", str(args.context_steps), "--max-minutes", str(args.context_minutes)]


def context_done(run_dir: Path) -> bool:
    """Whether RUN/context holds a context model of the run's newest weights."""
    from vqlab.train.checkpoint import fingerprint, latest_checkpoint

    cfg_path, ckpt = run_dir / "context" / "config.json", latest_checkpoint(run_dir)
    if not cfg_path.is_file() or ckpt is None:
        return False
    try:
        return json.loads(cfg_path.read_text()).get("vqvae_fingerprint") == fingerprint(ckpt).hex()
    except (OSError, ValueError):
        return False


def bench(study: Study, args: argparse.Namespace) -> None:
    page = args.page if args.page.is_absolute() else Path.cwd() / args.page
    figures = args.figures if args.figures.is_absolute() else Path.cwd() / args.figures
    cmd = [sys.executable, str(REPO / "benchmarks" / "rate_distortion.py"), FOLDER, "--out", str(page),
           "--figures", str(figures), *(["--toy", "--max-side", "64"] if args.toy else [])]
    print(f"[{time.strftime('%H:%M:%S')}] {' '.join(cmd[1:])}", flush=True)
    start = time.time()
    subprocess.run(cmd, cwd=study.root, check=True)
    with open(study.root / "commands.jsonl", "a") as f:
        f.write(json.dumps({"tag": "bench", "command": " ".join(cmd[1:]), "seconds": round(time.time() - start, 1),
                            "finished": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies/codec"), help="study folder (studies/codec)")
    p.add_argument("--points", default="f4,f8,f16", help=f"rate points, of {', '.join(POINTS)} (f4,f8,f16)")
    p.add_argument("--steps", default="train,context,bench", help="steps to run (train,context,bench)")
    p.add_argument("--minutes", type=float, default=100.0, help="training budget per rate point (100)")
    p.add_argument("--context-steps", type=int, default=8000, help="context model steps (8000)")
    p.add_argument("--context-minutes", type=float, default=20.0, help="context model budget (20)")
    p.add_argument("--page", type=Path, default=REPO / "docs" / "compression.md", help="page to write")
    p.add_argument("--figures", type=Path, default=REPO / "docs" / "figures", help="folder of its figures")
    p.add_argument("--toy", action="store_true", help="tiny preset, few steps (integration test)")
    p.add_argument("--toy-data", default="photos", help="dataset of every run in --toy mode")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    points = args.points.split(",")
    unknown = [p for p in points if p not in POINTS]
    if unknown:
        raise SystemExit(f"unknown rate points {unknown}; choose from {', '.join(POINTS)}")
    steps = args.steps.split(",")
    study = Study(args.root)
    if "train" in steps:
        for point in points:
            train(study, f"{FOLDER}/{point}", train_flags(args, point), tag=f"train-{point}")
    if "context" in steps:
        for point in points:
            if context_done(study.root / FOLDER / point):
                print(f"{FOLDER}/{point}: context model of its newest weights exists, skipped", flush=True)
                continue
            study.vqlab("context-model", f"{FOLDER}/{point}", *context_flags(args), "--json", "--no-progress",
                        tag=f"context-{point}")
    if "bench" in steps:
        bench(study, args)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
