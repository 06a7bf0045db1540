"""Model registry: builds the model a config names, keyed by the CLI's ``--model`` names."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vqlab.config import ModelConfig
from vqlab.models.likelihood import DiscretizedGaussian, build_likelihood
from vqlab.models.vae import GaussianVAE
from vqlab.models.vimco import VIMCO
from vqlab.models.vqvae import VQVAE


def _vqvae(m: ModelConfig, in_channels: int, out_channels: int) -> nn.Module:
    return VQVAE(
        in_channels, out_channels, m.hidden, m.num_res_blocks, m.num_embeddings, m.embedding_dim, m.beta,
        ema=m.ema, decay=m.decay, kmeans_init=m.kmeans_init, restart_after=m.restart_after,
        likelihood=_head(m),
    )


def _vae(m: ModelConfig, in_channels: int, out_channels: int) -> nn.Module:
    return GaussianVAE(in_channels, out_channels, m.hidden, m.num_res_blocks, m.embedding_dim, m.vae_sigma,
                       likelihood=_head(m))


def _vimco(m: ModelConfig, in_channels: int, out_channels: int) -> nn.Module:
    # VIMCO needs a normalised likelihood: "mse" means the discretized Gaussian with --gaussian-sigma.
    head = _head(m) or DiscretizedGaussian(m.gaussian_sigma)
    return VIMCO(in_channels, out_channels, m.hidden, m.num_res_blocks, m.num_embeddings, m.embedding_dim, head,
                 samples=m.vimco_samples)


def _head(m: ModelConfig):
    return build_likelihood(m.likelihood, mixtures=m.logistic_mixtures, sigma=m.gaussian_sigma)


MODELS: dict[str, Callable[[ModelConfig, int, int], nn.Module]] = {"vqvae": _vqvae, "vae": _vae, "vimco": _vimco}


def build_model(m: ModelConfig, in_channels: int, out_channels: int) -> nn.Module:
    """A freshly initialised model for ``m`` with the given input and output channel counts."""
    return MODELS[m.name](m, in_channels, out_channels)


def is_vq(model: nn.Module) -> bool:
    """True for models with discrete codes (VQ-VAE, VIMCO): they have ``encode``/``decode`` of code maps and
    ``num_embeddings``, and report perplexity and codebook usage."""
    return isinstance(model, (VQVAE, VIMCO))
