"""Quality per CPU-minute: a plain VQ-VAE loop against vqlab's default, for equal wall time, on `photos`.

Both train on the same 32x32 crops (test crops come from photographs never seen in training) for the same
number of wall-clock minutes, then are scored on the test split with the same definitions: PSNR from the MSE
pooled over the split (images in [0, 1]), codebook usage = fraction of the K codes used on the test split.

The plain loop is the paper's form: h=128, K=512, D=64, beta=0.25, loss-based codebook initialised uniformly in
+-1/K, Adam 2e-4, batch 64, float32 quantizer, bf16 autocast only where vqlab's `auto` rule would use it.
vqlab runs `vqlab train` defaults with `--max-minutes`. For colorize, the gray baseline (output = the input's
luminance) is printed as the floor.

    python benchmarks/quality.py --minutes 8 [--tasks reconstruct,colorize] [--methods plain,vqlab]
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
from reference import RefVQVAE


def plain_loop(data, task, minutes: float, seed: int = 0) -> dict:
    """Train the reference model for ``minutes`` and score it; returns steps, psnr, usage."""
    from vqlab.train.device import resolve_precision

    torch.manual_seed(seed)
    dtype = resolve_precision("auto", torch.device("cpu"))
    model = RefVQVAE(128, 512, 64, task.in_channels, task.out_channels)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    gen = torch.Generator().manual_seed(seed)
    steps, t0 = 0, time.time()
    while time.time() - t0 < 60 * minutes:
        idx = torch.randint(0, data.train.shape[0], (64,), generator=gen)
        x, y = task.prepare(data.train[idx])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        steps += 1
    model.eval()
    sq, count, used = 0.0, 0, torch.zeros(512, dtype=torch.bool)
    for start in range(0, data.test.shape[0], 256):
        batch = data.test[start:start + 256]
        x, _ = task.prepare(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype is not None):
            out, codes = model.reconstruct(x)
        rgb = task.output_to_rgb(out.float(), x)
        target = batch.float() / 255
        sq += (rgb - target).pow(2).sum().item()
        count += target.numel()
        used[codes.flatten().unique()] = True
    return {"steps": steps, "psnr": 10 * math.log10(count / sq), "usage": used.float().mean().item()}


def vqlab_default(task_name: str, minutes: float) -> dict:
    """`vqlab train --task TASK --max-minutes M` with every other option at its default."""
    from vqlab import config as cfgmod
    from vqlab.train.loop import train
    from vqlab.train.run import read_metrics

    cfg = cfgmod.preset("default")
    cfg.data.task = task_name
    cfg.train.steps, cfg.train.max_minutes = 10**9, minutes
    cfg.train.eval_every = cfg.train.checkpoint_every = 10**9
    with tempfile.TemporaryDirectory() as tmp:
        final = train(cfg, Path(tmp) / "run", progress=False)
        steps = max(r["step"] for r in read_metrics(Path(tmp) / "run"))
    return {"steps": steps, "psnr": final["psnr"], "usage": final["codebook_usage"]}


def gray_baseline(data) -> float:
    """Test PSNR of outputting the input's luminance as a gray RGB image."""
    from vqlab.data.tasks import luminance

    rgb = data.test.float() / 255
    gray = luminance(rgb).expand(-1, 3, -1, -1)
    return 10 * math.log10(1 / (gray - rgb).pow(2).mean().item())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=8.0)
    p.add_argument("--tasks", default="reconstruct,colorize")
    p.add_argument("--methods", default="plain,vqlab", help="which of plain, vqlab to train (both)")
    args = p.parse_args()
    methods = [{"plain": "plain loop", "vqlab": "vqlab default"}[m] for m in args.methods.split(",")]

    from vqlab.data import load_dataset
    from vqlab.data.tasks import Task

    data = load_dataset("photos")
    print(f"photos: {data.train.shape[0]} train / {data.test.shape[0]} test crops; {args.minutes} min per run; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'task':<12}{'method':<16}{'steps':>7}{'test PSNR':>11}{'usage':>8}")
    for name in args.tasks.split(","):
        task = Task(name, data.channels)
        for method in methods:
            r = plain_loop(data, task, args.minutes) if method == "plain loop" else vqlab_default(name, args.minutes)
            print(f"{name:<12}{method:<16}{r['steps']:>7}{r['psnr']:>10.2f} {100 * r['usage']:>6.1f}%", flush=True)
        if name == "colorize":
            print(f"{name:<12}{'gray baseline':<16}{'-':>7}{gray_baseline(data):>10.2f} {'-':>7}")


if __name__ == "__main__":
    main()
