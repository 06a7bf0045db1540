"""Latent mixing and interpolation on tiny untrained models: masks, exact reconstructions at the ends."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vqlab.config import Config
from vqlab.data.tasks import Task
from vqlab.errors import VQLabError
from vqlab.generate import grid_mask, interpolate_latents, mix_latents, sample_images, tile
from vqlab.models.likelihood import DiscretizedGaussian
from vqlab.models.vae import GaussianVAE
from vqlab.models.vimco import VIMCO
from vqlab.models.vqvae import VQVAE
from vqlab.train.run import LoadedRun


def _models() -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [VQVAE(3, 3, hidden=8, num_res_blocks=1, num_embeddings=13, embedding_dim=4).eval(),
            GaussianVAE(3, 3, hidden=8, num_res_blocks=1, latent_dim=4).eval(),
            VIMCO(3, 3, 8, 1, 13, 4, DiscretizedGaussian(0.1), samples=2).eval()]


def _pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(1, 3, 16, 16, generator=g) - 0.5, torch.rand(1, 3, 16, 16, generator=g) - 0.5


def test_grid_masks() -> None:
    lr = grid_mask("left-right", 4, 5)
    assert lr.shape == (4, 5) and lr[:, :3].all() and not lr[:, 3:].any()
    tb = grid_mask("top-bottom", 4, 4)
    assert tb[:2].all() and not tb[2:].any()
    ch = grid_mask("checker", 8, 8)
    assert ch[0, 0] and ch[0, 1] and not ch[0, 2] and not ch[2, 0] and ch[2, 2]  # 2x2-code blocks
    assert ch.sum() == 32
    with pytest.raises(VQLabError, match="unknown mix mode"):
        grid_mask("diagonal", 4, 4)


def test_mask_from_file(tmp_path) -> None:
    arr = np.zeros((40, 40), dtype=np.uint8)
    arr[:, :20] = 255  # white left half takes A
    Image.fromarray(arr).save(tmp_path / "m.png")
    mask = grid_mask(f"mask:{tmp_path / 'm.png'}", 4, 4)
    assert mask[:, :2].all() and not mask[:, 2:].any()
    with pytest.raises(VQLabError, match="not found"):
        grid_mask(f"mask:{tmp_path / 'missing.png'}", 4, 4)


@pytest.mark.parametrize("index", [0, 1, 2])
def test_all_a_mask_reproduces_a_reconstruction_exactly(index: int) -> None:
    model = _models()[index]
    xa, xb = _pair()
    ones = torch.ones(4, 4, dtype=torch.bool)
    assert torch.equal(mix_latents(model, xa, xb, ones), model.reconstruct(xa))
    assert torch.equal(mix_latents(model, xa, xb, ~ones), model.reconstruct(xb))


def test_vq_mix_takes_codes_from_both_images() -> None:
    model = _models()[0]
    xa, xb = _pair()
    mask = grid_mask("left-right", 4, 4)
    expected = torch.where(mask, model.encode(xa), model.encode(xb))
    assert torch.equal(mix_latents(model, xa, xb, mask), model.decode(expected))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_interpolation_ends_are_the_reconstructions(index: int) -> None:
    model = _models()[index]
    xa, xb = _pair()
    out = interpolate_latents(model, xa, xb, 5)
    assert out.shape == (5, 3, 16, 16)
    assert torch.allclose(out[0], model.reconstruct(xa)[0], atol=1e-6)
    assert torch.allclose(out[-1], model.reconstruct(xb)[0], atol=1e-6)


def test_tile_pads_to_a_full_grid() -> None:
    grid = tile(torch.zeros(5, 3, 4, 4), scale=1, columns=3)
    assert grid.shape == (2 * 6 + 2, 3 * 6 + 2, 3)
    assert (grid[8:12, 14:18] == 255).all()  # the padding tile is white


def _loaded(model: torch.nn.Module, tmp_path) -> LoadedRun:
    return LoadedRun(model=model, config=Config(), task=Task("reconstruct", 3), step=0, run_dir=tmp_path)


@pytest.mark.parametrize("index", [1, 2])
def test_vae_and_vimco_sampling_is_reproducible(index: int, tmp_path) -> None:
    run = _loaded(_models()[index], tmp_path)
    a = sample_images(run, 2, seed=3, grid=(2, 3))
    assert a.shape == (2, 3, 8, 12) and 0 <= float(a.min()) and float(a.max()) <= 1
    assert torch.equal(a, sample_images(run, 2, seed=3, grid=(2, 3)))
    assert not torch.equal(a, sample_images(run, 2, seed=4, grid=(2, 3)))


def test_vqvae_sampling_without_a_prior_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(VQLabError, match="no PixelCNN prior"):
        sample_images(_loaded(_models()[0], tmp_path), 2, grid=(2, 2))
    with pytest.raises(VQLabError, match="temperature"):
        sample_images(_loaded(_models()[1], tmp_path), 2, temperature=0)
