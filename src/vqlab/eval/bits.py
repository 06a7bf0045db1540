"""Bits per dimension on 8-bit data, as in the VQ-VAE paper (section 4.1), with the bound each number is.

- VQ-VAE: [-log p(x|z_q) + n_latents log K] / (dims ln 2): the deterministic one-hot posterior has KL = log K per
  latent to the uniform prior over codes, so this is the negative ELBO exactly.
- Gaussian VAE: the negative ELBO (E_q[-log p(x|z)] + KL analytic) and the importance-weighted bound
  -log (1/k) sum_i p(x, z_i) / q(z_i|x) (Burda et al. 2016) with k samples; IWAE_k <= ELBO in bits/dim.
- VIMCO model: the same k-sample bound with its categorical posterior and uniform prior, and its ELBO.

All are upper bounds on -log2 p(x) per dimension. Runs trained with plain MSE (no likelihood head) are scored with
a discretized Gaussian whose sigma is the RMS reconstruction error measured on training images (never test data),
so the number is still a valid bound; that sigma is reported.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from vqlab.data.tasks import Task
from vqlab.eval.metrics import autocast_context
from vqlab.models.base import LatentModel
from vqlab.models.likelihood import DiscretizedGaussian

LN2 = math.log(2.0)
SIGMA_FIT_IMAGES = 2048


def _batches(images: torch.Tensor, task: Task, batch_size: int, device: torch.device):
    for start in range(0, images.shape[0], batch_size):
        inputs, targets = task.prepare(images[start:start + batch_size])
        yield inputs.to(device).contiguous(memory_format=torch.channels_last), targets.to(device)


@torch.no_grad()
def fitted_sigma(model: LatentModel, task: Task, train_images: torch.Tensor, *, batch_size: int = 256,
                 device: torch.device | None = None, dtype: torch.dtype | None = None,
                 max_images: int = SIGMA_FIT_IMAGES) -> float:
    """RMS error (float scale) of an MSE-trained model's output on a fixed subset of training images.

    The subset is evenly spaced over the split (deterministic). For the VAE the latent is sampled from q(z|x),
    as in the ELBO the sigma is used for. train_images: uint8 (N, C, H, W). NaN when the output is not finite.
    """
    device = device or next(model.parameters()).device
    model.eval()
    n = min(max_images, train_images.shape[0])
    subset = train_images[torch.linspace(0, train_images.shape[0] - 1, n).long()]
    sq, count = 0.0, 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        for inputs, targets in _batches(subset, task, batch_size, device):
            with autocast_context(device, dtype):
                out = model.posterior_decoder_params(inputs)
            sq += (out.float() - targets).pow(2).sum().item()
            count += targets.numel()
    rms = math.sqrt(sq / max(count, 1)) if math.isfinite(sq) else math.nan
    return max(rms, 1e-4) if math.isfinite(rms) else math.nan


@torch.no_grad()
def bits_per_dim(model: LatentModel, task: Task, images: torch.Tensor, *, train_images: torch.Tensor | None = None,
                 iw_samples: int = 100, batch_size: int = 64, max_decode: int = 256,
                 device: torch.device | None = None, dtype: torch.dtype | None = None, seed: int = 0
                 ) -> dict[str, Any]:
    """Bits/dim of ``model`` on uint8 ``images`` (N, C, H, W), the test split.

    Returns bits_per_dim (the tightest bound computed), bound (what it is), recon_bits_per_dim and
    rate_bits_per_dim (the ELBO's two terms), for VAE/VIMCO also elbo_bits_per_dim and iw_samples, and for runs
    without a likelihood head likelihood_sigma. ``max_decode`` bounds the images per decoder pass (memory).
    """
    if iw_samples < 1:
        raise ValueError("iw_samples must be >= 1")
    device = device or next(model.parameters()).device
    model.eval()
    head = getattr(model, "likelihood", None)
    result: dict[str, Any] = {}
    suffix = ""
    if head is None:
        if train_images is None:
            raise ValueError("an MSE-trained run needs train_images to fit the Gaussian's sigma")
        sigma = fitted_sigma(model, task, train_images, batch_size=batch_size, device=device, dtype=dtype)
        if not math.isfinite(sigma):
            return {"bits_per_dim": math.nan, "bound": "none: the model's output is not finite",
                    "likelihood_sigma": sigma}
        head = DiscretizedGaussian(sigma)
        result["likelihood_sigma"] = sigma
        suffix = f"; discretized Gaussian, sigma={sigma:.4g} fitted on train"
    recon_sum, rate_sum, bound_sum, n = 0.0, 0.0, 0.0, 0
    dims = None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for inputs, targets in _batches(images, task, batch_size, device):
            b = targets.shape[0]
            dims = targets[0].numel()
            with autocast_context(device, dtype):
                nll, rate, bound = model.bound_terms(inputs, targets, head, iw_samples, max_decode)
            recon_sum += nll.float().sum().item()
            rate_sum += rate.float().sum().item()
            bound_sum += bound.float().sum().item()
            n += b
    scale = 1.0 / (max(n, 1) * dims * LN2) if dims else math.nan
    result["recon_bits_per_dim"] = recon_sum * scale
    result["rate_bits_per_dim"] = rate_sum * scale
    names = model.bound_names(iw_samples)
    result["bits_per_dim"] = bound_sum * scale
    result["bound"] = names["bound"] + suffix
    if "elbo_bound" in names:
        result["elbo_bits_per_dim"] = (recon_sum + rate_sum) * scale
        result["elbo_bound"] = names["elbo_bound"] + suffix
        result["iw_samples"] = iw_samples
    return result
