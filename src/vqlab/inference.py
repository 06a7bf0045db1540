"""Whole-image inference with a trained run: colorize or reconstruct a picture of any size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vqlab.data.base import load_image_file
from vqlab.errors import VQLabError
from vqlab.eval.metrics import autocast_context
from vqlab.fileio import atomic_write
from vqlab.train.device import default_device, resolve_precision
from vqlab.train.run import LoadedRun, load_run


@torch.no_grad()
def transform_image(run: LoadedRun, image: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Run one uint8 image (C, H, W) of any size through the run's model.

    The image is padded (reflect) to a multiple of 4 and the result cropped back, so the output has the input's
    size. Returns (3, H, W) float in [0, 1].
    """
    device = next(run.model.parameters()).device
    _, h, w = image.shape
    unit = image.float().div(255.0).unsqueeze(0)
    inputs = run.task.inputs_from_unit(unit)
    pad_h, pad_w = (-h) % 4, (-w) % 4
    if pad_h or pad_w:
        mode = "reflect" if h > pad_h and w > pad_w else "replicate"
        inputs = F.pad(inputs, (0, pad_w, 0, pad_h), mode=mode)
    inputs = inputs.to(device).contiguous(memory_format=torch.channels_last)
    with autocast_context(device, dtype):
        output = run.model.decode(run.model.encode(inputs))
    rgb = run.task.output_to_rgb(output.float().cpu(), inputs.cpu())
    return rgb[0, :, :h, :w]


def _image_tensor(path: Path, channels: int) -> torch.Tensor:
    im = load_image_file(path)
    if channels == 1:
        im = im.convert("L")
    arr = np.asarray(im, dtype=np.uint8)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def save_image(path: Path, rgb: torch.Tensor) -> None:
    """Write (3, H, W) floats in [0, 1] to ``path``; the format follows the file extension."""
    from PIL import Image

    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise VQLabError(f"cannot tell the image format of {path} from its extension (use .png or .jpg)")
    arr = rgb.clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    try:
        atomic_write(path, lambda p: Image.fromarray(arr).save(p, format=fmt))
    except (OSError, ValueError, KeyError) as exc:
        raise VQLabError(f"cannot write {path}: {exc}") from None


def transform_image_file(run_dir: Path, image_path: Path, output_path: Path, expect_task: str) -> None:
    """Load a run and an image file, colorize or reconstruct it, write the result (same size as the input)."""
    device = default_device()
    run = load_run(run_dir, device)
    if run.task.name != expect_task:
        raise VQLabError(f"run {run_dir} was trained for the {run.task.name} task; use 'vqlab {run.task.name}'")
    channels = run.task.data_channels if run.task.name == "reconstruct" else 3
    image = _image_tensor(image_path, channels)
    dtype = resolve_precision(run.config.train.precision, device)
    save_image(output_path, transform_image(run, image, dtype))
