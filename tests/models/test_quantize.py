import math

import pytest
import torch

from vqlab.models.quantize import VectorQuantizer, nearest_codes, perplexity_from_counts
from vqlab.models.vqvae import VQVAE


def _exact_min_dist(z, codebook):
    return torch.cdist(z.double(), codebook.double()).pow(2).min(1).values


@pytest.mark.parametrize("n,k,d,chunk", [(1, 1, 1, 1), (37, 5, 3, 7), (500, 513, 64, 4096), (1000, 97, 16, 1 << 24),
                                         (129, 4096, 8, 5000)])
def test_chunked_search_equals_exact_search(n, k, d, chunk):
    g = torch.Generator().manual_seed(n * 31 + k)
    z, codebook = torch.randn(n, d, generator=g), torch.randn(k, d, generator=g)
    idx = nearest_codes(z, codebook, max_chunk_elements=chunk)
    assert idx.shape == (n,) and idx.dtype == torch.long
    chosen = (z.double() - codebook.double()[idx]).pow(2).sum(1)
    assert torch.allclose(chosen, _exact_min_dist(z, codebook), rtol=1e-5, atol=1e-5)
    assert torch.equal(idx, nearest_codes(z, codebook))  # chunking does not change the answer


def test_search_finds_exact_codes():
    codebook = torch.randn(50, 6)
    perm = torch.randperm(50)
    assert torch.equal(nearest_codes(codebook[perm], codebook), perm)


@pytest.mark.parametrize("h,w", [(1, 1), (3, 5), (7, 2)])
def test_quantizer_shapes_for_odd_grids(h, w):
    vq = VectorQuantizer(10, 4)
    out = vq(torch.randn(2, 4, h, w))
    assert out.quantized.shape == (2, 4, h, w)
    assert out.indices.shape == (2, h, w)
    assert out.counts.shape == (10,) and out.counts.sum() == 2 * h * w
    assert out.loss.dim() == 0 and out.perplexity.dim() == 0


def test_vqvae_odd_latent_grid_shapes():
    model = VQVAE(3, 3, hidden=8, num_embeddings=16, embedding_dim=4)
    x = torch.randn(2, 3, 12, 20)
    out = model(x)
    assert out.recon.shape == x.shape and out.indices.shape == (2, 3, 5)
    assert model.decode(model.encode(x)).shape == x.shape


def test_quantized_values_are_the_chosen_codes():
    vq = VectorQuantizer(8, 3)
    z = torch.randn(2, 3, 4, 4)
    out = vq(z)
    expected = vq.codebook.detach()[out.indices].permute(0, 3, 1, 2)
    assert torch.allclose(out.quantized, expected, atol=1e-6)


def test_straight_through_gradient_reaches_encoder():
    torch.manual_seed(0)
    model = VQVAE(3, 3, hidden=8, num_embeddings=16, embedding_dim=4)
    out = model(torch.randn(2, 3, 8, 8))
    out.recon_loss.backward()  # the reconstruction term alone: only the straight-through path reaches the encoder
    for p in model.encoder.parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert model.quantizer.codebook.grad is None or model.quantizer.codebook.grad.abs().sum() == 0


def test_straight_through_passes_the_decoder_gradient_unchanged():
    vq = VectorQuantizer(8, 3)
    z = torch.randn(1, 3, 2, 2, requires_grad=True)
    upstream = torch.randn(1, 3, 2, 2)
    (vq(z).quantized * upstream).sum().backward()
    assert torch.allclose(z.grad, upstream)


def test_beta_weights_the_commitment_term_only():
    torch.manual_seed(0)
    z0 = torch.randn(2, 4, 3, 3)
    grads = {}
    for beta in (0.0, 0.25, 1.0):
        vq = VectorQuantizer(6, 4, beta=beta)
        with torch.no_grad():
            vq.codebook.copy_(torch.linspace(-1, 1, 24).view(6, 4))
        z = z0.clone().requires_grad_(True)
        out = vq(z)
        assert torch.allclose(out.loss, out.codebook_loss + beta * out.commitment_loss)
        out.loss.backward()
        grads[beta] = (z.grad.clone(), vq.codebook.grad.clone())
    # codebook gradient does not depend on beta; encoder-side gradient is beta times the commitment gradient
    assert torch.allclose(grads[0.0][1], grads[1.0][1]) and torch.allclose(grads[0.25][1], grads[1.0][1])
    assert grads[0.0][0].abs().max() == 0
    assert torch.allclose(grads[0.25][0], 0.25 * grads[1.0][0], atol=1e-7)


