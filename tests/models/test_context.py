"""The wavefront context model: its context is causal in anti-diagonal order, and its shapes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from vqlab.models.context import WavefrontContextModel, all_contexts, gather_contexts, wavefront_offsets


@pytest.mark.parametrize("radius", [1, 2, 3])
def test_offsets_lie_on_earlier_anti_diagonals_only(radius: int) -> None:
    off = wavefront_offsets(radius)
    assert (off.sum(axis=1) <= -1).all() and (np.abs(off) <= radius).all()
    assert len(off) == ((2 * radius + 1) ** 2 - (2 * radius + 1)) // 2  # every cell below the diagonal
    assert [-1, 1] not in off.tolist()  # top-right is on the same anti-diagonal
    if radius >= 2:
        assert [-2, 1] in off.tolist() and [1, -2] in off.tolist()


def test_contexts_read_outside_beyond_the_border() -> None:
    m = np.arange(12).reshape(3, 4)
    off = wavefront_offsets(1)  # (-1, -1), (-1, 0), (0, -1)
    ctx = all_contexts(m, off, outside=99)
    assert ctx.shape == (12, 3)
    assert ctx[0].tolist() == [99, 99, 99]
    assert ctx[5].tolist() == [0, 1, 4]  # position (1, 1)
    assert ctx[4].tolist() == [99, 0, 99]  # position (1, 0)
    pos = np.array([[1, 1], [2, 3]])
    assert gather_contexts(np.stack([m, m + 100]), pos, off, 99).shape == (2, 2, 3)


def test_probabilities_and_training_loss_shapes() -> None:
    torch.manual_seed(0)
    net = WavefrontContextModel(13, radius=2, embed_dim=4, hidden=8).eval()
    maps = np.random.default_rng(0).integers(0, 13, (3, 5, 6))
    p = net.probabilities(maps, np.array([[0, 2], [1, 1], [2, 0]]))
    assert p.shape == (3, 3, 13) and p.dtype == np.float64 and np.allclose(p.sum(axis=2), 1.0)
    ctx = torch.from_numpy(all_contexts(maps[0], net.offsets_array(), net.outside))
    out = net(ctx, torch.from_numpy(maps[0].reshape(-1)))
    assert out.logits.shape == (30, 13) and out.loss.ndim == 0 and out.loss.item() > 0


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 3), st.data())
def test_changing_a_code_never_changes_the_probabilities_of_positions_coded_before_it(h: int, w: int, radius: int,
                                                                                    data: st.DataObject) -> None:
    # Wavefront coding computes the probabilities of a whole anti-diagonal c = i + j in one pass before coding any
    # of its codes: a code on anti-diagonal c may only influence positions on later anti-diagonals.
    torch.manual_seed(radius)
    k = 11
    net = WavefrontContextModel(k, radius=radius, embed_dim=3, hidden=8).eval()
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    maps = rng.integers(0, k, (1, h, w))
    i, j = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    changed = maps.copy()
    changed[0, i, j] = (maps[0, i, j] + 1 + rng.integers(0, k - 1)) % k
    ii, jj = np.divmod(np.arange(h * w), w)
    pos = np.stack([ii, jj], axis=1)
    before, after = net.probabilities(maps, pos)[0], net.probabilities(changed, pos)[0]
    earlier = pos.sum(axis=1) <= i + j
    assert np.array_equal(before[earlier], after[earlier])
    if j + 1 < w:  # its right neighbour sees it
        assert not np.array_equal(before[i * w + j + 1], after[i * w + j + 1])


def test_probabilities_run_on_one_thread_and_restore_the_setting() -> None:
    torch.manual_seed(0)
    net = WavefrontContextModel(13, embed_dim=4, hidden=8).eval()
    maps, pos = np.random.default_rng(0).integers(0, 13, (2, 6, 6)), np.array([[2, 3], [3, 2]])
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        two = net.probabilities(maps, pos)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        assert np.array_equal(two, net.probabilities(maps, pos))
    finally:
        torch.set_num_threads(before)
