"""Training-step speed of the paper's VQ-VAE (h=256, K=512, D=64, batch 128, 32x32 images).

Variants, measured in one process on the same random batch:

  (a) reference  a plain float32 PyTorch loop written here (NCHW, full distance matrix, loss-based codebook)
  (b) vqlab      vqlab's default path: channels_last, --precision auto (bf16 only where the hardware is fast)
  (c) vqlab-fp32 vqlab forced to float32
  (d) vqlab-bf16 vqlab forced to bf16 autocast (informative on CPUs without AVX-512 BF16 / AMX)
  (e) vqlab+compile  (b) under torch.compile, with --compile

It prints images/s, the ratio to (a), achieved GFLOP/s (FLOPs of one step counted by torch's FlopCounterMode)
and that rate as a fraction of float32 and bf16 matmul ceilings measured here.

    python benchmarks/train_speed.py [--batch 128] [--steps 5] [--hidden 256] [--compile]
"""

from __future__ import annotations

import argparse
import time

import torch
from reference import RefVQVAE
from torch import nn


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_ceiling(dtype: torch.dtype, device: torch.device, n: int = 2048, reps: int = 10) -> float:
    """Measured GFLOP/s of an n x n matmul in ``dtype``."""
    if device.type == "cuda":
        n, reps = 8192, 50
    a = torch.randn(n, n, device=device).to(dtype)
    a @ a
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ a
    _sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9


def step_flops(model: nn.Module, x: torch.Tensor) -> float:
    """FLOPs of one forward+backward, counted by torch (convolutions and matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        loss = model(x)
        loss = loss if torch.is_tensor(loss) else loss.loss
        loss.backward()
    model.zero_grad(set_to_none=True)
    return float(counter.get_total_flops())


def time_steps(model, x, dtype, steps: int, warmup: int = 2) -> float:
    """Seconds per Adam training step (median-free mean after warm-up)."""
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)

    def one():
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=dtype is not None):
            out = model(x)
        loss = out if torch.is_tensor(out) else out.loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        one()
    _sync(x.device)
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    _sync(x.device)
    return (time.perf_counter() - t0) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--compile", action="store_true")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--skip-bf16", action="store_true", help="skip the forced-bf16 variant (slow without AMX)")
    args = p.parse_args()

    from vqlab.models.vqvae import VQVAE
    from vqlab.train.device import cpu_has_fast_bf16, resolve_precision

    device = torch.device(args.device)
    torch.manual_seed(0)
    x = torch.rand(args.batch, 3, 32, 32, device=device) - 0.5
    x_cl = x.contiguous(memory_format=torch.channels_last)
    fp32_peak, bf16_peak = matmul_ceiling(torch.float32, device), matmul_ceiling(torch.bfloat16, device)
    auto = resolve_precision("auto", device)
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU fast bf16: {cpu_has_fast_bf16()}, "
          f"auto precision: {'bf16' if auto else 'fp32'}")
    print(f"matmul ceilings: fp32 {fp32_peak:.0f} GFLOP/s, bf16 {bf16_peak:.0f} GFLOP/s")

    def vqlab_model():
        torch.manual_seed(0)
        return VQVAE(hidden=args.hidden).to(device, memory_format=torch.channels_last)

    ref = RefVQVAE(args.hidden).to(device)
    flops = step_flops(ref, x)
    variants = [("(a) reference fp32", ref, x, None), ("(b) vqlab default", vqlab_model(), x_cl, auto),
                ("(c) vqlab fp32", vqlab_model(), x_cl, None)]
    if not args.skip_bf16:
        variants.append(("(d) vqlab bf16", vqlab_model(), x_cl, torch.bfloat16))
    if args.compile:
        variants.append(("(e) vqlab default+compile", torch.compile(vqlab_model()), x_cl, auto))
    print(f"batch {args.batch}, h={args.hidden}, {flops / 1e9:.1f} GFLOP per training step, {args.steps} steps each")
    print(f"{'variant':<28}{'img/s':>9}{'vs (a)':>8}{'GFLOP/s':>9}{'of fp32':>9}{'of bf16':>9}")
    ref_rate = None
    for name, model, inp, dtype in variants:
        sec = time_steps(model, inp, dtype, args.steps)
        rate = args.batch / sec
        ref_rate = ref_rate or rate
        gflops = flops / sec / 1e9
        print(f"{name:<28}{rate:>9.1f}{rate / ref_rate:>7.2f}x{gflops:>9.0f}{gflops / fp32_peak:>9.2f}"
              f"{gflops / bf16_peak:>9.2f}")


if __name__ == "__main__":
    main()
