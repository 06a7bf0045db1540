"""Multi-process data-parallel training under ``torchrun`` (gloo on CPU, nccl on GPU).

``torchrun --nproc_per_node N -m vqlab train ...`` sets RANK, WORLD_SIZE and LOCAL_RANK; without them training
runs in one process and every helper here is a no-op.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist

from vqlab.errors import ReportedElsewhere, VQLabError


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: rank, world size, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(default: torch.device) -> DistContext:
    """Join the process group torchrun describes (if any) and pick this rank's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistContext(device=default)
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if default.type == "cuda":
        if local >= torch.cuda.device_count():
            raise VQLabError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} GPUs are visible")
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(minutes=30))
    return DistContext(rank=rank, world_size=world, local_rank=local, device=device)


def barrier(ctx: DistContext) -> None:
    """Wait for every rank (no-op in one process)."""
    if ctx.enabled:
        dist.barrier()


def mean_over_ranks(ctx: DistContext, values: torch.Tensor) -> torch.Tensor:
    """Average a float tensor over ranks (returns it unchanged in one process)."""
    if ctx.enabled:
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= ctx.world_size
    return values


def agree(ctx: DistContext, ok: bool) -> bool:
    """True only when ``ok`` holds on every rank, so all ranks take the same branch."""
    if not ctx.enabled:
        return ok
    flag = torch.tensor([0 if ok else 1], dtype=torch.int64, device=ctx.device)
    dist.all_reduce(flag, op=dist.ReduceOp.SUM)
    return int(flag.item()) == 0


def check_together(ctx: DistContext, check: Callable[[], None]) -> None:
    """Run ``check`` on this rank; when it raises a VQLabError on any rank, raise on every rank.

    Rank 0 raises the error with the message of the lowest failing rank; the other ranks raise
    :class:`~vqlab.errors.ReportedElsewhere`, which the CLI does not print, so the user reads it once. All ranks
    take the same branch, so none is left waiting in a collective. In one process it simply runs ``check``.
    """
    if not ctx.enabled:
        check()
        return
    mine: str | None = None
    try:
        check()
    except VQLabError as exc:
        mine = str(exc)
    messages: list[str | None] = [None] * ctx.world_size
    dist.all_gather_object(messages, mine)
    first = next((m for m in messages if m is not None), None)
    if first is not None:
        raise VQLabError(first) if ctx.is_main else ReportedElsewhere(first)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group."""
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
