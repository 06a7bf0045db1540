import math

import torch
from torch.distributions import Normal, kl_divergence

from vqlab.models.vae import GaussianVAE, gaussian_kl


def test_kl_matches_closed_form_of_torch_distributions():
    torch.manual_seed(0)
    mu, logvar = torch.randn(3, 4, 2, 2), torch.randn(3, 4, 2, 2)
    expected = kl_divergence(Normal(mu, (0.5 * logvar).exp()), Normal(0.0, 1.0)).flatten(1).sum(1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected, atol=1e-5)
    assert torch.allclose(gaussian_kl(torch.zeros(1, 3), torch.zeros(1, 3)), torch.zeros(1))


def test_vae_forward_shapes_loss_and_eval_is_deterministic():
    torch.manual_seed(0)
    vae = GaussianVAE(3, 3, hidden=8, latent_dim=4, sigma=0.1)
    x = torch.rand(2, 3, 12, 16) - 0.5
    out = vae(x)
    assert out.recon.shape == x.shape and out.mu.shape == (2, 4, 3, 4)
    dims = x[0].numel()
    assert torch.allclose(out.loss, out.recon_loss + 2 * 0.01 * out.kl / dims)
    # nelbo per dim = mse / (2 sigma^2) + kl / dims + 0.5 log(2 pi sigma^2)
    expected = out.recon_loss / 0.02 + out.kl / dims + 0.5 * math.log(2 * math.pi * 0.01)
    assert torch.allclose(out.nelbo, expected, rtol=1e-5)
    vae.eval()
    assert torch.equal(vae(x).recon, vae(x).recon)
    assert torch.allclose(vae(x).recon, vae.reconstruct(x))


def test_vae_gradients_reach_encoder_through_reparameterisation():
    torch.manual_seed(0)
    vae = GaussianVAE(3, 3, hidden=8, latent_dim=4)
    vae(torch.rand(2, 3, 8, 8)).recon_loss.backward()
    assert vae.encoder.net[0].weight.grad.abs().sum() > 0
