import torch

from vqlab.config import QuantizerConfig
from vqlab.models.quantize import nearest_codes
from vqlab.models.simvq import SimVQ
from vqlab.models.vqvae import VQVAE


def test_basis_is_frozen_and_the_linear_map_learns():
    torch.manual_seed(0)
    model = VQVAE(3, 3, hidden=8, embedding_dim=4, quantizer=SimVQ(16, 4))
    q = model.quantizer
    assert not q.basis.requires_grad and "basis" in dict(q.named_buffers())
    assert all(p is not q.basis for p in model.parameters())
    basis, weight = q.basis.clone(), q.weight.detach().clone()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        out = model(torch.rand(2, 3, 8, 8))
        opt.zero_grad()
        out.loss.backward()
        assert q.basis.grad is None and q.weight.grad.abs().sum() > 0
        opt.step()
    assert torch.equal(q.basis, basis)
    assert not torch.allclose(q.weight, weight)


def test_basis_is_the_same_in_every_process_and_seeded():
    torch.manual_seed(1)
    a = SimVQ(32, 8)
    torch.manual_seed(2)  # the global RNG does not matter
    b = SimVQ(32, 8)
    assert torch.equal(a.basis, b.basis)
    assert not torch.equal(a.basis, SimVQ(32, 8, seed=1).basis)
    assert "basis" in a.state_dict() and "weight" in a.state_dict()  # checkpoints carry it


def test_codes_are_basis_times_map_and_search_is_nearest():
    torch.manual_seed(0)
    q = SimVQ(20, 3, data_init=False)
    with torch.no_grad():
        q.weight.copy_(torch.randn(3, 3))
    codes = q.basis @ q.weight.detach()
    assert torch.allclose(q.codebook().detach(), codes)
    z = torch.randn(2, 3, 4, 4)
    out = q(z)
    flat = z.permute(0, 2, 3, 1).reshape(-1, 3)
    assert torch.equal(out.indices.flatten(), nearest_codes(flat, codes))
    assert torch.equal(q.encode(z), out.indices)
    assert torch.allclose(out.quantized, codes[out.indices].permute(0, 3, 1, 2), atol=1e-6)
    assert torch.allclose(q.lookup(out.indices), out.quantized, atol=1e-6)
    mse = (flat - codes[out.indices.flatten()]).pow(2).mean()
    assert torch.allclose(out.commitment_loss, mse) and torch.allclose(out.loss, 1.25 * mse)
    assert out.counts.shape == (20,) and out.counts.sum() == 32


def test_loss_gradients_go_to_the_map_and_the_encoder_side():
    torch.manual_seed(0)
    q = SimVQ(10, 4, beta=0.5, data_init=False)
    z = torch.randn(1, 4, 3, 3, requires_grad=True)
    out = q(z)
    out.loss.backward()
    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, 4)
    codes = q.codebook().detach()[out.indices.flatten()]
    # commitment: 2 beta (z - e) / numel
    expected = (2 * 0.5 * (flat - codes) / flat.numel()).view(1, 3, 3, 4).permute(0, 3, 1, 2)
    assert torch.allclose(z.grad, expected, atol=1e-7)
    # codebook term: d/dW of mean ||C_k W - z||^2 = C_k^T 2 (C_k W - z) / numel
    basis = q.basis[out.indices.flatten()]
    assert torch.allclose(q.weight.grad, basis.T @ (2 * (codes - flat) / flat.numel()), atol=1e-6)


def test_rotation_trick_and_straight_through_give_the_same_value():
    torch.manual_seed(0)
    z = torch.randn(2, 4, 2, 2)
    a, b = SimVQ(8, 4), SimVQ(8, 4, rotation_trick=True)
    assert torch.equal(a(z).quantized, b(z).quantized)
    zz = z.clone().requires_grad_(True)
    (b(zz).quantized * torch.ones_like(zz)).sum().backward()
    assert torch.isfinite(zz.grad).all() and not torch.allclose(zz.grad, torch.ones_like(zz))


def test_from_config_and_autocast():
    q = SimVQ.from_config(QuantizerConfig(name="simvq", beta=0.1, rotation_trick=True), 64, 8)
    assert q.num_codes == 64 and q.beta == 0.1 and q.rotation_trick
    z = torch.randn(2, 8, 3, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = q(z.bfloat16())
    assert out.quantized.dtype == torch.float32 and out.loss.dtype == torch.float32
    assert torch.equal(out.indices, q.encode(z.bfloat16()))


def test_the_map_starts_from_the_first_batch_so_most_codes_are_used():
    """Small encoder outputs near a low-dimensional subspace (like a fresh encoder's): with W = I the few codes
    of smallest norm take every latent; started from the batch's second moment the codes cover it, and the
    start happens once."""
    torch.manual_seed(0)
    flat = 0.5 * torch.randn(4096, 4) @ torch.linalg.qr(torch.randn(64, 4))[0].T + 0.01 * torch.randn(4096, 64)
    z = flat.reshape(16, 16, 16, 64).permute(0, 3, 1, 2).contiguous()
    plain, started = SimVQ(512, 64, data_init=False), SimVQ(512, 64)
    used_plain = plain(z).indices.unique().numel()
    used_started = started(z).indices.unique().numel()
    assert used_plain < 100 and used_started > 400, (used_plain, used_started)  # 64 against 503 of 512
    flat = z.permute(0, 2, 3, 1).reshape(-1, 64)
    codes = started.codebook().detach()
    second = lambda x: x.T @ x / x.shape[0]
    assert torch.allclose(second(codes).diagonal().sum(), second(flat).diagonal().sum(), rtol=0.15)
    weight = started.weight.detach().clone()
    started(z * 3)  # later batches train W through the loss only
    assert torch.equal(started.weight.detach(), weight) and bool(started.initialized)
    fresh = SimVQ(512, 64)
    fresh.eval()
    fresh(z)  # evaluation never starts it
    assert not bool(fresh.initialized) and torch.equal(fresh.weight.detach(), torch.eye(64))


def test_a_checkpoint_from_before_the_start_keeps_its_trained_map():
    q = SimVQ(16, 4)
    state = {k: v for k, v in q.state_dict().items() if k != "initialized"}
    state["weight"] = 2 * torch.eye(4)
    loaded = SimVQ(16, 4)
    loaded.load_state_dict(state)
    loaded(torch.randn(2, 4, 3, 3))  # training mode: no start over the trained W
    assert bool(loaded.initialized) and torch.equal(loaded.weight.detach(), 2 * torch.eye(4))
