import itertools
import math

import pytest
import torch

from vqlab.models.likelihood import DiscretizedLogistic
from vqlab.models.vimco import VIMCO, vimco_surrogate


def _enumerate(positions: int, k: int, samples: int):
    """Every S-tuple of class maps: yields a (samples, positions) int64 tensor."""
    maps = list(itertools.product(range(k), repeat=positions))
    for combo in itertools.product(maps, repeat=samples):
        yield torch.tensor(combo, dtype=torch.long)


@pytest.mark.parametrize("positions,k,samples", [(1, 3, 3), (2, 3, 2)])
def test_vimco_gradient_estimate_is_unbiased_by_exact_enumeration(positions, k, samples):
    """E_q[VIMCO estimate] equals the exact gradient of E_q[L_S], both computed by enumerating all samples."""
    torch.manual_seed(0)
    phi = torch.randn(positions, k, dtype=torch.float64, requires_grad=True)  # encoder logits
    theta = torch.randn(positions, k, dtype=torch.float64, requires_grad=True)  # decoder: one mean per class
    x = torch.tensor([0.3, -0.2][:positions], dtype=torch.float64)
    log_prior = -positions * math.log(k)

    def terms(z):  # z: (S, positions) -> log p(x|z_s), log q(z_s|x), both (1, S)
        log_q_all = torch.log_softmax(phi, -1)
        log_q = log_q_all.gather(1, z.t()).t().sum(1)
        mean = theta.gather(1, z.t()).t()
        log_px = (-0.5 * (x - mean).pow(2) / 0.25).sum(1)
        return log_px.unsqueeze(0), log_q.unsqueeze(0)

    exact, estimate = 0.0, 0.0
    for z in _enumerate(positions, k, samples):
        log_px, log_q = terms(z)
        prob = log_q.sum().exp()
        bound = torch.logsumexp(log_px + log_prior - log_q, 1) - math.log(samples)
        exact = exact + prob * bound.sum()
        surrogate, _ = vimco_surrogate(log_px, log_q, log_prior)
        estimate = estimate + prob.detach() * surrogate.sum()
    g_exact = torch.autograd.grad(exact, (phi, theta), retain_graph=True)
    g_est = torch.autograd.grad(estimate, (phi, theta))
    for ge, gv in zip(g_exact, g_est):
        assert torch.allclose(-gv.double(), ge, atol=1e-5), (ge, -gv)
    assert g_exact[0].abs().max() > 1e-3  # the encoder gradient is not trivially zero


def test_surrogate_returns_the_multi_sample_bound():
    log_px, log_q = torch.randn(4, 5), torch.randn(4, 5)
    _, bound = vimco_surrogate(log_px, log_q, -1.5)
    assert torch.allclose(bound, torch.logsumexp(log_px - 1.5 - log_q, 1) - math.log(5))
    with pytest.raises(ValueError):
        vimco_surrogate(log_px[:, :1], log_q[:, :1])


def test_vimco_model_trains_encoder_decoder_and_embedding():
    torch.manual_seed(0)
    model = VIMCO(3, 3, hidden=8, num_res_blocks=1, num_embeddings=5, embedding_dim=4,
                  likelihood=DiscretizedLogistic(2), samples=4)
    x = torch.rand(2, 3, 8, 8) - 0.5
    out = model(x)
    assert out.recon.shape == x.shape and out.indices.shape == (2, 2, 2) and out.counts.sum() == 2 * 4 * 4
    out.loss.backward()
    for p in (model.encoder.net[0].weight, model.decoder.net[0].weight, model.embedding.weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    model.eval()
    ev = model(x)
    assert torch.equal(ev.indices, model.encode(x))
    assert torch.allclose(ev.recon, model.reconstruct(x))
    assert ev.bound >= ev.recon_loss  # KL to the uniform prior is >= 0
