import math

import pytest
import torch

from vqlab.data.tasks import Task
from vqlab.eval.bits import bits_per_dim, fitted_sigma
from vqlab.models.likelihood import DiscretizedGaussian, Softmax256
from vqlab.models.vae import GaussianVAE
from vqlab.models.vimco import VIMCO
from vqlab.models.vqvae import VQVAE


def _images(n=16, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 3, 1, 1, generator=g) * 200
    ramp = torch.linspace(0, 50, size).view(1, 1, 1, size)
    return (base + ramp + torch.rand(n, 3, size, size, generator=g) * 5).clamp(0, 255).to(torch.uint8)


def _zero_last_layer(decoder):
    last = decoder.net[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)


def test_vq_bits_uniform_decoder_gives_8_bits_plus_the_rate_term():
    torch.manual_seed(0)
    k = 16
    model = VQVAE(3, 3, hidden=8, num_res_blocks=1, num_embeddings=k, embedding_dim=4, likelihood=Softmax256())
    _zero_last_layer(model.decoder)  # every logit 0: the uniform distribution over 256 values
    images = _images()
    r = bits_per_dim(model, Task("reconstruct", 3), images, batch_size=5)
    dims, latents = 3 * 8 * 8, 2 * 2
    assert r["recon_bits_per_dim"] == pytest.approx(8.0, abs=1e-5)
    assert r["rate_bits_per_dim"] == pytest.approx(latents * math.log2(k) / dims, rel=1e-6)
    assert r["bits_per_dim"] == pytest.approx(8.0 + latents * math.log2(k) / dims, abs=1e-5)
    assert r["bound"].startswith("vq:")


def test_mse_run_is_scored_with_a_gaussian_fitted_on_training_images():
    torch.manual_seed(0)
    model = VQVAE(3, 3, hidden=8, num_res_blocks=1, num_embeddings=8, embedding_dim=4)
    task = Task("reconstruct", 3)
    train, test = _images(seed=1), _images(seed=2)
    r = bits_per_dim(model, task, test, train_images=train, batch_size=7)
    sigma = fitted_sigma(model, task, train)
    assert r["likelihood_sigma"] == pytest.approx(sigma)
    assert "fitted on train" in r["bound"]
    with pytest.raises(ValueError):
        bits_per_dim(model, task, test)


