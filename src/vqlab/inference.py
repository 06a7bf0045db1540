"""Whole-image inference with a trained run: colorize, reconstruct, encode to latents and decode, any image size.

Images are padded to a multiple of the model's downsampling factor (:func:`downsample_factor`) and results
cropped back, so outputs have the input's size.
"""

from __future__ import annotations

import torch

from vqlab.errors import VQLabError
from vqlab.eval.metrics import autocast_context
from vqlab.images import crop, pad_to_multiple
from vqlab.models.base import LatentModel
from vqlab.train.run import LoadedRun

__all__ = ["DEFAULT_TILE", "context_margin", "decode_latents", "downsample_factor", "encode_image", "input_channels",
           "require_task", "transform_image"]


def downsample_factor(model: LatentModel) -> int:
    """How many pixels one latent position covers along each side (the model's ``downsample``)."""
    return int(model.downsample)


def _device(run: LoadedRun) -> torch.device:
    return next(run.model.parameters()).device


def _padded_inputs(run: LoadedRun, image: torch.Tensor) -> torch.Tensor:
    """uint8 (C, H, W) -> model inputs (1, in_channels, H', W') on the CPU, padded to the downsampling factor."""
    unit = image.float().div(255.0).unsqueeze(0)
    return pad_to_multiple(run.task.inputs_from_unit(unit), downsample_factor(run.model))


DEFAULT_TILE = 1024
"""Side in pixels of the square tiles large images are processed in (:func:`transform_image`); 0: never tile."""


def context_margin(run: LoadedRun) -> int:
    """Pixels of context a tile reads beyond each side of the part of the output it keeps.

    (2 R + 5) latent positions for R residual blocks (72 px at the paper's R=2 and factor 4): more than the radius
    of the encoder + decoder's receptive field, f (2 R + 3) - 1 px (tests/test_inference.py measures it), so a tiled
    result equals the untiled one up to floating-point rounding.
    """
    return downsample_factor(run.model) * (2 * run.config.model.num_res_blocks + 5)


def _tiles(size: int, tile: int) -> list[tuple[int, int]]:
    """Cut 0..size into consecutive (start, stop) spans of ``tile`` (the last may be shorter)."""
    return [(start, min(start + tile, size)) for start in range(0, size, tile)]


@torch.no_grad()
def transform_image(run: LoadedRun, image: torch.Tensor, dtype: torch.dtype | None = None,
                    tile: int = DEFAULT_TILE) -> torch.Tensor:
    """Run one uint8 image (C, H, W) of any size through the run's model (colorize or reconstruct).

    The image is padded (reflect) to a multiple of the downsampling factor and the result cropped back, so the
    output has the input's size. Returns (3, H, W) float in [0, 1].

    An image with a side longer than ``tile`` pixels is processed in tiles of ``tile`` x ``tile`` output pixels
    (rounded down to the downsampling factor), each read with :func:`context_margin` pixels of context around it,
    so the activations held at once are bounded by one tile's; the result matches whole-image inference up to
    rounding, without seams. ``tile=0`` processes the whole image at once.
    """
    if tile < 0:
        raise VQLabError(f"tile must be 0 (no tiling) or a positive number of pixels, not {tile}")
    device, model, f = _device(run), run.model, downsample_factor(run.model)
    inputs = _padded_inputs(run, image)
    height, width = inputs.shape[-2:]
    side = max(f, tile - tile % f)
    if tile == 0 or max(height, width) <= side:
        x = inputs.to(device).contiguous(memory_format=torch.channels_last)
        with autocast_context(device, dtype):
            output = model.decode(model.encode(x))
        return crop(run.task.output_to_rgb(output.float().cpu(), inputs)[0], image.shape[-2:])
    margin = context_margin(run)
    rgb = torch.empty(3, height, width)
    for y0, y1 in _tiles(height, side):
        for x0, x1 in _tiles(width, side):
            top, left = max(0, y0 - margin), max(0, x0 - margin)
            window = inputs[..., top:min(height, y1 + margin), left:min(width, x1 + margin)]
            x = window.to(device).contiguous(memory_format=torch.channels_last)
            with autocast_context(device, dtype):
                output = model.decode(model.encode(x))
            out = run.task.output_to_rgb(output.float().cpu(), window)[0]
            rgb[:, y0:y1, x0:x1] = out[:, y0 - top:y1 - top, x0 - left:x1 - left]
    return crop(rgb, image.shape[-2:])


@torch.no_grad()
def encode_image(run: LoadedRun, image: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Latents of one uint8 image (C, H, W) of any size, on the CPU.

    Discrete models (VQ-VAE, VIMCO): the (h, w) int64 code map ((N, h, w) with N codebooks, residual VQ);
    continuous (Gaussian VAE): the posterior mean (D, h, w) float32; h = ceil(H / f), w = ceil(W / f) with f the
    downsampling factor.
    """
    model, device = run.model, _device(run)
    x = _padded_inputs(run, image).to(device)
    with autocast_context(device, dtype):
        latents = model.encode(x)[0].cpu()
    return latents if model.discrete else latents.float()


def _check_latents(model: LatentModel, latents: torch.Tensor) -> torch.Tensor:
    """Validate one latent map for ``model`` and return it as a batch of one."""
    if model.discrete:
        n = model.num_codebooks
        shape = "(h, w)" if n == 1 else f"(n, h, w) with 1 <= n <= {n} codebooks"
        if (latents.dim() != (2 if n == 1 else 3) or latents.dtype.is_floating_point or latents.dtype == torch.bool
                or (n > 1 and not 1 <= latents.shape[0] <= n)):
            raise VQLabError(f"codes must be an {shape} integer code map, got {latents.dtype} {tuple(latents.shape)}")
        k = model.num_codes
        if latents.numel() and (int(latents.min()) < 0 or int(latents.max()) >= k):
            raise VQLabError(f"codes must lie in 0..{k - 1} (this model has K={k})")
        latents = latents.long()
    else:
        dim = getattr(model, "latent_dim", None)
        if latents.dim() != 3 or (dim is not None and latents.shape[0] != dim):
            raise VQLabError(f"latents must be a (D, h, w) map with D={dim}, got {tuple(latents.shape)}")
        latents = latents.float()
    if latents.numel() == 0:
        raise VQLabError("the latent map is empty")
    return latents.unsqueeze(0)


@torch.no_grad()
def decode_latents(run: LoadedRun, latents: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Image of one latent map as :func:`encode_image` returns it: (3, f*h, f*w) float in [0, 1].

    Not for colorize runs that predict only the colour (ycbcr, lab): their output needs the input's luminance.
    """
    if run.task.name == "colorize" and run.task.color_space != "rgb":
        raise VQLabError(f"run {run.run_dir} predicts only the colour ({run.task.color_space}), so its latents "
                         f"cannot be decoded without the gray input; use colorize on the image instead")
    device = _device(run)
    z = _check_latents(run.model, torch.as_tensor(latents)).to(device)
    with autocast_context(device, dtype):
        out = run.model.decode(z).float().cpu()
    return run.task.output_to_rgb(out, out)[0]


def require_task(run: LoadedRun, task: str) -> None:
    """Refuse a run trained for another task than ``task`` (colorize or reconstruct) with a VQLabError."""
    if run.task.name != task:
        raise VQLabError(f"run {run.run_dir} was trained for the {run.task.name} task; use {run.task.name} "
                         f"('vqlab {run.task.name}') instead of {task}")


def input_channels(run: LoadedRun) -> int:
    """Channels an input image is read with: the data's channels for reconstruct, RGB for colorize."""
    return run.task.data_channels if run.task.name == "reconstruct" else 3
