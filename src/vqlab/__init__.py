"""vqlab: discrete image representations with VQ-VAE (van den Oord et al. 2017), in plain PyTorch.

Import the models directly (``from vqlab import VQVAE, GaussianVAE, VectorQuantizer``) or load a trained run
(``vqlab.load_run(path)``).
"""

__version__ = "0.1.0"

from vqlab.config import Config, DataConfig, ModelConfig, TrainConfig
from vqlab.errors import VQLabError
from vqlab.models import (
    VQVAE,
    Decoder,
    Encoder,
    GaussianVAE,
    QuantizerOutput,
    VAEOutput,
    VectorQuantizer,
    VQVAEOutput,
)
from vqlab.train.run import load_run

__all__ = [
    "VQVAE",
    "Config",
    "DataConfig",
    "Decoder",
    "Encoder",
    "GaussianVAE",
    "ModelConfig",
    "QuantizerOutput",
    "TrainConfig",
    "VAEOutput",
    "VQLabError",
    "VQVAEOutput",
    "VectorQuantizer",
    "__version__",
    "load_run",
]
