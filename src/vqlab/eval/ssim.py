"""SSIM per image, computed with a separable Gaussian window.

Gives the same numbers as ``torchmetrics.functional.image.structural_similarity_index_measure`` with its defaults
(Gaussian window of 11 taps, sigma 1.5, K1 0.01, K2 0.03, reflection padding of 5 pixels, the mean over every
pixel and channel of the image) up to float rounding, so SSIM columns written before and after this module agree.

The window is separable, so the blur runs as two 1-D passes. For the small images of the studies (a side up to
``DENSE_MAX``) each pass is one matrix product with an (n, n) matrix that holds the reflection padding and the
window together: a few large GEMMs instead of a grouped 2-D convolution, which made SSIM the slowest part of an
evaluation (``benchmarks/ssim_speed.py`` measures the ratio). Larger images use two 1-D convolutions.
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

SIGMA = 1.5
TAPS = 2 * int(3.5 * SIGMA + 0.5) + 1  # 11, the window size torchmetrics derives from sigma
PAD = TAPS // 2
K1, K2 = 0.01, 0.03
DENSE_MAX = 1024  # the largest side blurred by an (n, n) matrix product (measured faster than the convolution up to 512)


def gaussian_window(taps: int = TAPS, sigma: float = SIGMA) -> torch.Tensor:
    """The normalised 1-D Gaussian window, (taps,), float64."""
    x = torch.arange(taps, dtype=torch.float64) - (taps - 1) / 2
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return w / w.sum()


@lru_cache(maxsize=32)
def blur_matrix(n: int, dtype: torch.dtype = torch.float32, device: str = "cpu") -> torch.Tensor:
    """(n, n) matrix M with ``M @ x`` = x reflection-padded by PAD, then blurred by the window (valid part)."""
    if n <= PAD:
        raise ValueError(f"SSIM needs images larger than {PAD} pixels a side, got a side of {n}")
    w = gaussian_window()
    m = torch.zeros(n, n, dtype=torch.float64)
    rows = torch.arange(n)
    for k in range(TAPS):
        j = rows + k - PAD
        j = torch.where(j < 0, -j, j)
        j = torch.where(j >= n, 2 * (n - 1) - j, j)
        m.index_put_((rows, j), w[k].expand(n), accumulate=True)
    return m.to(dtype=dtype, device=device)


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of each (H, W) plane of x (..., H, W), with reflection padding; same shape out."""
    h, w = x.shape[-2:]
    dtype, device = x.dtype, str(x.device)
    if max(h, w) <= DENSE_MAX:
        y = x.reshape(-1, w) @ blur_matrix(w, dtype, device).T  # along W: one GEMM
        return (blur_matrix(h, dtype, device) @ y.reshape(-1, h, w)).reshape(x.shape)  # along H
    planes = F.pad(x.reshape(-1, 1, h, w), (PAD, PAD, PAD, PAD), mode="reflect")
    win = gaussian_window().to(dtype=dtype, device=x.device)
    planes = F.conv2d(F.conv2d(planes, win.view(1, 1, TAPS, 1)), win.view(1, 1, 1, TAPS))
    return planes.reshape(x.shape)


def ssim_per_image(preds: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """SSIM of each image pair, (B,): ``preds`` and ``target`` are (B, C, H, W) with H and W above 5."""
    if preds.shape != target.shape or preds.ndim != 4:
        raise ValueError(f"SSIM needs two (B, C, H, W) tensors of one shape, got {tuple(preds.shape)} and "
                         f"{tuple(target.shape)}")
    if min(preds.shape[-2:]) <= PAD:
        raise ValueError(f"SSIM needs images larger than {PAD} pixels a side, got {tuple(preds.shape[-2:])}")
    dtype = preds.dtype if preds.is_floating_point() and preds.dtype != torch.bfloat16 else torch.float32
    p, t = preds.to(dtype), target.to(dtype)
    b = p.shape[0]
    mu_p, mu_t, e_pp, e_tt, e_pt = _blur(torch.stack((p, t, p * p, t * t, p * t)))
    mu_pp, mu_tt, mu_pt = mu_p * mu_p, mu_t * mu_t, mu_p * mu_t
    var_p = (e_pp - mu_pp).clamp_min(0.0)
    var_t = (e_tt - mu_tt).clamp_min(0.0)
    cov = e_pt - mu_pt
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    index = (2 * mu_pt + c1) * (2 * cov + c2) / ((mu_pp + mu_tt + c1) * (var_p + var_t + c2))
    return index.reshape(b, -1).mean(dim=1)
