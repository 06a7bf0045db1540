"""Pure PyTorch models: no file I/O, no printing. Every forward returns a small dataclass."""

from vqlab.models.layers import Decoder, Encoder, ResidualBlock
from vqlab.models.likelihood import LIKELIHOODS, LikelihoodHead, build_likelihood
from vqlab.models.quantize import QuantizerOutput, VectorQuantizer, nearest_codes, perplexity_from_counts
from vqlab.models.registry import MODELS, build_model, is_vq
from vqlab.models.vae import GaussianVAE, VAEOutput, gaussian_kl
from vqlab.models.vimco import VIMCO, VIMCOOutput, vimco_surrogate
from vqlab.models.vqvae import VQVAE, VQVAEOutput

__all__ = [
    "LIKELIHOODS",
    "MODELS",
    "VIMCO",
    "VQVAE",
    "Decoder",
    "Encoder",
    "GaussianVAE",
    "LikelihoodHead",
    "QuantizerOutput",
    "ResidualBlock",
    "VAEOutput",
    "VIMCOOutput",
    "VQVAEOutput",
    "VectorQuantizer",
    "build_likelihood",
    "build_model",
    "gaussian_kl",
    "is_vq",
    "nearest_codes",
    "perplexity_from_counts",
    "vimco_surrogate",
]
