"""Registries keyed by the CLI's names: models (``--model``) and quantizers (``--quantizer``).

A new model is one module implementing :class:`vqlab.models.base.LatentModel` plus one line in :data:`MODELS`;
a new quantizer is one module implementing :class:`vqlab.models.quantize.Quantizer` plus one line in
:data:`QUANTIZERS` (and its options in the ``quantizer`` section of :mod:`vqlab.config`).
"""

from __future__ import annotations

from collections.abc import Callable

from vqlab.config import Config, QuantizerConfig
from vqlab.models.base import LatentModel
from vqlab.models.fsq import FSQ
from vqlab.models.likelihood import DiscretizedGaussian, build_likelihood
from vqlab.models.quantize import Quantizer, VectorQuantizer
from vqlab.models.rvq import ResidualVQ
from vqlab.models.simvq import SimVQ
from vqlab.models.vae import GaussianVAE
from vqlab.models.vimco import VIMCO
from vqlab.models.vqvae import VQVAE

# --quantizer name -> builder(quantizer options, K, D)
QUANTIZERS: dict[str, Callable[[QuantizerConfig, int, int], Quantizer]] = {
    "vq": VectorQuantizer.from_config,
    "fsq": FSQ.from_config,
    "simvq": SimVQ.from_config,
    "rvq": ResidualVQ.from_config,
}


def build_quantizer(cfg: Config) -> Quantizer:
    """The quantizer a config names, with the model's K and D."""
    return QUANTIZERS[cfg.quantizer.name](cfg.quantizer, cfg.model.num_embeddings, cfg.model.embedding_dim)


def _head(cfg: Config):
    m = cfg.model
    return build_likelihood(m.likelihood, mixtures=m.logistic_mixtures, sigma=m.gaussian_sigma,
                            bins=m.chroma_bins, temperature=m.chroma_temperature)


def _vqvae(cfg: Config, in_channels: int, out_channels: int) -> LatentModel:
    m = cfg.model
    return VQVAE(in_channels, out_channels, m.hidden, m.num_res_blocks, m.num_embeddings, m.embedding_dim,
                 likelihood=_head(cfg), quantizer=lambda: build_quantizer(cfg), downsample=m.downsample)


def _vae(cfg: Config, in_channels: int, out_channels: int) -> LatentModel:
    m = cfg.model
    return GaussianVAE(in_channels, out_channels, m.hidden, m.num_res_blocks, m.embedding_dim, cfg.vae.sigma,
                       likelihood=_head(cfg), downsample=m.downsample)


def _vimco(cfg: Config, in_channels: int, out_channels: int) -> LatentModel:
    # VIMCO needs a normalised likelihood: "mse" means the discretized Gaussian with --gaussian-sigma.
    m = cfg.model
    head = _head(cfg) or DiscretizedGaussian(m.gaussian_sigma)
    return VIMCO(in_channels, out_channels, m.hidden, m.num_res_blocks, m.num_embeddings, m.embedding_dim, head,
                 samples=cfg.vimco.samples, downsample=m.downsample)


# --model name -> builder(config, input channels, output channels)
MODELS: dict[str, Callable[[Config, int, int], LatentModel]] = {"vqvae": _vqvae, "vae": _vae, "vimco": _vimco}


def build_model(cfg: Config, in_channels: int, out_channels: int) -> LatentModel:
    """A freshly initialised model for the whole config ``cfg`` with the given channel counts."""
    return MODELS[cfg.model.name](cfg, in_channels, out_channels)
