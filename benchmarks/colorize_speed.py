"""Time to colorize one large photo with the paper-size model (h=256, K=512, D=64), through the same
`vqlab.inference.transform_image` path that `vqlab colorize` uses (padding, encode, quantize, decode, crop).

Weights are random (speed does not depend on them); the first call is a warm-up.

    python benchmarks/colorize_speed.py [--size 1024] [--repeats 3] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--device", default="cpu")
    args = p.parse_args()

    from vqlab import config as cfgmod
    from vqlab.data.tasks import Task
    from vqlab.inference import transform_image
    from vqlab.models.registry import build_model
    from vqlab.train.device import resolve_precision
    from vqlab.train.run import LoadedRun

    device = torch.device(args.device)
    cfg = cfgmod.preset("paper")
    cfg.data.task = "colorize"
    cfgmod.validate(cfg)  # the default colour space, as `vqlab train --preset paper --task colorize` would use
    task = Task("colorize", 3, cfg.data.color_space)
    model = build_model(cfg, task.in_channels, task.out_channels).to(device, memory_format=torch.channels_last)
    run = LoadedRun(model=model.eval(), config=cfg, task=task, step=0, run_dir=Path("."))
    dtype = resolve_precision("auto", device)
    image = torch.randint(0, 256, (3, args.size, args.size), dtype=torch.uint8)
    times = []
    for i in range(args.repeats + 1):
        t0 = time.perf_counter()
        out = transform_image(run, image, dtype)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t0)
    print(f"{args.size}x{args.size} colorize ({task.color_space}), h=256 K=512 D=64, "
          f"{'bf16' if dtype else 'fp32'} on {device}, "
          f"{torch.get_num_threads()} threads: median {statistics.median(times):.2f} s over {args.repeats} "
          f"(output {tuple(out.shape)})")


if __name__ == "__main__":
    main()
