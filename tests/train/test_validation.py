"""Validation subset and best-checkpoint bookkeeping (the loop's use of them is tested through the CLI)."""

import itertools
import math

import torch

from vqlab.train.validation import BestTracker, validation_subset


def test_validation_subset_is_fixed_and_evenly_spaced():
    val = torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1)
    sub = validation_subset(val, 10)
    assert torch.equal(sub, validation_subset(val, 10))
    picked = sub.flatten().tolist()
    assert picked[0] == 0 and picked[-1] == 99 and len(picked) == 10
    assert all(10 <= b - a <= 12 for a, b in itertools.pairwise(picked))
    assert validation_subset(val, 500) is val  # smaller than the budget: all of it
    assert validation_subset(val, 0) is None and validation_subset(None, 10) is None
    assert validation_subset(val[:0], 10) is None


def test_best_tracker_keeps_the_first_of_the_highest():
    best = BestTracker()
    assert best.offer(10, 12.0) and not best.offer(20, 11.0) and best.offer(30, 13.0)
    assert not best.offer(40, 13.0) and not best.offer(50, math.nan)
    assert (best.step, best.psnr) == (30, 13.0)
