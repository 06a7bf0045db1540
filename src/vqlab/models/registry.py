"""Model registry: builds the model a config names, keyed by the CLI's ``--model`` names."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from vqlab.config import ModelConfig
from vqlab.models.vae import GaussianVAE
from vqlab.models.vqvae import VQVAE


def _vqvae(m: ModelConfig, in_channels: int, out_channels: int) -> nn.Module:
    return VQVAE(
        in_channels, out_channels, m.hidden, m.num_res_blocks, m.num_embeddings, m.embedding_dim, m.beta,
        ema=m.ema, decay=m.decay, kmeans_init=m.kmeans_init, restart_after=m.restart_after,
    )


def _vae(m: ModelConfig, in_channels: int, out_channels: int) -> nn.Module:
    return GaussianVAE(in_channels, out_channels, m.hidden, m.num_res_blocks, m.embedding_dim, m.vae_sigma)


MODELS: dict[str, Callable[[ModelConfig, int, int], nn.Module]] = {"vqvae": _vqvae, "vae": _vae}


def build_model(m: ModelConfig, in_channels: int, out_channels: int) -> nn.Module:
    """A freshly initialised model for ``m`` with the given input and output channel counts."""
    return MODELS[m.name](m, in_channels, out_channels)


def is_vq(model: nn.Module) -> bool:
    """True for models with a discrete codebook (they report perplexity and codebook usage)."""
    return isinstance(model, VQVAE)
