"""Device and precision choice: bf16 autocast only where the hardware runs it fast."""

from __future__ import annotations

import os
import platform
from functools import lru_cache

import torch

from vqlab.errors import VQLabError


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has AVX-512 BF16 or AMX-BF16 instructions (Linux /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


def cpu_name() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else what ``platform`` knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def cpu_model() -> str:
    """The CPU's model name and its number of cores, as the study and benchmark pages name their machine."""
    return f"{cpu_name()}, {os.cpu_count()} cores"


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` (auto, fp32, bf16) on ``device``; None means plain float32.

    ``auto`` picks bf16 on CUDA GPUs that support it and on CPUs with AVX-512 BF16 or AMX, float32 elsewhere
    (without those instructions bf16 convolutions are several times slower than float32).
    """
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise VQLabError(f"--precision must be auto, fp32 or bf16, not {precision!r}")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return torch.bfloat16 if cpu_has_fast_bf16() else None
