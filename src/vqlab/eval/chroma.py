"""Chroma shrinkage: one gain ``s`` in [0, 1] on the colour a colorize run predicts, fitted on validation data.

Why. A colorizer trained with MSE predicts, for each gray patch, the mean colour that patch had in its *training*
photographs. On photographs from elsewhere part of that colour is wrong, and a wrong colour costs more than none:
where the evidence is weak the error-minimising answer drifts towards gray (chroma 0, the output that keeps only
the input's luminance). The least-squares gain

    s* = <c_hat, c> / <c_hat, c_hat>,  clipped to [0, 1]

(c_hat: predicted chroma, c: true chroma, inner products over every pixel of held-out images) is the regression
coefficient of the true colour on the predicted one: the gain that minimises the held-out error of s * c_hat over
all gains. s near 1 says the predictions carry over to unseen photographs as they are; s near 0 that they carry
little, and the output falls back towards the gray input. Clipping keeps it a shrinkage: it never amplifies
colour, and on the fitting data the shrunk output is never worse than either s = 1 or gray (s = 0) in the
error it minimises.

The error is measured where the run is scored. ``ycbcr``: in RGB. With the luma fixed, a chroma change
(dCb, dCr) changes R, G, B linearly (:func:`chroma_rgb_offset`), so the gain has the closed form above on those
offsets; it is exact except where a channel is clipped to [0, 1]. ``lab``: in a*b*, the space the model is
trained in (RGB is not linear in a*b*).

Limits: one number for every pixel of every photograph. It cannot tell a confident sky from a guessed shirt, and
it buys lower error with less colour (the study in docs/colorize.md measures both).
"""

from __future__ import annotations

import math

import torch

from vqlab.data.tasks import CB_SCALE, CR_SCALE, LUMA, Task
from vqlab.errors import VQLabError
from vqlab.eval.metrics import autocast_context


def chroma_rgb_offset(chroma: torch.Tensor) -> torch.Tensor:
    """What BT.601 chroma adds to a gray pixel: (B, 2, H, W) (Cb, Cr) -> (B, 3, H, W) RGB offsets (linear)."""
    cb, cr = chroma[:, 0:1], chroma[:, 1:2]
    r, b = CR_SCALE * cr, CB_SCALE * cb
    g = -(LUMA[0] * r + LUMA[2] * b) / LUMA[1]
    return torch.cat([r, g, b], dim=1)


def shrink_gain(cross: float, power: float) -> float:
    """The least-squares gain <c_hat, c> / <c_hat, c_hat> clipped to [0, 1]; 1 when the prediction is all zero."""
    if not (power > 0 and math.isfinite(power) and math.isfinite(cross)):
        return 1.0
    return min(1.0, max(0.0, cross / power))


@torch.no_grad()
def fit_chroma_scale(model: torch.nn.Module, task: Task, images: torch.Tensor, *, batch_size: int = 256,
                     device: torch.device | None = None, dtype: torch.dtype | None = None) -> float:
    """The gain s* of the module notes for ``model`` on uint8 images (N, 3, H, W) (validation data).

    ``task`` must predict the colour (colorize with ycbcr or lab); its own ``chroma_scale`` is ignored. The model
    is left in eval mode.
    """
    if not task.predicts_chroma:
        raise VQLabError("chroma shrinkage needs a colorize run that predicts the colour (--color-space ycbcr or lab)")
    device = device or next(model.parameters()).device
    model.eval()
    cross = power = 0.0
    for start in range(0, images.shape[0], batch_size):
        inputs, targets = task.prepare(images[start:start + batch_size])
        x = inputs.to(device).contiguous(memory_format=torch.channels_last)
        with autocast_context(device, dtype):
            output = model.decode(model.encode(x))
        pred, true = output.float().cpu(), targets.float()
        if task.color_space == "ycbcr":
            pred, true = chroma_rgb_offset(pred), chroma_rgb_offset(true)
        cross += float((pred.double() * true.double()).sum())
        power += float(pred.double().pow(2).sum())
    return shrink_gain(cross, power)
