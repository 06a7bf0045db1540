"""Colorization metrics on RGB images in [0, 1], accumulated batch by batch over a split.

- colourfulness of Hasler & Suesstrunk (2003) on the 0..255 scale, per image, then averaged:
  rg = R - G, yb = (R + G) / 2 - B, M = sqrt(std(rg)^2 + std(yb)^2) + 0.3 sqrt(mean(rg)^2 + mean(yb)^2);
- AUC of the cumulative curve of per-pixel a*b* error (Zhang, Isola & Efros 2016): the fraction of pixels whose
  Euclidean a*b* distance (CIELAB, scikit-image's rgb2lab, D65) is <= t, averaged over the integer thresholds
  t = 0..150, so 1 is perfect and 0 is an error above 150 everywhere.
"""

from __future__ import annotations

import torch

from vqlab.data.tasks import rgb_to_lab

AUC_MAX_THRESHOLD = 150


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk colourfulness per image. rgb: (B, 3, H, W) in [0, 1] -> (B,) float32."""
    x = rgb.float() * 255.0
    r, g, b = x[:, 0].flatten(1), x[:, 1].flatten(1), x[:, 2].flatten(1)
    rg, yb = r - g, 0.5 * (r + g) - b
    std = torch.sqrt(rg.var(1, unbiased=False) + yb.var(1, unbiased=False))
    mean = torch.sqrt(rg.mean(1).pow(2) + yb.mean(1).pow(2))
    return std + 0.3 * mean


def ab_errors(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-pixel a*b* Euclidean error. (B, 3, H, W) RGB in [0, 1] twice -> (B, H, W) float32."""
    ab_out, ab_tgt = rgb_to_lab(output)[:, 1:], rgb_to_lab(target)[:, 1:]
    return (ab_out - ab_tgt).pow(2).sum(1).sqrt()


def cumulative_counts(errors: torch.Tensor, max_threshold: int = AUC_MAX_THRESHOLD) -> torch.Tensor:
    """Number of errors <= t for t = 0..max_threshold. errors: any shape -> (max_threshold + 1,) float64."""
    thresholds = torch.arange(max_threshold + 1, dtype=torch.float64)
    return (errors.flatten().double().unsqueeze(1) <= thresholds.unsqueeze(0)).sum(0).double()


class ColorizationMeter:
    """Sums of colourfulness (outputs, targets, gray baseline) and cumulative a*b* error counts over batches."""

    def __init__(self) -> None:
        self.images = 0
        self.pixels = 0
        self.color_out = self.color_tgt = self.color_gray = 0.0
        self.cum_out = torch.zeros(AUC_MAX_THRESHOLD + 1, dtype=torch.float64)
        self.cum_gray = torch.zeros(AUC_MAX_THRESHOLD + 1, dtype=torch.float64)

    def update(self, output: torch.Tensor, target: torch.Tensor, gray: torch.Tensor) -> None:
        """Add a batch: model output, target and gray baseline, each (B, 3, H, W) RGB in [0, 1]."""
        self.images += output.shape[0]
        self.pixels += output.shape[0] * output.shape[2] * output.shape[3]
        self.color_out += colorfulness(output).sum().item()
        self.color_tgt += colorfulness(target).sum().item()
        self.color_gray += colorfulness(gray).sum().item()
        self.cum_out += cumulative_counts(ab_errors(output, target))
        self.cum_gray += cumulative_counts(ab_errors(gray, target))

    def result(self) -> dict[str, float]:
        """colorfulness, colorfulness_target, auc_ab, gray_colorfulness, gray_auc_ab (means over the split)."""
        n, p = max(self.images, 1), max(self.pixels, 1)
        return {
            "colorfulness": self.color_out / n,
            "colorfulness_target": self.color_tgt / n,
            "auc_ab": float((self.cum_out / p).mean()),
            "gray_colorfulness": self.color_gray / n,
            "gray_auc_ab": float((self.cum_gray / p).mean()),
        }


def photo_scores(output: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """How one colorized photograph compares with its true colours, and with the gray baseline: the photograph's
    own luminance (BT.601, rounded to 8 bits as a gray file would hold it), the output that adds no colour.

    output, target: (3, H, W) RGB in [0, 1]. Returns ``psnr`` and ``gray_psnr`` (dB, against the target),
    ``gain`` (their difference: > 0 means the colours helped), ``colorfulness``, ``colorfulness_target`` and
    ``colorfulness_ratio`` (output over target).
    """
    from vqlab.data.tasks import luminance
    from vqlab.eval.metrics import psnr_from_mse

    out, tgt = output.float().unsqueeze(0), target.float().unsqueeze(0)
    gray = (luminance(tgt) * 255).round() / 255
    psnr = psnr_from_mse(float((out - tgt).pow(2).mean()))
    gray_psnr = psnr_from_mse(float((gray - tgt).pow(2).mean()))
    c_out, c_tgt = float(colorfulness(out)[0]), float(colorfulness(tgt)[0])
    return {"psnr": psnr, "gray_psnr": gray_psnr, "gain": psnr - gray_psnr, "colorfulness": c_out,
            "colorfulness_target": c_tgt, "colorfulness_ratio": c_out / c_tgt if c_tgt > 0 else float("nan")}
