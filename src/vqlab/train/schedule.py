"""Learning-rate schedules: the factor that multiplies ``--lr`` at each step.

A run's progress is the fraction of its budget spent: ``step / steps``, or, when ``--max-minutes`` is set and
the clock runs out first, the fraction of the time budget spent. So a time-budgeted run anneals to finish on
time. Step-only runs (no ``--max-minutes``) are exactly reproducible; time-budgeted runs depend on the clock.
"""

from __future__ import annotations

import math

from vqlab.config import SCHEDULES


def budget_fraction(step: int, steps: int, wall_seconds: float, max_minutes: float | None) -> float:
    """Fraction in [0, 1] of the run's budget spent after ``step`` steps and ``wall_seconds`` of training."""
    frac = step / steps
    if max_minutes is not None:
        frac = max(frac, wall_seconds / (60.0 * max_minutes))
    return min(max(frac, 0.0), 1.0)


def lr_factor(schedule: str, step: int, frac: float, warmup_steps: int = 0) -> float:
    """Multiplier of the base learning rate for 1-based ``step`` at progress ``frac``.

    ``constant``: 1. ``cosine``: half a cosine from 1 down to 0 over the run. A linear warm-up over the first
    ``warmup_steps`` steps multiplies either.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}")
    factor = 1.0 if schedule == "constant" else 0.5 * (1.0 + math.cos(math.pi * frac))
    if warmup_steps > 0 and step < warmup_steps:
        factor *= step / warmup_steps
    return factor
