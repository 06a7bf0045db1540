"""vqlab: discrete image representations with VQ-VAE (van den Oord et al. 2017), in plain PyTorch.

Load a trained run and use it (``m = vqlab.load("runs/demo"); m.reconstruct("photo.jpg")``, see docs/api.md),
or import the models directly (``from vqlab import VQVAE, GaussianVAE, VectorQuantizer``).
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


def __getattr__(name: str):
    """``vqlab.load`` and ``vqlab.Model`` come from :mod:`vqlab.api`, imported on first use."""
    if name in ("load", "Model"):
        from vqlab import api

        return getattr(api, name)
    raise AttributeError(f"module 'vqlab' has no attribute {name!r}")


__all__ = [
    "VQVAE",
    "Config",
    "DataConfig",
    "Decoder",
    "Encoder",
    "GaussianVAE",
    "Model",
    "ModelConfig",
    "QuantizerOutput",
    "TrainConfig",
    "VAEOutput",
    "VQLabError",
    "VQVAEOutput",
    "VectorQuantizer",
    "__version__",
    "load",
    "load_run",
]
