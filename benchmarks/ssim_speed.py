"""Speed of vqlab's SSIM (vqlab.eval.ssim) against the torchmetrics function it replaced, in the same process.

For each image shape: the best of --repeat wall times of both on the same batch, their ratio, and the largest
difference between their per-image values (they compute the same quantity, so it is float rounding). Then a
whole test evaluation (``evaluate_model``: the model's forward pass, MSE, SSIM, code usage) of a trained run on
its test split, with each SSIM: what the study's evaluations every ``--eval-every`` steps cost.

    OMP_NUM_THREADS=1 python benchmarks/ssim_speed.py [--run RUN_DIR] [--repeat 5]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

SHAPES = ((256, 1, 28, 28), (256, 3, 32, 32), (16, 3, 128, 128), (1, 3, 512, 768))


def best(fn, repeat: int) -> tuple[object, float]:
    """(result, best wall time in seconds) of ``repeat`` calls of ``fn``, after one warm-up call."""
    out = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, min(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", type=Path, default=None, help="a trained run folder: also time a whole test evaluation")
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    from torchmetrics.functional.image import structural_similarity_index_measure as reference

    from vqlab.eval import metrics
    from vqlab.eval.ssim import ssim_per_image

    print(f"torch threads: {torch.get_num_threads()}")
    print("| images | torchmetrics (s) | vqlab (s) | speed-up | max difference |")
    print("|---|---|---|---|---|")
    g = torch.Generator().manual_seed(0)
    for shape in SHAPES:
        target = torch.rand(shape, generator=g)
        preds = (target + 0.1 * torch.randn(shape, generator=g)).clamp(0, 1)
        want, t_ref = best(lambda p=preds, t=target: reference(p, t, data_range=1.0, reduction="none"), args.repeat)
        got, t_new = best(lambda p=preds, t=target: ssim_per_image(p, t), args.repeat)
        diff = (got - want).abs().max().item()  # type: ignore[operator]
        print(f"| {'x'.join(map(str, shape))} | {t_ref:.4f} | {t_new:.4f} | {t_ref / t_new:.1f}x | {diff:.1e} |")

    if args.run is not None:
        from vqlab.data.registry import load_dataset
        from vqlab.train.device import resolve_precision
        from vqlab.train.run import load_run

        run = load_run(args.run)
        data = load_dataset(run.config.data.dataset, image_size=run.config.data.image_size)
        device = torch.device("cpu")
        dtype = resolve_precision(run.config.train.precision, device)
        evaluate = lambda: metrics.evaluate_model(run.model, run.task, data.test, device=device, dtype=dtype)
        fast, t_new = best(evaluate, max(1, args.repeat // 2))
        metrics.ssim_per_image = lambda a, b: reference(a, b, data_range=1.0, reduction="none")
        try:
            slow, t_ref = best(evaluate, max(1, args.repeat // 2))
        finally:
            metrics.ssim_per_image = ssim_per_image
        print(f"\nevaluate_model, {data.test.shape[0]} test images of {args.run}: {t_ref:.2f} s with torchmetrics' "
              f"SSIM, {t_new:.2f} s with vqlab's ({t_ref / t_new:.2f}x); SSIM {slow['ssim']:.6f} vs "
              f"{fast['ssim']:.6f}")


if __name__ == "__main__":
    main()