def _trained_tiny_vae():
    torch.manual_seed(0)
    vae = GaussianVAE(3, 3, hidden=8, num_res_blocks=1, latent_dim=2, likelihood=DiscretizedGaussian(0.08))
    task = Task("reconstruct", 3)
    images = _images(n=32)
    opt = torch.optim.Adam(vae.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is >10x faster than two on a busy machine
    try:
        for _ in range(40):
            inputs, targets = task.prepare(images)
            loss = vae(inputs, targets).loss
            opt.zero_grad()
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return vae, task, images


def test_iwae_bound_is_at_least_the_elbo_and_approaches_it_as_samples_decrease():
    vae, task, images = _trained_tiny_vae()
    results = {k: bits_per_dim(vae, task, images, iw_samples=k, batch_size=32, seed=1) for k in (5, 50)}
    elbo = results[50]["elbo_bits_per_dim"]
    iwae = {k: r["bits_per_dim"] for k, r in results.items()}
    # IWAE_1 is the ELBO in expectation: average the one-sample bound over many draws.
    iwae[1] = sum(bits_per_dim(vae, task, images, iw_samples=1, batch_size=32, seed=s)["bits_per_dim"]
                  for s in range(20)) / 20
    # In bits/dim (a negative log-likelihood): IWAE_50 <= IWAE_5 <= ELBO, IWAE_1 ~ ELBO.
    assert iwae[50] < iwae[5] < elbo
    gap = elbo - iwae[50]
    assert gap > 0.01
    assert abs(iwae[1] - elbo) < 0.2 * gap
    assert results[50]["bound"] == "vae: IWAE k=50" and results[50]["elbo_bound"] == "vae: negative ELBO"
    assert results[50]["rate_bits_per_dim"] > 0


def test_vimco_bound_matches_its_elbo_at_one_sample_and_tightens_with_more():
    torch.manual_seed(0)
    model = VIMCO(3, 3, hidden=8, num_res_blocks=1, num_embeddings=4, embedding_dim=3, likelihood=Softmax256(),
                  samples=2)
    images = _images(n=8)
    task = Task("reconstruct", 3)
    r1 = bits_per_dim(model, task, images, iw_samples=1, batch_size=8, max_decode=4)
    r20 = bits_per_dim(model, task, images, iw_samples=20, batch_size=8, max_decode=16)
    assert r20["bits_per_dim"] <= r20["elbo_bits_per_dim"] + 1e-6
    assert r1["bits_per_dim"] == pytest.approx(r1["elbo_bits_per_dim"], abs=0.05)
    assert r20["bound"] == "vimco: multi-sample bound k=20"


def _normal_bin_probability(lo: float, hi: float) -> float:
    """P(lo < Z < hi) for a standard normal Z, from the tail that keeps float64 precision."""
    from statistics import NormalDist

    phi = NormalDist().cdf
    if lo > 0:  # the whole bin above the mean: use the mirrored lower tail
        return phi(-lo) - phi(-hi)
    return phi(hi) - phi(lo)


def _hand_vq_mse_bits(model: VQVAE, train: torch.Tensor, test: torch.Tensor) -> tuple[float, float]:
    """bits/dim of an MSE-trained VQ-VAE from first principles, in float64 and plain Python: sigma is the RMS error
    on the training images; each test sub-pixel p in 0..255 costs -log P(its 1/255-wide bin around p/255 - 0.5)
    under N(decoder output, sigma^2), the end bins reaching to infinity; each latent costs log K."""
    def through(images):
        x = images.float() / 255.0 - 0.5
        with torch.no_grad():
            idx = model.encode(x)
            return x.double(), model.decode(idx).double(), idx

    x, out, _ = through(train)
    sigma = math.sqrt(((out - x) ** 2).mean().item())
    _, out, idx = through(test)
    half = 0.5 / 255.0
    nats = 0.0
    for p, mean in zip(test.flatten().tolist(), out.flatten().tolist()):
        centre = p / 255.0 - 0.5
        lo = -math.inf if p == 0 else (centre - half - mean) / sigma
        hi = math.inf if p == 255 else (centre + half - mean) / sigma
        nats -= math.log(_normal_bin_probability(lo, hi))
    nats += test.shape[0] * idx[0].numel() * math.log(model.num_embeddings)
    return nats / (test.numel() * math.log(2.0)), sigma


@pytest.mark.parametrize("steps", [0, 30])
def test_mse_run_bits_per_dim_equal_an_independent_hand_computation(steps):
    torch.manual_seed(3)
    model = VQVAE(3, 3, hidden=8, num_res_blocks=1, num_embeddings=8, embedding_dim=4)
    task = Task("reconstruct", 3)
    train, test = _images(n=12, seed=1), _images(n=10, seed=2)
    test[0, 0, 0, :3] = torch.tensor([0, 255, 128], dtype=torch.uint8)  # both end bins occur
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):  # also a model whose errors are small: sigma far below the untrained one
        loss = model(*task.prepare(train)).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    expected, sigma = _hand_vq_mse_bits(model, train, test)
    r = bits_per_dim(model, task, test, train_images=train, batch_size=4)
    assert r["likelihood_sigma"] == pytest.approx(sigma, rel=1e-5)
    assert r["bits_per_dim"] == pytest.approx(expected, rel=1e-5)
    assert r["recon_bits_per_dim"] + r["rate_bits_per_dim"] == pytest.approx(r["bits_per_dim"], rel=1e-6)
    assert r["rate_bits_per_dim"] == pytest.approx(2 * 2 * math.log2(8) / (3 * 8 * 8), rel=1e-6)
