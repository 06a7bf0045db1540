"""VQVAE: the training loss is exactly the reconstruction term plus the VQ terms, each recomputed by hand."""

from __future__ import annotations

import pytest
import torch

from vqlab.models.likelihood import DiscretizedLogistic
from vqlab.models.vqvae import VQVAE


def _by_hand(model: VQVAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Encoder output, its nearest codes by a brute-force float64 search, and the mean squared code distance."""
    with torch.no_grad():
        z = model.encoder(x).double()
        codebook = model.quantizer.codebook.double()
        flat = z.permute(0, 2, 3, 1).reshape(-1, z.shape[1])
        idx = ((flat[:, None, :] - codebook[None]) ** 2).sum(-1).argmin(1)
        e = codebook[idx]
        return idx.view(z.shape[0], z.shape[2], z.shape[3]), ((flat - e) ** 2).mean()


@pytest.mark.parametrize("ema", [False, True])
def test_loss_is_reconstruction_plus_vq_terms(ema):
    torch.manual_seed(0)
    beta = 0.4
    model = VQVAE(3, 3, hidden=8, num_res_blocks=1, num_embeddings=16, embedding_dim=4, beta=beta, ema=ema).eval()
    x = torch.rand(3, 3, 8, 12) - 0.5
    target = torch.rand(3, 3, 8, 12) - 0.5
    idx, code_mse = _by_hand(model, x)
    with torch.no_grad():
        out = model(x, target)
    assert torch.equal(out.indices, idx)
    recon = ((out.recon.double() - target.double()) ** 2).mean()
    # Loss-based codebook: ||sg[z] - e||^2 + beta ||z - sg[e]||^2 (equal values); EMA: the commitment term only.
    vq = (beta if ema else 1.0 + beta) * code_mse
    assert float(out.recon_loss) == pytest.approx(float(recon), rel=1e-5)
    assert float(out.vq_loss) == pytest.approx(float(vq), rel=1e-5)
    assert float(out.codebook_loss) == pytest.approx(float(code_mse), rel=1e-5)
    assert float(out.commitment_loss) == pytest.approx(float(code_mse), rel=1e-5)
    assert float(out.loss) == pytest.approx(float(recon + vq), rel=1e-5)
    assert float(out.loss) == pytest.approx(float(out.recon_loss) + float(out.vq_loss), rel=1e-6)


def test_loss_with_a_likelihood_head_is_its_nll_per_dimension_plus_vq_terms():
    torch.manual_seed(1)
    head = DiscretizedLogistic(3)
    model = VQVAE(3, 3, hidden=8, num_res_blocks=1, num_embeddings=8, embedding_dim=4, likelihood=head).eval()
    x = (torch.randint(0, 256, (2, 3, 8, 8)).float() / 255.0) - 0.5
    _, code_mse = _by_hand(model, x)
    with torch.no_grad():
        out = model(x)
        nll = head.nll(model.decoder_params(out.indices), x)  # (B,) nats per image
    recon = nll.double().sum() / x.numel()
    assert float(out.recon_loss) == pytest.approx(float(recon), rel=1e-5)
    assert float(out.loss) == pytest.approx(float(recon + 1.25 * code_mse), rel=1e-5)
