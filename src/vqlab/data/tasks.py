"""Tasks turn uint8 image batches into (input, target) float tensors and model outputs back into RGB.

Scale convention: pixel values v in [0, 255] become v / 255 - 0.5, so inputs and RGB targets lie in [-0.5, 0.5].

- ``reconstruct``: input = target = the image (1 or 3 channels).
- ``colorize``: input = luminance (1 channel); target = RGB (3 channels), or only the colour, whose RGB image
  is rebuilt with the input's own luminance: ``color_space="ycbcr"`` the chroma Cb, Cr of full-range BT.601
  YCbCr (2 channels, in [-0.5, 0.5]; a linear map, so the rebuilt image's luma is exactly the input), or
  ``color_space="lab"`` the CIELAB a*b* channels scaled by 1/200 (2 channels) with the input's lightness.

A colorize task that predicts only the colour may carry a ``chroma_scale`` in [0, 1] (default 1): the predicted
Cb, Cr or a*b* are multiplied by it before the picture is rebuilt, moving the output towards gray (0 gives the
gray input back). Runs trained with ``--chroma-shrink`` fit it on validation data (:mod:`vqlab.eval.chroma`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vqlab.config import COLOR_SPACES
from vqlab.errors import VQLabError

# ITU-R BT.601 luma weights: what PIL's convert("L") uses, so a grayscale file and our input agree.
LUMA = (0.299, 0.587, 0.114)
AB_SCALE = 200.0
# Full-range BT.601 (JPEG) chroma: Cb = (B - Y) / CB_SCALE, Cr = (R - Y) / CR_SCALE.
CB_SCALE = 2 * (1 - LUMA[2])
CR_SCALE = 2 * (1 - LUMA[0])


def to_unit(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (B, C, H, W) -> float32 in [0, 1]."""
    return batch.float().div_(255.0)


def luminance(rgb: torch.Tensor) -> torch.Tensor:
    """Rec. 601 luma of RGB in [0, 1]. (B, 3, H, W) -> (B, 1, H, W)."""
    w = torch.tensor(LUMA, dtype=rgb.dtype, device=rgb.device).view(1, 3, 1, 1)
    return (rgb * w).sum(1, keepdim=True)


def _rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] (B, 3, H, W) -> CIELAB (B, 3, H, W) with L in [0, 100] (scikit-image, D65)."""
    from skimage.color import rgb2lab

    arr = rgb.detach().permute(0, 2, 3, 1).cpu().double().numpy()
    lab = rgb2lab(np.clip(arr, 0.0, 1.0), channel_axis=-1)
    return torch.from_numpy(lab).float().permute(0, 3, 1, 2).to(rgb.device)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] (B, 3, H, W) -> CIELAB (B, 3, H, W), L in [0, 100], a*b* roughly in [-128, 127]."""
    return _rgb_to_lab(rgb)


def _lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIELAB (B, 3, H, W) -> RGB in [0, 1] (B, 3, H, W) (scikit-image, D65, out-of-gamut clipped)."""
    from skimage.color import lab2rgb

    arr = lab.detach().permute(0, 2, 3, 1).cpu().double().numpy()
    rgb = lab2rgb(arr, channel_axis=-1)
    return torch.from_numpy(np.clip(rgb, 0.0, 1.0)).float().permute(0, 3, 1, 2).to(lab.device)


def rgb_to_chroma(rgb: torch.Tensor) -> torch.Tensor:
    """RGB in [0, 1] (B, 3, H, W) -> BT.601 chroma (Cb, Cr) in [-0.5, 0.5], (B, 2, H, W)."""
    y = luminance(rgb)
    return torch.cat([(rgb[:, 2:3] - y) / CB_SCALE, (rgb[:, 0:1] - y) / CR_SCALE], dim=1)


def ycbcr_to_rgb(y: torch.Tensor, chroma: torch.Tensor) -> torch.Tensor:
    """Luma (B, 1, H, W) in [0, 1] and chroma (B, 2, H, W) -> RGB (B, 3, H, W), clipped to [0, 1]."""
    r = y + CR_SCALE * chroma[:, 1:2]
    b = y + CB_SCALE * chroma[:, 0:1]
    g = (y - LUMA[0] * r - LUMA[2] * b) / LUMA[1]
    return torch.cat([r, g, b], dim=1).clamp(0.0, 1.0)


def gray_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Repeat a 1-channel image to 3 channels; 3-channel images pass through. (B, C, H, W) -> (B, 3, H, W)."""
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


