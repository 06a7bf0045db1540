"""Test-split metrics: MSE, PSNR and SSIM on displayed RGB images in [0, 1], and codebook statistics.

PSNR is computed from the MSE pooled over the whole split (10 log10(1 / MSE)); SSIM is the mean over images
(torchmetrics, Gaussian window 11, data range 1). ``nmse`` is the MSE divided by the variance of the split's
target pixels (what DeepMind's VQ-VAE example reports). For models with discrete codes: the perplexity of the
code histogram pooled over the split, and ``codebook_usage``, the fraction of the K codes used at least once;
with N codebooks (residual VQ) both are means over the codebooks, ``codes_used`` the sum, and each codebook's
own values are ``perplexity_cb1``, ``codebook_usage_cb1``, ... .
Colorize runs add the colorization metrics of :mod:`vqlab.eval.colorize` and the same metrics (prefixed
``gray_``) for the trivial baseline whose output is the input's luminance, so every number has its floor.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch

from vqlab.data.tasks import Task, to_unit
from vqlab.eval.ssim import ssim_per_image
from vqlab.models.base import LatentModel
from vqlab.models.quantize import perplexity_from_counts


def autocast_context(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """bf16 autocast when ``dtype`` is given, else a no-op context."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def psnr_from_mse(mse: float) -> float:
    """PSNR in dB for images in [0, 1]; infinite for a perfect match."""
    return math.inf if mse <= 0 else 10.0 * math.log10(1.0 / mse)


@torch.no_grad()
def predict_rgb(
    model: LatentModel, task: Task, batch: torch.Tensor, device: torch.device, dtype: torch.dtype | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Run a uint8 batch (B, C, H, W) through the model in eval mode.

    Returns (input RGB, output RGB, code indices or None), images as (B, 3, H, W) in [0, 1] on the CPU.
    """
    inputs, _ = task.prepare(batch)
    inputs = inputs.to(device).contiguous(memory_format=torch.channels_last)
    with autocast_context(device, dtype):
        latents = model.encode(inputs)
        output = model.decode(latents)
    indices = latents if model.discrete else None
    return task.input_to_rgb(inputs.cpu()), task.output_to_rgb(output.float().cpu(), inputs.cpu()), indices


@torch.no_grad()
def evaluate_model(
    model: LatentModel,
    task: Task,
    images: torch.Tensor,
    *,
    batch_size: int = 256,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> dict[str, Any]:
    """Metrics of ``model`` on uint8 test images (N, C, H, W); the model is left in eval mode."""
    device = device or next(model.parameters()).device
    model.eval()
    from vqlab.eval.colorize import ColorizationMeter

    sq_err, n_values, ssim_sum, t_sum, t_sq = 0.0, 0, 0.0, 0.0, 0.0
    gray_sq, gray_ssim = 0.0, 0.0
    colour = ColorizationMeter() if task.name == "colorize" else None
    counts = None
    for start in range(0, images.shape[0], batch_size):
        batch = images[start:start + batch_size]
        gray, output, indices = predict_rgb(model, task, batch, device, dtype)
        target = task_target_rgb(task, batch)
        sq_err += (output - target).pow(2).sum().item()
        n_values += target.numel()
        t_sum += target.double().sum().item()
        t_sq += target.double().pow(2).sum().item()
        ssim = ssim_per_image(output, target)
        ssim_sum += ssim.sum().item()
        if colour is not None:
            colour.update(output, target, gray)
            gray_sq += (gray - target).pow(2).sum().item()
            gray_ssim += ssim_per_image(gray, target).sum().item()
        if indices is not None:
            c = code_counts(indices.cpu(), model.num_codes, model.num_codebooks)
            counts = c if counts is None else counts + c
    mse = sq_err / max(n_values, 1)
    n_img = max(images.shape[0], 1)
    variance = t_sq / max(n_values, 1) - (t_sum / max(n_values, 1)) ** 2
    result: dict[str, Any] = {
        "mse": mse, "nmse": mse / variance if variance > 0 else math.nan, "psnr": psnr_from_mse(mse),
        "ssim": ssim_sum / n_img, "num_images": int(images.shape[0]),
    }
    if colour is not None:
        gray_mse = gray_sq / max(n_values, 1)
        result.update(colour.result(), gray_mse=gray_mse, gray_psnr=psnr_from_mse(gray_mse),
                      gray_ssim=gray_ssim / n_img)
    if counts is not None:
        result.update(codebook_stats(counts))
    return result


def code_counts(indices: torch.Tensor, num_codes: int, num_codebooks: int = 1) -> torch.Tensor:
    """Histogram of code maps: (B, h, w) -> (K,); with N codebooks (B, N, h, w) -> (N, K), one row each."""
    if num_codebooks == 1:
        return torch.bincount(indices.flatten(), minlength=num_codes)
    per = indices.transpose(0, 1).reshape(num_codebooks, -1)
    offsets = torch.arange(num_codebooks, device=indices.device).unsqueeze(1) * num_codes
    return torch.bincount((per + offsets).flatten(), minlength=num_codebooks * num_codes).view(num_codebooks, -1)


def codebook_stats(counts: torch.Tensor) -> dict[str, Any]:
    """perplexity, codebook_usage, codes_used of a histogram (K,); of (N, K): means (codes_used: the sum) and
    each codebook's perplexity_cbI / codebook_usage_cbI (I from 1)."""
    if counts.dim() == 1:
        return {"perplexity": float(perplexity_from_counts(counts)),
                "codebook_usage": float((counts > 0).float().mean()), "codes_used": int((counts > 0).sum())}
    rows = [codebook_stats(c) for c in counts]
    out: dict[str, Any] = {"perplexity": sum(r["perplexity"] for r in rows) / len(rows),
                           "codebook_usage": sum(r["codebook_usage"] for r in rows) / len(rows),
                           "codes_used": sum(r["codes_used"] for r in rows)}
    for i, r in enumerate(rows, 1):
        out[f"perplexity_cb{i}"], out[f"codebook_usage_cb{i}"] = r["perplexity"], r["codebook_usage"]
    return out


def task_target_rgb(task: Task, batch: torch.Tensor) -> torch.Tensor:
    """What the output should look like: the image itself in [0, 1], as (B, 3, H, W)."""
    unit = to_unit(batch)
    return unit.expand(-1, 3, -1, -1) if unit.shape[1] == 1 else unit