def test_ema_update_matches_hand_computation():
    vq = VectorQuantizer(3, 2, beta=0.25, ema=True, decay=0.9, epsilon=1e-5)
    codebook = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    vq.codebook.copy_(codebook)
    vq.ema_weight.copy_(codebook)
    vq.ema_count.fill_(1.0)
    # four vectors: two near code 0, two near code 1, none near code 2
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [9.0, 0.0], [11.0, 2.0]])
    vq.train()
    out = vq(z.t().reshape(1, 2, 2, 2))
    assert out.indices.flatten().tolist() == [0, 0, 1, 1]
    # by hand: count = 0.9*1 + 0.1*n_k; weight = 0.9*e_k + 0.1*sum_k
    count = torch.tensor([0.9 + 0.2, 0.9 + 0.2, 0.9])
    weight = torch.stack([0.9 * codebook[0] + 0.1 * torch.tensor([1.0, 1.0]),
                          0.9 * codebook[1] + 0.1 * torch.tensor([20.0, 2.0]),
                          0.9 * codebook[2]])
    n = count.sum()
    smoothed = (count + 1e-5) / (n + 3 * 1e-5) * n
    assert torch.allclose(vq.ema_count, count)
    assert torch.allclose(vq.ema_weight, weight)
    assert torch.allclose(vq.codebook, weight / smoothed[:, None], atol=1e-6)
    # the EMA loss is the commitment term only, and eval mode does not update
    assert torch.allclose(out.loss, 0.25 * out.commitment_loss)
    before = vq.codebook.clone()
    vq.eval()
    vq(z.t().reshape(1, 2, 2, 2))
    assert torch.equal(vq.codebook, before)


def test_perplexity_of_uniform_assignment_is_k():
    for k in (1, 7, 512):
        assert math.isclose(float(perplexity_from_counts(torch.ones(k) * 3)), k, rel_tol=1e-5)
    assert math.isclose(float(perplexity_from_counts(torch.tensor([5.0, 0.0, 0.0]))), 1.0, rel_tol=1e-6)
    vq = VectorQuantizer(16, 4)
    z = vq.codebook.detach().t().reshape(1, 4, 4, 4)  # every code exactly once
    assert math.isclose(float(vq(z).perplexity), 16.0, rel_tol=1e-4)


def test_kmeans_init_places_codes_on_the_data():
    torch.manual_seed(0)
    centers = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    data = centers.repeat(64, 1) + 0.01 * torch.randn(256, 2)
    vq = VectorQuantizer(4, 2, kmeans_init=True)
    assert not bool(vq.initialized)
    vq.train()
    vq(data.t().reshape(1, 2, 16, 16))
    assert bool(vq.initialized)
    dist = torch.cdist(vq.codebook.detach(), centers).min(1).values
    assert dist.max() < 0.1
    assert torch.cdist(centers, vq.codebook.detach()).min(1).values.max() < 0.1  # every cluster got a code


def test_dead_codes_are_restarted_from_encoder_outputs():
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, restart_after=3)
    with torch.no_grad():
        vq.codebook.copy_(torch.tensor([[0.0, 0.0], [100.0, 100.0], [200.0, 200.0], [300.0, 300.0]]))
    z = (0.1 * torch.randn(1, 2, 4, 4))
    vq.train()
    for _ in range(2):
        vq(z)
    assert vq.codebook[1:].abs().min() >= 100  # not yet
    vq(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 2)
    for code in vq.codebook[1:].detach():
        assert (flat - code).abs().sum(1).min() < 1e-6  # each dead code is now one of the inputs
    assert vq.unused_steps.max() == 0


def test_search_runs_in_float32_under_autocast():
    torch.manual_seed(0)
    vq = VectorQuantizer(64, 8)
    z = torch.randn(2, 8, 4, 4)
    expected = vq(z)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = vq(z.bfloat16())
    assert got.quantized.dtype == torch.float32
    assert torch.equal(got.indices, vq.encode(z.bfloat16()))
    assert torch.equal(expected.indices, vq.encode(z))


def test_search_under_bf16_autocast_at_k512_matches_a_float64_reference():
    """The paper's K=512, D=64, inputs in bf16 as an autocast encoder hands them over: training forward, encode and
    nearest_codes itself must search in float32 (a bf16 search picks another code for about 1% of the rows)."""
    torch.manual_seed(0)
    k, d = 512, 64
    vq = VectorQuantizer(k, d)
    with torch.no_grad():
        vq.codebook.copy_(torch.randn(k, d) * 0.5)
    z = (torch.randn(16, d, 8, 8) * 0.5).bfloat16()  # what the encoder outputs under autocast
    flat = z.double().permute(0, 2, 3, 1).reshape(-1, d)
    codebook = vq.codebook.detach().double()
    dist = flat.pow(2).sum(1, keepdim=True) - 2 * flat @ codebook.t() + codebook.pow(2).sum(1)  # float64
    reference = dist.argmin(1)
    two = dist.topk(2, dim=1, largest=False).values
    clear = (two[:, 1] - two[:, 0]) > 1e-4  # rows whose two nearest codes float32 can tell apart
    assert clear.float().mean() > 0.99
    with torch.autocast("cpu", dtype=torch.bfloat16):
        trained = vq(z).indices.flatten()
        encoded = vq.encode(z).flatten()
        direct = nearest_codes(flat.float(), vq.codebook)
        in_bf16 = torch.addmm(codebook.float().pow(2).sum(1), flat.float(), codebook.float().t(), alpha=-2.0)
    for got in (trained, encoded, direct):
        assert torch.equal(got[clear], reference[clear])
    assert in_bf16.dtype == torch.bfloat16  # what autocast does to the search's matrix product if left on
    assert int((in_bf16.float().argmin(1) != reference).sum()) >= 3  # so the test tells the two apart


