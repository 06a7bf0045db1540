"""Quantizer speed and memory: vqlab's quantizers (vq with its options, fsq, simvq, rvq) against a naive
full-matrix search and, when installed, vector-quantize-pytorch's EMA VectorQuantize.

Each (implementation, K) pair runs in a fresh subprocess so that its peak memory can be read alone:
``extra MB`` is the peak resident size during the calls (Linux VmHWM, reset just before them) minus the
resident size just before the first call (inputs and codebook already allocated).

    python benchmarks/quantizer.py                     # K = 512 ... 65536, N = 8192, D = 64
    python benchmarks/quantizer.py --ks 512 --repeats 20
    python benchmarks/quantizer.py --ks 65536 --impls vqlab,fsq,simvq,rvq --rvq-codebooks 4

fsq at K uses the levels ``--fsq-levels auto`` picks for K (2^16: 8,8,8,5,5,5 = 64000 codes); rvq uses
``--rvq-codebooks`` codebooks of K codes each (with quantizer dropout off: all of them every call).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

IMPLS = ("vqlab", "vqlab-ema", "vqlab-rotation", "vqlab-cosine", "fsq", "simvq", "rvq", "naive",
         "vector-quantize-pytorch")


def _status_mb(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: resident now, VmHWM: peak resident) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    """Make VmHWM restart from the current resident size (Linux: write 5 to /proc/self/clear_refs)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _naive_step(z, codebook, beta=0.25):
    """The textbook VQ step: the whole (N, K) distance matrix at once, argmin, losses, straight-through."""
    import torch.nn.functional as F

    d = z.pow(2).sum(1, keepdim=True) - 2 * z @ codebook.t() + codebook.pow(2).sum(1)
    idx = d.argmin(1)
    q = codebook[idx]
    loss = F.mse_loss(q, z.detach()) + beta * F.mse_loss(z, q.detach())
    return z + (q - z).detach(), idx, loss


def _vqlab_quantizer(impl: str, k: int, d: int, rvq_codebooks: int):
    """The vqlab quantizer an implementation name stands for, in training mode."""
    import torch

    from vqlab.config_quantizer import auto_levels
    from vqlab.models.fsq import FSQ
    from vqlab.models.quantize import VectorQuantizer
    from vqlab.models.rvq import ResidualVQ
    from vqlab.models.simvq import SimVQ

    if impl == "fsq":
        return FSQ(auto_levels(k), d).train()
    if impl == "simvq":
        return SimVQ(k, d).train()
    if impl == "rvq":
        q = ResidualVQ(k, d, rvq_codebooks, dropout=0.0).train()
        levels = list(q.levels)
    else:
        q = VectorQuantizer(k, d, ema=impl == "vqlab-ema", rotation_trick=impl == "vqlab-rotation",
                            cosine_codes=impl == "vqlab-cosine").train()
        levels = [q]
    with torch.no_grad():
        for level in levels:
            level.codebook.copy_(torch.randn(k, d))
    return q


def worker(impl: str, k: int, n: int, d: int, repeats: int, rvq_codebooks: int = 4) -> dict:
    import torch

    torch.manual_seed(0)
    z = torch.randn(n, d, requires_grad=True)
    if impl.startswith("vqlab") or impl in ("fsq", "simvq", "rvq"):
        vq = _vqlab_quantizer(impl, k, d, rvq_codebooks)
        x = z.view(1, n, 1, d).permute(0, 3, 1, 2)  # (B, D, H, W) view, channels-last like the encoder output

        def step():
            out = vq(x)
            (out.quantized.square().mean() + out.loss).backward()
            return out.indices.flatten()
    elif impl == "naive":
        codebook = torch.randn(k, d, requires_grad=True)

        def step():
            q, idx, loss = _naive_step(z, codebook)
            (q.square().mean() + loss).backward()
            return idx
    else:
        from vector_quantize_pytorch import VectorQuantize

        vq = VectorQuantize(dim=d, codebook_size=k, decay=0.99, commitment_weight=0.25).train()
        x = z.unsqueeze(0)

        def step():
            q, idx, loss = vq(x)
            (q.square().mean() + loss).backward()
            return idx.flatten()

    _reset_peak()
    base = _status_mb("VmRSS")
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        step()
        if i:  # the first call is a warm-up
            times.append(time.perf_counter() - t0)
    codes = vq.num_codes if impl.startswith("vqlab") or impl in ("fsq", "simvq", "rvq") else k
    return {"impl": impl, "k": k, "codes": codes, "ms": 1000 * statistics.median(times),
            "extra_mb": _status_mb("VmHWM") - base}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ks", default="512,4096,16384,65536")
    p.add_argument("--n", type=int, default=8192)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--impls", default=None, help=f"comma list from {', '.join(IMPLS)} (default: all installed)")
    p.add_argument("--rvq-codebooks", type=int, default=4, help="rvq: codebooks of K codes each (4)")
    p.add_argument("--worker", nargs=2, metavar=("IMPL", "K"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]), args.n, args.d, args.repeats,
                                args.rvq_codebooks)))
        return
    impls = tuple(args.impls.split(",")) if args.impls else IMPLS
    unknown = [i for i in impls if i not in IMPLS]
    if unknown:
        p.error(f"unknown --impls {', '.join(unknown)} (choose from {', '.join(IMPLS)})")
    if "vector-quantize-pytorch" in impls:
        try:
            import vector_quantize_pytorch  # noqa: F401
        except ImportError:
            impls = tuple(i for i in impls if i != "vector-quantize-pytorch")
            print("vector-quantize-pytorch not installed: skipped (pip install vector-quantize-pytorch)")
    import torch

    print(f"N={args.n} vectors, D={args.d}, forward+backward, median of {args.repeats}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'impl':<26}{'K':>7}{'codes':>7}{'ms':>10}{'extra MB':>10}{'vs vqpt':>9}")
    for k in [int(v) for v in args.ks.split(",")]:
        rows = {}
        for impl in impls:
            cmd = [sys.executable, __file__, "--worker", impl, str(k), "--n", str(args.n), "--d", str(args.d),
                   "--repeats", str(args.repeats), "--rvq-codebooks", str(args.rvq_codebooks)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["?"])[-1]
                print(f"{impl:<26}{k:>7}   failed: {last[:60]}")
                continue
            rows[impl] = json.loads(proc.stdout.strip().splitlines()[-1])
        ref = rows.get("vector-quantize-pytorch")
        for impl, r in rows.items():
            ratio = f"{ref['ms'] / r['ms']:.1f}x" if ref else "-"
            print(f"{impl:<26}{k:>7}{r['codes']:>7}{r['ms']:>10.1f}{r['extra_mb']:>10.0f}{ratio:>9}")


if __name__ == "__main__":
    main()
