"""vqlab.eval.ssim against the torchmetrics SSIM it replaces (same defaults, same numbers), on both blur paths."""

import pytest
import torch
from torchmetrics.functional.image import structural_similarity_index_measure as reference

from vqlab.eval import ssim as ssim_mod
from vqlab.eval.ssim import blur_matrix, ssim_per_image


def _pair(shape, noise, seed=0):
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(shape, generator=g)
    # Smooth structure as well as noise, so the SSIM values spread over a useful range.
    target = torch.nn.functional.avg_pool2d(target, 3, stride=1, padding=1)
    preds = (target + noise * torch.randn(shape, generator=g)).clamp(0, 1)
    return preds, target


@pytest.mark.parametrize("dense", [True, False])
@pytest.mark.parametrize("shape", [(16, 1, 28, 28), (8, 3, 32, 32), (3, 3, 40, 23), (2, 1, 6, 9)])
@pytest.mark.parametrize("noise", [0.02, 0.3])
def test_matches_torchmetrics(monkeypatch, dense, shape, noise):
    monkeypatch.setattr(ssim_mod, "DENSE_MAX", 4096 if dense else 0)
    preds, target = _pair(shape, noise)
    want = reference(preds, target, data_range=1.0, reduction="none")
    got = ssim_per_image(preds, target)
    assert got.shape == (shape[0],)
    assert torch.allclose(got, want, atol=2e-6), (got - want).abs().max()
    assert want.std() > 0 or shape[0] == 1  # the pairs differ, so a constant answer would fail


def test_identical_images_give_one_and_noise_lowers_it():
    _, target = _pair((4, 3, 32, 32), 0.0)
    assert torch.allclose(ssim_per_image(target, target), torch.ones(4), atol=1e-6)
    mild, _ = _pair((4, 3, 32, 32), 0.05)
    strong, _ = _pair((4, 3, 32, 32), 0.4)
    assert (ssim_per_image(strong, target) < ssim_per_image(mild, target)).all()


def test_the_blur_matrix_is_a_reflect_padded_normalised_window():
    m = blur_matrix(12).double()
    assert torch.allclose(m.sum(dim=1), torch.ones(12, dtype=torch.float64), atol=1e-6)  # weights sum to one
    assert torch.allclose(m, m.flip(0).flip(1))  # symmetric padding at both ends
    assert m[6, 0] == 0 and m[6, 1] > 0  # interior row: the 11-tap window reaches 5 pixels each side


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="one shape"):
        ssim_per_image(torch.rand(2, 1, 8, 8), torch.rand(2, 1, 8, 9))
    with pytest.raises(ValueError, match="larger than 5 pixels"):
        ssim_per_image(torch.rand(2, 1, 5, 8), torch.rand(2, 1, 5, 8))
