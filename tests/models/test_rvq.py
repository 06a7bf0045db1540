import pytest
import torch

from vqlab.config import QuantizerConfig
from vqlab.eval.metrics import code_counts, codebook_stats
from vqlab.models.quantize import nearest_codes
from vqlab.models.rvq import ResidualVQ
from vqlab.models.vqvae import VQVAE


def _rvq(n=3, k=8, d=4, **kw) -> ResidualVQ:
    torch.manual_seed(0)
    rvq = ResidualVQ(k, d, n, dropout=0.0, **kw)
    with torch.no_grad():
        for i, level in enumerate(rvq.levels):
            level.codebook.copy_(torch.randn(k, d) * 0.5**i)  # coarse to fine
    return rvq


def test_decode_of_all_levels_is_the_sum_of_each_levels_code_vectors():
    rvq = _rvq()
    idx = torch.randint(0, 8, (2, 3, 4, 5))
    expected = sum(rvq.levels[i].codebook.detach()[idx[:, i]] for i in range(3)).permute(0, 3, 1, 2)
    assert torch.allclose(rvq.lookup(idx), expected, atol=1e-6)
    # fewer levels: the sum of the first n
    assert torch.allclose(rvq.lookup(idx[:, :1]), rvq.levels[0].codebook.detach()[idx[:, 0]].permute(0, 3, 1, 2))


def test_per_level_indices_quantize_the_residuals():
    rvq = _rvq()
    z = torch.randn(2, 4, 3, 3)
    idx = rvq.encode(z)
    assert idx.shape == (2, 3, 3, 3) and idx.dtype == torch.long
    residual = z.permute(0, 2, 3, 1).reshape(-1, 4)
    for i, level in enumerate(rvq.levels):
        expected = nearest_codes(residual, level.codebook.detach())
        assert torch.equal(idx[:, i].flatten(), expected), i
        residual = residual - level.codebook.detach()[expected]
    rvq.eval()
    out = rvq(z)
    assert torch.equal(out.indices, idx)
    assert torch.allclose(out.quantized, rvq.lookup(idx), atol=1e-5)
    # each level brings the sum closer to z
    errors = [(rvq.lookup(idx[:, :n]) - z).pow(2).mean() for n in (1, 2, 3)]
    assert errors[0] > errors[1] > errors[2]


def test_losses_counts_and_perplexity_per_level():
    rvq = _rvq()
    z = torch.randn(2, 4, 3, 3)
    out = rvq(z)
    singles = []
    residual = z
    for level in rvq.levels:
        o = level(residual)
        singles.append(o)
        residual = residual - o.quantized.detach()
    assert torch.allclose(out.loss, sum(o.loss for o in singles))
    assert torch.allclose(out.commitment_loss, sum(o.commitment_loss for o in singles))
    assert out.counts.shape == (3, 8) and torch.equal(out.counts.sum(1), torch.full((3,), 18.0))
    assert torch.allclose(out.perplexity, torch.stack([o.perplexity for o in singles]).mean())


def test_quantizer_dropout_is_seeded_and_uses_1_to_n_levels():
    torch.manual_seed(0)
    a = ResidualVQ(8, 4, 4, dropout=1.0)
    b = ResidualVQ(8, 4, 4, dropout=1.0)
    b.load_state_dict(a.state_dict())
    depths = [a.draw_depth() for _ in range(200)]
    assert depths == [b.draw_depth() for _ in range(200)]  # same seed and step: same depths (DDP ranks, resume)
    assert set(depths) == {1, 2, 3, 4}
    assert int(a.steps) == 200
    c = ResidualVQ(8, 4, 4, dropout=0.25)
    share = sum(c.draw_depth() < 4 for _ in range(400)) / 400
    assert 0.1 < share < 0.3  # 0.25 * 3/4 of the batches use fewer than N
    assert all(ResidualVQ(8, 4, 4, dropout=0.0).draw_depth() == 4 for _ in range(10))


def test_training_with_dropout_uses_the_first_levels_and_eval_uses_all():
    torch.manual_seed(0)
    rvq = ResidualVQ(8, 4, 4, dropout=1.0, ema=False)
    rvq.train()
    z = torch.randn(2, 4, 3, 3, requires_grad=True)
    seen = set()
    for _ in range(12):
        expected_depth = ResidualVQ.draw_depth(_clone_counter(rvq))
        out = rvq(z)
        n = out.indices.shape[1]
        assert n == expected_depth
        seen.add(n)
        assert (out.counts[:n].sum(1) == 18).all() and (out.counts[n:] == 0).all()
        rvq.zero_grad()
        out.loss.backward()
        # every codebook gets a gradient tensor (zero when unused), as DDP's reducer needs
        for i, level in enumerate(rvq.levels):
            assert level.codebook.grad is not None
            assert (level.codebook.grad.abs().sum() > 0) == (i < n), (i, n)
    assert len(seen) > 1
    rvq.eval()
    assert rvq(z).indices.shape[1] == 4


def _clone_counter(rvq: ResidualVQ) -> ResidualVQ:
    twin = ResidualVQ(rvq.num_embeddings, rvq.embedding_dim, rvq.num_codebooks, dropout=rvq.dropout)
    twin.dropout_seed.copy_(rvq.dropout_seed)
    twin.steps.copy_(rvq.steps)
    return twin


def test_one_codebook_is_refused():
    with pytest.raises(ValueError, match="num_codebooks"):
        ResidualVQ(8, 4, 1)


def test_in_a_vqvae_encode_decode_and_bound():
    torch.manual_seed(0)
    q = ResidualVQ.from_config(QuantizerConfig(name="rvq", num_codebooks=2, quantizer_dropout=0.5, ema=True,
                                               kmeans_init=True), 16, 4)
    assert len(q.levels) == 2 and q.levels[0].ema and q.dropout == 0.5
    model = VQVAE(3, 3, hidden=8, embedding_dim=4, quantizer=q)
    x = torch.rand(2, 3, 8, 8)
    model.train()
    model(x).loss.backward()
    model.eval()
    idx = model.encode(x)
    assert idx.shape == (2, 2, 2, 2) and model.num_codebooks == 2 and model.num_codes == 16
    assert model.decode(idx).shape == x.shape and model.decode(idx[:, :1]).shape == x.shape
    mixed = model.mix(idx, torch.zeros_like(idx), torch.tensor([[True, False], [False, True]]))
    assert torch.equal(mixed[:, :, 0, 0], idx[:, :, 0, 0]) and (mixed[:, :, 0, 1] == 0).all()


def test_code_counts_and_stats_per_codebook():
    idx = torch.tensor([[[[0, 1]], [[2, 2]]]])  # (B=1, N=2, h=1, w=2)
    counts = code_counts(idx, 3, 2)
    assert counts.tolist() == [[1, 1, 0], [0, 0, 2]]
    stats = codebook_stats(counts)
    assert stats["codes_used"] == 3 and abs(stats["perplexity_cb1"] - 2) < 1e-5 and abs(stats["perplexity_cb2"] - 1) < 1e-5
    assert abs(stats["perplexity"] - 1.5) < 1e-5 and abs(stats["codebook_usage"] - 0.5) < 1e-6
    assert code_counts(idx[:, 0], 3).tolist() == [1, 1, 0]
