"""Pure PyTorch models: no file I/O, no printing. Every forward returns a small dataclass."""

from vqlab.models.base import LatentModel
from vqlab.models.fsq import FSQ
from vqlab.models.layers import Decoder, Encoder, ResidualBlock
from vqlab.models.likelihood import LIKELIHOODS, LikelihoodHead, build_likelihood
from vqlab.models.quantize import Quantizer, QuantizerOutput, VectorQuantizer, nearest_codes, perplexity_from_counts
from vqlab.models.registry import MODELS, QUANTIZERS, build_model, build_quantizer
from vqlab.models.rvq import ResidualVQ
from vqlab.models.simvq import SimVQ
from vqlab.models.vae import GaussianVAE, VAEOutput, gaussian_kl
from vqlab.models.vimco import VIMCO, VIMCOOutput, vimco_surrogate
from vqlab.models.vqvae import VQVAE, VQVAEOutput

__all__ = [
    "FSQ",
    "LIKELIHOODS",
    "MODELS",
    "QUANTIZERS",
    "VIMCO",
    "VQVAE",
    "Decoder",
    "Encoder",
    "GaussianVAE",
    "LatentModel",
    "LikelihoodHead",
    "Quantizer",
    "QuantizerOutput",
    "ResidualBlock",
    "ResidualVQ",
    "SimVQ",
    "VAEOutput",
    "VIMCOOutput",
    "VQVAEOutput",
    "VectorQuantizer",
    "build_likelihood",
    "build_model",
    "build_quantizer",
    "gaussian_kl",
    "nearest_codes",
    "perplexity_from_counts",
    "vimco_surrogate",
]
