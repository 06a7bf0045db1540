import itertools
import math

import pytest

from vqlab.train.schedule import budget_fraction, lr_factor


def test_progress_is_the_larger_of_steps_and_time_spent():
    assert budget_fraction(50, 100, 0.0, None) == 0.5
    assert budget_fraction(50, 100, 30.0, 1.0) == 0.5      # half the steps, half a minute of one
    assert budget_fraction(10, 100, 45.0, 1.0) == 0.75     # the clock runs out first
    assert budget_fraction(10, 10**9, 600.0, 1.0) == 1.0   # clipped at the end of the budget
    assert budget_fraction(0, 100, 0.0, None) == 0.0


def test_constant_and_cosine_factors():
    assert lr_factor("constant", 7, 0.9) == 1.0
    assert lr_factor("cosine", 1, 0.0) == 1.0
    assert lr_factor("cosine", 50, 0.5) == pytest.approx(0.5)
    assert lr_factor("cosine", 100, 1.0) == pytest.approx(0.0, abs=1e-12)
    values = [lr_factor("cosine", s, s / 100) for s in range(101)]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert lr_factor("cosine", 25, 0.25) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))


def test_warmup_ramps_linearly_then_hands_over():
    assert lr_factor("constant", 1, 0.0, warmup_steps=4) == 0.25
    assert lr_factor("constant", 3, 0.0, warmup_steps=4) == 0.75
    assert lr_factor("constant", 4, 0.0, warmup_steps=4) == 1.0
    assert lr_factor("cosine", 2, 0.5, warmup_steps=4) == pytest.approx(0.25)


def test_unknown_schedule_is_refused():
    with pytest.raises(ValueError):
        lr_factor("linear", 1, 0.0)