@dataclass(frozen=True)
class Task:
    """A mapping from image batches to model inputs and targets, and from outputs back to pictures."""

    name: str
    data_channels: int
    color_space: str = "rgb"
    chroma_scale: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in ("reconstruct", "colorize"):
            raise VQLabError(f"unknown task {self.name!r} (choose from reconstruct, colorize)")
        if self.name == "colorize" and self.data_channels != 3:
            raise VQLabError("the colorize task needs colour images; this dataset is grayscale")
        if self.color_space not in COLOR_SPACES:
            raise VQLabError(f"unknown color space {self.color_space!r} (choose from {', '.join(COLOR_SPACES)})")
        if not 0.0 <= self.chroma_scale <= 1.0:
            raise VQLabError(f"chroma_scale must lie in [0, 1], got {self.chroma_scale}")
        if self.chroma_scale != 1.0 and not self.predicts_chroma:
            raise VQLabError("chroma_scale applies only to colorize tasks that predict the colour (ycbcr, lab)")

    @property
    def predicts_chroma(self) -> bool:
        """True for colorize tasks whose model predicts only the colour (ycbcr, lab) and keeps the input's luma."""
        return self.name == "colorize" and self.color_space != "rgb"

    @property
    def in_channels(self) -> int:
        return 1 if self.name == "colorize" else self.data_channels

    @property
    def out_channels(self) -> int:
        if self.name == "reconstruct":
            return self.data_channels
        return 3 if self.color_space == "rgb" else 2

    def inputs_from_unit(self, rgb: torch.Tensor) -> torch.Tensor:
        """Model input from images in [0, 1]. (B, C, H, W) -> (B, in_channels, H, W)."""
        if self.name == "reconstruct":
            return rgb - 0.5
        if self.color_space == "lab":
            return _rgb_to_lab(luminance(rgb).expand(-1, 3, -1, -1))[:, :1] / 100.0 - 0.5
        return luminance(rgb) - 0.5

    def prepare(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (B, C, H, W) -> (inputs (B, in_channels, H, W), targets (B, out_channels, H, W)), float32."""
        unit = to_unit(batch)
        inputs = self.inputs_from_unit(unit)
        if self.name == "colorize" and self.color_space == "lab":
            targets = _rgb_to_lab(unit)[:, 1:] / AB_SCALE
        elif self.name == "colorize" and self.color_space == "ycbcr":
            targets = rgb_to_chroma(unit)
        else:
            targets = unit - 0.5
        return inputs, targets

    def output_to_rgb(self, output: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Model output -> displayable image in [0, 1], (B, 3, H, W) (1-channel data stays gray).

        Predicted colour (ycbcr, lab) is multiplied by ``chroma_scale`` first."""
        output = output.float()
        if self.chroma_scale != 1.0:
            output = output * self.chroma_scale
        if self.name == "colorize" and self.color_space == "lab":
            lightness = (inputs.float() + 0.5) * 100.0
            return _lab_to_rgb(torch.cat([lightness, output * AB_SCALE], dim=1))
        if self.name == "colorize" and self.color_space == "ycbcr":
            return ycbcr_to_rgb(inputs.float() + 0.5, output)
        return gray_to_rgb((output + 0.5).clamp(0.0, 1.0))

    def input_to_rgb(self, inputs: torch.Tensor) -> torch.Tensor:
        """Model input -> displayable image in [0, 1], (B, 3, H, W)."""
        if self.name == "colorize" and self.color_space == "lab":
            lightness = (inputs.float() + 0.5) * 100.0
            zeros = torch.zeros_like(lightness).expand(-1, 2, -1, -1)
            return _lab_to_rgb(torch.cat([lightness, zeros], dim=1))
        return gray_to_rgb((inputs.float() + 0.5).clamp(0.0, 1.0))
