import math

import torch
from torch import nn

from vqlab.data.tasks import Task
from vqlab.eval.metrics import evaluate_model, psnr_from_mse
from vqlab.models.base import LatentModel
from vqlab.models.vqvae import VQVAE


class _Identity(LatentModel):
    """A 'model' whose reconstruction is its input, to pin down the metric definitions."""

    likelihood = None

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def encode(self, x):
        return x

    def decoder_params(self, latents):
        return latents


def test_psnr_from_mse():
    assert psnr_from_mse(0.01) == 20.0 and math.isinf(psnr_from_mse(0.0))


def test_perfect_model_has_zero_error_and_unit_ssim():
    images = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    m = evaluate_model(_Identity(), Task("reconstruct", 3), images, batch_size=2)
    assert m["mse"] < 1e-12 and m["psnr"] > 100 and abs(m["ssim"] - 1) < 1e-5 and m["num_images"] == 5
    assert "perplexity" not in m


def test_vq_metrics_pool_codes_over_the_split():
    torch.manual_seed(0)
    model = VQVAE(3, 3, hidden=8, num_embeddings=16, embedding_dim=4)
    images = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    m = evaluate_model(model, Task("reconstruct", 3), images, batch_size=4)
    codes = model.encode(Task("reconstruct", 3).prepare(images)[0])
    used = codes.unique().numel()
    assert m["codes_used"] == used and math.isclose(m["codebook_usage"], used / 16)
    assert 1 <= m["perplexity"] <= used + 1e-4
    assert math.isclose(m["mse"], 10 ** (-m["psnr"] / 10), rel_tol=1e-9)
