#!/usr/bin/env python3
"""Peak memory and time of colorizing one large photo with tiles against whole-image inference.

Each measurement runs in its own process (so one does not inherit the other's memory) and reports the growth of
the process's resident high-water mark (VmHWM) over its state after a small warm-up image, and the wall time. The
largest difference between the tiled and the whole-image output is printed as well.

    python benchmarks/tiled_colorize.py                      # the shipped colorizer, 3000 x 2000, tiles of 1024
    python benchmarks/tiled_colorize.py --model RUN --width 4000 --height 3000 --tiles 512,1024
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, re, sys, time
import numpy as np, torch
import vqlab
from vqlab.images import to_uint8_tensor
from vqlab.inference import transform_image

def peak_mb():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024

model_name, width, height, tile, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
model = vqlab.load(model_name, device="cpu")
rng = np.random.default_rng(0)
small = rng.integers(0, 256, (64, 64), dtype=np.uint8)
ramp = np.add.outer(np.arange(height) // 4, np.arange(width) // 6) % 256  # smooth, photo-like structure
image = to_uint8_tensor(np.clip(ramp + rng.integers(-20, 21, (height, width)), 0, 255).astype(np.uint8), 3)
transform_image(model.run, to_uint8_tensor(small, 3), tile=0)  # warm-up
before = peak_mb()
t0 = time.perf_counter()
rgb = transform_image(model.run, image, tile=tile)
seconds = time.perf_counter() - t0
torch.save(rgb, out)
print(json.dumps({"tile": tile, "extra_mb": peak_mb() - before, "seconds": seconds}))
"""


def measure(model: str, width: int, height: int, tile: int, out: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    proc = subprocess.run([sys.executable, "-c", CHILD, model, str(width), str(height), str(tile), str(out)],
                          capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"measurement with tile={tile} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="colorize", help="shipped model name or run directory (colorize)")
    p.add_argument("--width", type=int, default=3000)
    p.add_argument("--height", type=int, default=2000)
    p.add_argument("--tiles", default="1024", help="comma list of tile sides to measure against 0 (whole image)")
    args = p.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        whole = measure(args.model, args.width, args.height, 0, Path(tmp) / "whole.pt")
        rows = [whole]
        reference = torch.load(Path(tmp) / "whole.pt", weights_only=True)
        for tile in (int(t) for t in args.tiles.split(",")):
            row = measure(args.model, args.width, args.height, tile, Path(tmp) / f"tile{tile}.pt")
            tiled = torch.load(Path(tmp) / f"tile{tile}.pt", weights_only=True)
            row["max_abs_diff"] = float((tiled - reference).abs().max())
            rows.append(row)
    print(f"{args.model}: {args.width} x {args.height}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')}")
    print(f"{'tile':>6} {'extra MB':>9} {'seconds':>8} {'max |diff|':>11}")
    for r in rows:
        diff = f"{r['max_abs_diff']:>11.2e}" if "max_abs_diff" in r else f"{'-':>11}"
        print(f"{r['tile'] or 'whole':>6} {r['extra_mb']:>9.0f} {r['seconds']:>8.1f} {diff}")


if __name__ == "__main__":
    main()
