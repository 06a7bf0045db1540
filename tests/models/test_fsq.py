import itertools
import math

import pytest
import torch

from vqlab.config import QuantizerConfig
from vqlab.models.fsq import FSQ, round_ste
from vqlab.models.vqvae import VQVAE


def _identity_projection(fsq: FSQ) -> FSQ:
    """Make project_in / project_out the identity (D = len(levels)) so the bound and rounding are seen directly."""
    d = len(fsq.levels)
    with torch.no_grad():
        for conv in (fsq.project_in, fsq.project_out):
            conv.weight.copy_(torch.eye(d).view(d, d, 1, 1))
            conv.bias.zero_()
    return fsq


@pytest.mark.parametrize("level", [2, 3, 4, 5, 7, 8, 16])
def test_bound_and_round_reach_exactly_the_levels(level):
    fsq = _identity_projection(FSQ([level], 1))
    z = torch.linspace(-30, 30, 20001).view(1, 1, -1, 1)
    rounded = torch.round(fsq.bound(z)).unique().tolist()
    half = level // 2
    assert rounded == [float(v) for v in range(-half, level - half)]
    assert torch.round(fsq.bound(torch.zeros(1, 1, 1, 1))).item() == 0.0  # zero stays zero (half-level shift)
    assert fsq.bound(torch.zeros(1, 1, 1, 1)).abs().item() < 1e-6


def test_rounding_values_of_known_inputs():
    fsq = _identity_projection(FSQ([5, 8], 2))
    z = torch.tensor([[0.0, 0.0], [100.0, 100.0], [-100.0, -100.0], [0.3, 0.3]]).T.reshape(1, 2, 4, 1)
    rounded = torch.round(fsq.bound(z))[0, :, :, 0].T
    assert rounded.tolist() == [[0, 0], [2, 3], [-2, -4], [round(math.tanh(0.3) * 2 * 1.001), 1]]
    # 8 levels: tanh(0.3 + s) * 3.5035 - 0.5 with s = atanh(0.5 / 3.5035)
    h = 3.5 * 1.001
    assert rounded[3, 1] == round(math.tanh(0.3 + math.atanh(0.5 / h)) * h - 0.5)
    out = fsq(z)
    expected = rounded / torch.tensor([2.0, 4.0])  # scaled into [-1, 1] by floor(L/2)
    assert torch.allclose(out.quantized[0, :, :, 0].T, expected)


def test_round_ste_rounds_forward_and_copies_the_gradient():
    x = torch.tensor([0.4, 0.6, -1.5, 2.5, -0.49], requires_grad=True)
    y = round_ste(x)
    assert y.tolist() == [0.0, 1.0, -2.0, 2.0, -0.0]
    (y * torch.arange(5.0)).sum().backward()
    assert torch.equal(x.grad, torch.arange(5.0))


def test_straight_through_gradient_is_the_gradient_of_the_unrounded_path():
    torch.manual_seed(0)
    fsq = FSQ([8, 5, 5, 5], 6)
    z = torch.randn(2, 6, 3, 3, requires_grad=True)
    up = torch.randn(2, 6, 3, 3)
    (fsq(z).quantized * up).sum().backward()
    z2 = z.detach().clone().requires_grad_(True)
    smooth = fsq.project_out(fsq.bound(fsq.project_in(z2)) / fsq._half.view(1, -1, 1, 1))
    (smooth * up).sum().backward()
    assert torch.allclose(z.grad, z2.grad, atol=1e-6)
    assert z.grad.abs().sum() > 0


@pytest.mark.parametrize("levels", [(2,), (3, 2, 4), (5, 3), (2, 2, 2, 2), (8, 5, 5, 5)])
def test_index_map_and_its_inverse_exhaustively(levels):
    fsq = FSQ(levels, 3)
    k = math.prod(levels)
    assert fsq.num_codes == k
    idx = torch.arange(k).view(1, k, 1)
    digits = fsq.indices_to_digits(idx)  # (1, d, k, 1) integer levels
    assert torch.equal(fsq.digits_to_indices(digits), idx)
    # every combination of levels appears exactly once, digit 0 least significant
    combos = {tuple(int(v) for v in digits[0, :, i, 0]) for i in range(k)}
    ranges = [range(-(n // 2), n - n // 2) for n in levels]
    assert combos == set(itertools.product(*ranges))
    assert digits[0, 0, 1, 0] - digits[0, 0, 0, 0] == 1  # index 1 is one step in the first dimension


def test_encode_lookup_and_forward_agree():
    torch.manual_seed(1)
    fsq = FSQ([7, 5, 5, 5, 5], 8).eval()
    z = torch.randn(3, 8, 4, 5) * 2
    out = fsq(z)
    assert out.indices.shape == (3, 4, 5) and out.indices.dtype == torch.long
    assert int(out.indices.min()) >= 0 and int(out.indices.max()) < 4375
    assert torch.equal(fsq.encode(z), out.indices)
    assert torch.allclose(fsq.lookup(out.indices), out.quantized, atol=1e-6)
    assert out.loss.item() == 0 and out.codebook_loss.item() == 0 and out.commitment_loss.item() == 0
    assert out.counts.shape == (4375,) and out.counts.sum() == 60
    assert out.perplexity.item() <= 60


def test_float32_under_autocast():
    fsq = FSQ([8, 5, 5, 5], 4)
    z = torch.randn(2, 4, 3, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = fsq(z.bfloat16())
    assert out.quantized.dtype == torch.float32
    assert torch.equal(out.indices, fsq.encode(z.bfloat16()))


def test_from_config_and_in_a_vqvae():
    q = QuantizerConfig(name="fsq", fsq_levels="auto")
    assert FSQ.from_config(q, 1024, 16).levels == (8, 5, 5, 5)
    q.fsq_levels = "4,4"
    fsq = FSQ.from_config(q, 999, 16)
    assert fsq.levels == (4, 4) and fsq.num_codes == 16
    model = VQVAE(3, 3, hidden=8, embedding_dim=16, quantizer=fsq)
    x = torch.rand(2, 3, 8, 8)
    out = model(x)
    out.loss.backward()
    assert model.num_codes == 16 and model.num_codebooks == 1
    assert fsq.project_in.weight.grad.abs().sum() > 0 and model.encoder.net[0].weight.grad.abs().sum() > 0
    assert model.decode(model.encode(x)).shape == x.shape
    assert set(fsq.state_dict()) == {"project_in.weight", "project_in.bias", "project_out.weight", "project_out.bias"}
