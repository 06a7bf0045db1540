"""The gated PixelCNN prior: causal masks (checked with gradients), no blind spot, loss, sampling."""

from __future__ import annotations

import math

import pytest
import torch

from vqlab.models.pixelcnn import GatedLayer, GatedPixelCNN


def _dependency(model: GatedPixelCNN, h: int, w: int) -> torch.Tensor:
    """dep[p, q] = |d logits[p] / d embedding[q]| summed over channels, positions in raster order."""
    torch.manual_seed(0)
    x = torch.randn(1, model.embedding.embedding_dim, h, w, requires_grad=True)
    logits = model.logits_from_embedding(x)
    dep = torch.zeros(h * w, h * w)
    for p in range(h * w):
        i, j = divmod(p, w)
        (grad,) = torch.autograd.grad(logits[0, :, i, j].sum(), x, retain_graph=True)
        dep[p] = grad[0].abs().sum(0).flatten()
    return dep


@pytest.mark.parametrize("kernel", [3, 5])
def test_masks_are_causal(kernel: int) -> None:
    model = GatedPixelCNN(num_embeddings=7, dim=8, layers=4, kernel=kernel)
    h, w = 5, 6
    dep = _dependency(model, h, w)
    for p in range(h * w):
        assert torch.all(dep[p, p:] == 0), f"position {p} depends on itself or a later position"
        if p > 0:
            assert dep[p, :p].sum() > 0, f"position {p} sees nothing before it"


def test_no_blind_spot() -> None:
    # The original PixelCNN cannot see the pixels up and to the right; the vertical stack can.
    model = GatedPixelCNN(num_embeddings=5, dim=8, layers=4, kernel=3)
    h, w = 5, 6
    dep = _dependency(model, h, w)
    p = 2 * w + 1  # (2, 1)
    for q in (1 * w + 4, 1 * w + 5, 0 * w + 5, 2 * w + 0):  # up-right, further up-right, same row left
        assert dep[p, q] > 0, q


def test_layer_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError):
        GatedLayer(4, 4, "A")
    with pytest.raises(ValueError):
        GatedLayer(4, 3, "C")


def test_forward_shapes_and_nll() -> None:
    k = 6
    model = GatedPixelCNN(num_embeddings=k, dim=8, layers=2)
    idx = torch.randint(0, k, (3, 4, 5))
    out = model(idx, idx)
    assert out.logits.shape == (3, k, 4, 5)
    assert out.nll.shape == (3,)
    assert torch.allclose(out.loss * 20, out.nll.mean(), rtol=1e-5)
    assert model(idx).loss is None
    # At initialisation the prior is close to uniform.
    assert abs(out.loss.item() - math.log(k)) < 1.0


def test_training_learns_a_deterministic_pattern() -> None:
    torch.manual_seed(0)
    k = 4
    model = GatedPixelCNN(num_embeddings=k, dim=16, layers=3)
    # Row-wise stripes: the code is determined by the code above (after the first row).
    base = torch.arange(4).view(4, 1).expand(4, 4)
    data = torch.stack([(base + s) % k for s in range(k)])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        loss = model(data, data).loss
        loss.backward()
        opt.step()
    assert loss.item() < 0.5  # only the first row is uncertain: log(4)/4 ~ 0.35 nats per latent


def test_sampling_is_reproducible_with_a_seed() -> None:
    model = GatedPixelCNN(num_embeddings=9, dim=8, layers=2).eval()
    a = model.sample(3, (4, 4), generator=torch.Generator().manual_seed(5))
    b = model.sample(3, (4, 4), generator=torch.Generator().manual_seed(5))
    c = model.sample(3, (4, 4), generator=torch.Generator().manual_seed(6))
    assert a.shape == (3, 4, 4) and a.dtype == torch.long
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert int(a.min()) >= 0 and int(a.max()) < 9
    with pytest.raises(ValueError):
        model.sample(1, (2, 2), temperature=0.0)
