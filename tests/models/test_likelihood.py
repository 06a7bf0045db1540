import math

import pytest
import torch

from vqlab.eval.bits import LN2
from vqlab.models.likelihood import (
    LIKELIHOODS,
    ChromaBins,
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
    assert set(LIKELIHOODS) == {"softmax256", "logistic", "gaussian", "chroma-bins"}
    assert build_likelihood("mse") is None
    head = build_likelihood("logistic", mixtures=2)
    assert head.params_per_channel == 6
    _, t = _targets()
    nll = head.nll(torch.zeros(2, 18, 4, 4, dtype=torch.bfloat16), t)
    assert nll.dtype == torch.float32 and torch.isfinite(nll).all()


# ---- chroma-bins: colour as classification with the annealed mean -----------------------------------------------


def test_chroma_soft_target_is_a_distribution_centred_on_the_value():
    head = ChromaBins(bins=11)  # centres -0.5, -0.4, ..., 0.5
    t = torch.tensor([-0.5, -0.13, 0.0, 0.31, 0.5]).view(1, 5, 1, 1)
    w = head.soft_target(t)
    assert w.shape == (1, 5, 11, 1, 1) and torch.allclose(w.sum(2), torch.ones(1, 5, 1, 1))
    centres = head.centers.view(1, 1, -1, 1, 1)
    # Away from the edges the weights' mean is the value itself (a symmetric kernel over an even grid).
    assert torch.allclose((w * centres).sum(2)[0, 1:4, 0, 0], t[0, 1:4, 0, 0], atol=2e-3)
    assert w[0, 2].argmax().item() == 5 and w[0, 0].argmax().item() == 0


def test_chroma_cross_entropy_is_lowest_for_the_soft_target_itself():
    head = ChromaBins(bins=16)
    g = torch.Generator().manual_seed(0)
    t = torch.rand(2, 2, 3, 3, generator=g) - 0.5
    w = head.soft_target(t)
    best = torch.log(w.clamp_min(1e-30)).reshape(2, 2 * 16, 3, 3)  # logits = log of the target
    worse = best + 0.5 * torch.randn(best.shape, generator=g)
    uniform = torch.zeros_like(best)
    ce = [head.nll(p, t) for p in (best, worse, uniform)]
    assert (ce[0] < ce[1]).all() and (ce[0] < ce[2]).all()
    # Uniform logits: exactly log(Q) nats per value.
    assert torch.allclose(ce[2], torch.full((2,), 2 * 9 * math.log(16)), atol=1e-4)


def test_annealed_mean_moves_from_the_mean_to_the_mode_as_the_temperature_falls():
    # Two colours, 70% / 30%: the mean sits between them (grayish), the annealed mean moves to the likelier one.
    q = 21
    logits = torch.full((1, 2, q, 1, 1), -1e4)
    logits[0, :, 15] = math.log(0.7)  # centre +0.25
    logits[0, :, 3] = math.log(0.3)  # centre -0.35
    params = logits.view(1, 2 * q, 1, 1)
    values = [ChromaBins(q, temperature=tau).mean_image(params)[0, 0, 0, 0].item() for tau in (1.0, 0.38, 0.05)]
    assert values[0] == pytest.approx(0.7 * 0.25 + 0.3 * -0.35, abs=1e-5)
    assert values[0] < values[1] < values[2] and values[2] == pytest.approx(0.25, abs=1e-3)
    assert abs(values[1]) > abs(values[0])  # more colourful than the mean


def test_chroma_bins_is_built_from_its_options_and_rejects_bad_ones():
    head = build_likelihood("chroma-bins", bins=8, temperature=0.5)
    assert isinstance(head, ChromaBins) and head.params_per_channel == 8 and head.temperature == 0.5
    assert head.nll(torch.zeros(1, 16, 2, 2, dtype=torch.bfloat16), torch.zeros(1, 2, 2, 2)).dtype == torch.float32
    with pytest.raises(ValueError):
        ChromaBins(bins=1)
    with pytest.raises(ValueError):
        ChromaBins(temperature=0.0)
