"""vqlab: discrete image representations with VQ-VAE (van den Oord et al. 2017), in plain PyTorch.

Import the models directly (``from vqlab import VQVAE, GaussianVAE, VectorQuantizer``) or load a trained run
(``vqlab.load_run(path)``).
"""

__version__ = "0.1.0"

from vqlab.config import Config, DataConfig, ModelConfig, TrainConfig  # noqa: E402
from vqlab.errors import VQLabError  # noqa: E402
from vqlab.models import (  # noqa: E402
    VQVAE,
    Decoder,
    Encoder,
    GaussianVAE,
    QuantizerOutput,
    VAEOutput,
    VectorQuantizer,
    VQVAEOutput,
)
from vqlab.train.run import load_run  # noqa: E402

__all__ = [
    "VQVAE", "Config", "DataConfig", "Decoder", "Encoder", "GaussianVAE", "ModelConfig", "QuantizerOutput",
    "TrainConfig", "VAEOutput", "VQLabError", "VQVAEOutput", "VectorQuantizer", "load_run", "__version__",
]
