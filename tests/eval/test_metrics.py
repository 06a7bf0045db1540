import math

import pytest
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


def test_pooled_perplexity_is_exp_entropy_of_the_split_histogram():
    """Pooled over the split, not averaged over batches: recomputed from the split's code histogram in float64."""
    from collections import Counter

    torch.manual_seed(2)
    task = Task("reconstruct", 3)
    model = VQVAE(3, 3, hidden=8, num_embeddings=32, embedding_dim=4)
    images = torch.randint(0, 256, (9, 3, 8, 8), dtype=torch.uint8)
    images[:4] //= 8  # dark first batch, bright rest: the batches use different codes
    with torch.no_grad():  # codes on the data (as k-means would put them), so that many are used
        z = model.encoder(task.prepare(images)[0]).permute(0, 2, 3, 1).reshape(-1, 4)
        model.quantizer.codebook.copy_(z[torch.randperm(z.shape[0])[:32]])
    m = evaluate_model(model, task, images, batch_size=4)
    with torch.no_grad():
        codes = [int(c) for c in model.encode(task.prepare(images)[0]).flatten()]
    counts = Counter(codes)
    total = sum(counts.values())
    entropy = -sum(c / total * math.log(c / total) for c in counts.values())
    assert m["perplexity"] == pytest.approx(math.exp(entropy), rel=1e-5)
    per_batch = []
    for start in range(0, 9, 4):
        part = Counter(codes[start * 4:(start + 4) * 4])  # 2x2 codes per image
        n = sum(part.values())
        per_batch.append(math.exp(-sum(c / n * math.log(c / n) for c in part.values())))
    assert abs(sum(per_batch) / len(per_batch) - m["perplexity"]) > 0.1  # a batch average would be caught
