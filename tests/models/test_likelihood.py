import math

import pytest
import torch

from vqlab.eval.bits import LN2
from vqlab.models.likelihood import (
    LIKELIHOODS,
    DiscretizedGaussian,
    DiscretizedLogistic,
    Softmax256,
    build_likelihood,
    log_ndtr_diff,
    log_sigmoid_diff,
    to_bins,
)


def _targets(b=2, c=3, h=4, w=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    v = torch.randint(0, 256, (b, c, h, w), generator=g)
    v[0, 0, 0, 0], v[0, 0, 0, 1] = 0, 255  # both edge bins
    return v, v.float() / 255.0 - 0.5


def test_bins_round_trip_exactly():
    v = torch.arange(256)
    assert torch.equal(to_bins(v.float() / 255.0 - 0.5), v)


def test_uniform_softmax_gives_exactly_8_bits_per_dim():
    _, t = _targets()
    params = torch.zeros(2, 3 * 256, 4, 4)
    bpd = Softmax256().nll(params, t) / (t[0].numel() * LN2)
    assert torch.allclose(bpd, torch.full((2,), 8.0), atol=1e-6)


def test_confident_decoders_on_the_right_values_give_about_zero_bits():
    v, t = _targets()
    logits = torch.full((2, 3, 256, 4, 4), -30.0).scatter_(2, v.unsqueeze(2), 30.0)
    assert Softmax256().nll(logits.view(2, 768, 4, 4), t).max() < 1e-6
    m = 3  # logistic: every component at the right value with a tiny scale
    means = t.unsqueeze(2).expand(-1, -1, m, -1, -1)
    params = torch.cat([torch.zeros_like(means), means, torch.full_like(means, -7.0)], 2).reshape(2, 27, 4, 4)
    dims = t[0].numel()
    assert DiscretizedLogistic(m).nll(params, t).max() / dims < 1e-2
    assert DiscretizedGaussian(1e-4).nll(t, t).max() / dims < 1e-3


@pytest.mark.parametrize("head", [Softmax256(), DiscretizedLogistic(4), DiscretizedGaussian(0.05)])
def test_every_head_is_a_normalised_distribution_over_the_256_bins(head):
    torch.manual_seed(0)
    params = torch.randn(1, head.params_per_channel, 1, 1) * 0.3
    all_values = (torch.arange(256).float() / 255.0 - 0.5).view(256, 1, 1, 1)
    logp = -head.nll(params.expand(256, -1, -1, -1), all_values)
    assert torch.logsumexp(logp, 0).item() == pytest.approx(0.0, abs=1e-4)
    assert head.mean_image(params).shape == (1, 1, 1, 1)


def test_softmax_mean_image_is_the_expected_value():
    logits = torch.full((1, 256, 1, 1), -1e4)
    logits[0, 10], logits[0, 20] = 0.0, 0.0
    assert Softmax256().mean_image(logits).item() == pytest.approx(15 / 255 - 0.5, abs=1e-6)


def test_stable_log_differences_match_naive_formulas_and_stay_finite_in_the_tails():
    a, b = torch.tensor([0.3, 2.0, -1.0]), torch.tensor([0.1, 1.5, -1.2])
    naive = torch.log(torch.sigmoid(a) - torch.sigmoid(b))
    assert torch.allclose(log_sigmoid_diff(a, b), naive, atol=1e-6)
    ndtr = torch.special.ndtr
    assert torch.allclose(log_ndtr_diff(a, b), torch.log(ndtr(a) - ndtr(b)), atol=1e-5)
    far = torch.tensor([60.0, -60.0])
    assert torch.isfinite(log_sigmoid_diff(far + 0.01, far)).all()
    assert torch.isfinite(log_ndtr_diff(far + 0.01, far)).all()


def test_gaussian_nll_matches_the_bin_probability_under_a_normal_density():
    mean, sigma = torch.tensor(0.1), 0.05
    x = 140 / 255 - 0.5
    t = torch.tensor(x).view(1, 1, 1, 1)
    normal = torch.distributions.Normal(mean, sigma)
    p = normal.cdf(torch.tensor(x + 0.5 / 255)) - normal.cdf(torch.tensor(x - 0.5 / 255))
    got = DiscretizedGaussian(sigma).nll(mean.view(1, 1, 1, 1), t)
    assert got.item() == pytest.approx(-math.log(p.item()), rel=1e-4)


def test_registry_and_float32_under_bf16_params():
    assert set(LIKELIHOODS) == {"softmax256", "logistic", "gaussian"}
    assert build_likelihood("mse") is None
    head = build_likelihood("logistic", mixtures=2)
    assert head.params_per_channel == 6
    _, t = _targets()
    nll = head.nll(torch.zeros(2, 18, 4, 4, dtype=torch.bfloat16), t)
    assert nll.dtype == torch.float32 and torch.isfinite(nll).all()
