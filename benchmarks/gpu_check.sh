#!/usr/bin/env bash
# GPU checks, run on a machine with an NVIDIA GPU: the GPU-only tests, then the training-step benchmark and the
# quantizer search at large K on the GPU. Writes everything to ${OUT:-gpu_check}/ as well as to stdout.
#   bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-gpu_check}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" \
  2>&1 | tee "$out/device.txt" || exit 1
python -m pytest -q tests/test_gpu.py tests/models 2>&1 | tee "$out/tests.txt"
(cd benchmarks && python train_speed.py --device cuda --steps 20 --compile) 2>&1 | tee "$out/train_speed.txt"
python - <<'PY' 2>&1 | tee "$out/search.txt"
import time, torch
from vqlab.models.quantize import nearest_codes
for k in (512, 65536):
    z, e = torch.randn(8192, 64, device="cuda"), torch.randn(k, 64, device="cuda")
    nearest_codes(z, e); torch.cuda.synchronize(); torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated(); t = time.perf_counter()
    for _ in range(10): nearest_codes(z, e)
    torch.cuda.synchronize()
    print(f"K={k}: {(time.perf_counter() - t) * 100:.2f} ms per search, "
          f"extra peak {(torch.cuda.max_memory_allocated() - base) / 2**20:.0f} MB")
PY