def _rotation(e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Explicit D x D map lambda R with R e_hat = q_hat (Rodrigues in the plane of e and q), float64."""
    e_hat, q_hat = e.double() / e.double().norm(), q.double() / q.double().norm()
    cos = e_hat @ q_hat
    u = q_hat - cos * e_hat
    sin = u.norm()
    u = u / sin
    r = torch.eye(e.numel(), dtype=torch.float64) + (cos - 1) * (torch.outer(e_hat, e_hat) + torch.outer(u, u)) \
        + sin * (torch.outer(u, e_hat) - torch.outer(e_hat, u))
    return (q.double().norm() / e.double().norm()) * r


@pytest.mark.parametrize("ema", [False, True])
def test_rotation_trick_forward_equals_the_plain_quantizer(ema):
    torch.manual_seed(0)
    plain = VectorQuantizer(12, 5, ema=ema)
    rotated = VectorQuantizer(12, 5, ema=ema, rotation_trick=True)
    rotated.load_state_dict(plain.state_dict())
    z = torch.randn(2, 5, 3, 4)
    codebook = rotated.codebook.detach().clone()  # EMA updates it during the forward
    a, b = plain(z), rotated(z)
    assert torch.equal(a.indices, b.indices)
    assert torch.allclose(a.quantized, b.quantized, atol=1e-6)
    assert torch.equal(b.quantized, codebook[b.indices].permute(0, 3, 1, 2))  # exactly the chosen codes
    assert torch.equal(a.loss, b.loss) and torch.equal(a.counts, b.counts)
    assert torch.equal(plain.codebook, rotated.codebook)


def test_rotation_trick_gradient_is_the_rotation_transposed_by_hand():
    torch.manual_seed(3)
    vq = VectorQuantizer(5, 3, beta=0.0, rotation_trick=True)
    with torch.no_grad():
        vq.codebook.copy_(torch.randn(5, 3))
    z = torch.randn(1, 3, 2, 1, requires_grad=True)
    upstream = torch.randn(1, 3, 2, 1)
    out = vq(z)
    (out.quantized * upstream).sum().backward()  # beta = 0: the loss sends nothing to z anyway
    codes = vq.codebook.detach()[out.indices.flatten()]
    for i, (e, q) in enumerate(zip(z.detach()[0, :, :, 0].T, codes)):
        expected = _rotation(e, q).T @ upstream[0, :, i, 0].double()
        assert torch.allclose(z.grad[0, :, i, 0].double(), expected, atol=1e-5)
    assert not torch.allclose(z.grad, upstream)  # not the straight-through copy


def test_cosine_codes_search_and_output_on_the_unit_sphere():
    torch.manual_seed(0)
    vq = VectorQuantizer(16, 4, cosine_codes=True)
    with torch.no_grad():
        vq.codebook.copy_(torch.randn(16, 4) * torch.rand(16, 1) * 10)  # codes of very different lengths
    z = torch.randn(2, 4, 3, 3) * 5
    out = vq(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 4)
    cos = torch.nn.functional.normalize(flat, dim=1) @ torch.nn.functional.normalize(vq.codebook.detach(), dim=1).T
    assert torch.equal(out.indices.flatten(), cos.argmax(1))  # the most similar direction, whatever the length
    assert torch.allclose(out.quantized.norm(dim=1), torch.ones(2, 3, 3), atol=1e-5)
    assert torch.equal(vq.encode(z), out.indices)
    assert torch.allclose(vq.lookup(out.indices), out.quantized, atol=1e-6)
    # the losses compare unit vectors
    unit = torch.nn.functional.normalize(flat, dim=1)
    expected = (unit - torch.nn.functional.normalize(vq.codebook.detach(), dim=1)[out.indices.flatten()]).pow(2).mean()
    assert torch.allclose(out.commitment_loss, expected, atol=1e-6)


def test_cosine_codes_codebook_loss_trains_the_codebook_through_the_normalisation():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 4, cosine_codes=True)
    out = vq(torch.randn(1, 4, 4, 4))
    out.loss.backward()
    used = out.counts > 0
    assert vq.codebook.grad[used].abs().sum() > 0 and vq.codebook.grad[~used].abs().sum() == 0
