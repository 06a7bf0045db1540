"""New images from trained runs: sampling from a model's prior and mixing the latents of two images.

- Sampling: VQ-VAE codes by ancestral sampling from its PixelCNN prior (``vqlab prior``), Gaussian VAE latents
  z ~ N(0, I) (scaled by the temperature), VIMCO codes from its uniform categorical prior.
- Mixing: splice the latent maps of two images by a mask on the latent grid and decode (VQ-VAE and VIMCO: code
  maps; VAE: posterior means), or ``interpolate`` linearly between the two latents: in the encoder's
  pre-quantization space for the VQ-VAE (each step quantized to the nearest codes), between the posterior
  log-probabilities for VIMCO (each step's mode decoded), between posterior means for the VAE.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from vqlab.errors import VQLabError
from vqlab.eval.samples import make_grid
from vqlab.images import ImageLike, crop, pad_to_multiple, to_pil, to_uint8_tensor
from vqlab.inference import downsample_factor
from vqlab.models.base import LatentModel
from vqlab.train.run import LoadedRun

MASK_MODES = ("left-right", "top-bottom", "checker")
MIX_MODES = (*MASK_MODES, "interpolate", "mask:FILE")


def _require_reconstruct(run: LoadedRun, what: str) -> None:
    if run.task.name != "reconstruct":
        raise VQLabError(f"{what} needs a run trained on the reconstruct task; {run.run_dir} is a "
                         f"{run.task.name} run")


def latent_grid(run: LoadedRun) -> tuple[int, int]:
    """The (h, w) latent grid of the run's training images (image size / downsampling factor).

    The image size is the one the run recorded; only old runs without it load their dataset to find it.
    """
    size = getattr(run, "image_size", None)
    if size is None and run.config.data.image_size is not None:
        size = (run.config.data.image_size,) * 2
    if size is None:
        from vqlab.data import load_dataset

        d = run.config.data
        size = load_dataset(d.dataset, root=d.root, image_size=None, download=False).image_size
    f = downsample_factor(run.model)
    return -(-size[0] // f), -(-size[1] // f)


@torch.no_grad()
def sample_images(run: LoadedRun, n: int, *, temperature: float = 1.0, seed: int = 0,
                  grid: tuple[int, int] | None = None) -> torch.Tensor:
    """``n`` new images from the run's prior, (n, 3, H, W) in [0, 1]. Same seed, same images (same device)."""
    _require_reconstruct(run, "sampling")
    if n < 1:
        raise VQLabError("-n must be >= 1")
    if not temperature > 0:
        raise VQLabError("--temperature must be > 0")
    model = run.model
    device = next(model.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    if model.prior == "learned":  # codes from the prior trained on them (vqlab prior)
        from vqlab.train.prior import load_prior

        prior = load_prior(run)
        grid = grid or tuple(prior.config["grid"])
        out = model.decode(prior.model.sample(n, grid, temperature=temperature, generator=gen, device=device))
    else:
        out = model.decode(model.sample_prior(n, grid or latent_grid(run), temperature=temperature,
                                              generator=gen).to(device))
    return run.task.output_to_rgb(out.float().cpu(), out.float().cpu())


def tile(images: torch.Tensor, columns: int | None = None, scale: int = 4) -> np.ndarray:
    """A grid picture of (N, 3, H, W) images in [0, 1], ``columns`` wide (default: about square)."""
    n = images.shape[0]
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    padded = torch.cat([images, torch.ones(rows * columns - n, *images.shape[1:])]) if rows * columns > n else images
    return make_grid(list(padded.view(rows, columns, *images.shape[1:])), scale=scale)


def grid_mask(mode: str, h: int, w: int) -> torch.Tensor:
    """(h, w) bool mask on the latent grid, True where the mix takes image A's latent."""
    ii, jj = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    if mode == "left-right":
        return jj < (w + 1) // 2
    if mode == "top-bottom":
        return ii < (h + 1) // 2
    if mode == "checker":
        block = max(1, min(h, w) // 4)
        return (ii // block + jj // block) % 2 == 0
    if mode.startswith("mask:"):
        return file_mask(Path(mode[5:]), h, w)
    raise VQLabError(f"unknown mix mode {mode!r} (choose from {', '.join(MIX_MODES)})")


def file_mask(path: Path, h: int, w: int) -> torch.Tensor:
    """A mask image (white: take A, black: take B) resized to the latent grid (h, w)."""
    from PIL import Image

    gray = to_pil(path).convert("L").resize((w, h), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(gray) >= 128)


@torch.no_grad()
def mix_latents(model: LatentModel, xa: torch.Tensor, xb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Decode image A's latents where ``mask`` (h, w) is True and B's elsewhere. x: (1, C, H, W) model inputs."""
    return model.decode(model.mix(model.encode(xa), model.encode(xb), mask))


@torch.no_grad()
def interpolate_latents(model: LatentModel, xa: torch.Tensor, xb: torch.Tensor, steps: int) -> torch.Tensor:
    """Decoded images at ``steps`` evenly spaced points from A's latent (t=0) to B's (t=1): (steps, C, H, W)."""
    return model.decode(model.interpolate(xa, xb, torch.linspace(0.0, 1.0, steps)))


def load_pair(run: LoadedRun, a: ImageLike, b: ImageLike) -> tuple[torch.Tensor, torch.Tensor]:
    """Images A and B as uint8 (1, C, H, W) of A's size (B is resized to it), C the run's data channels."""
    from PIL import Image

    ima, imb = to_pil(a), to_pil(b)
    if imb.size != ima.size:
        imb = imb.resize(ima.size, Image.Resampling.LANCZOS)
    return tuple(to_uint8_tensor(im, run.task.data_channels).unsqueeze(0) for im in (ima, imb))


def _pair_inputs(run: LoadedRun, a: ImageLike, b: ImageLike) -> tuple[torch.Tensor, torch.Tensor, tuple[int, int]]:
    """Model inputs of A and B (1, C_in, H', W') on the model's device, padded to the downsampling factor, and
    A's size (H, W) to crop results back to."""
    _require_reconstruct(run, "mixing")
    device = next(run.model.parameters()).device
    ua, ub = load_pair(run, a, b)
    f = downsample_factor(run.model)
    xa, xb = (pad_to_multiple(run.task.prepare(u)[0], f).to(device) for u in (ua, ub))
    return xa, xb, (int(ua.shape[-2]), int(ua.shape[-1]))


def _check_mix(mode: str, steps: int) -> None:
    if steps < 2 and mode == "interpolate":
        raise VQLabError("--steps must be >= 2")


@torch.no_grad()
def mix_pair(run: LoadedRun, a: ImageLike, b: ImageLike, mode: str, steps: int = 8) -> torch.Tensor:
    """The mixed image of A and B, (1, 3, H, W) in [0, 1] at A's size; ``interpolate``: (steps, 3, H, W)."""
    _check_mix(mode, steps)
    xa, xb, size = _pair_inputs(run, a, b)
    if mode == "interpolate":
        out = interpolate_latents(run.model, xa, xb, steps)
    else:
        f = downsample_factor(run.model)
        out = mix_latents(run.model, xa, xb, grid_mask(mode, xa.shape[-2] // f, xa.shape[-1] // f))
    return crop(run.task.output_to_rgb(out.float().cpu(), xa.cpu()), size)


@torch.no_grad()
def mix_images(run: LoadedRun, a: ImageLike, b: ImageLike, mode: str, steps: int = 8) -> np.ndarray:
    """The picture ``vqlab mix`` writes: A | mix(es) | B (mask modes add a row: recon A | mask | recon B).

    Any image size: the inputs are padded to a multiple of the downsampling factor and every picture cropped back.
    """
    _check_mix(mode, steps)
    xa, xb, size = _pair_inputs(run, a, b)
    model, f = run.model, downsample_factor(run.model)

    def to_rgb(out: torch.Tensor) -> torch.Tensor:
        return crop(run.task.output_to_rgb(out.float().cpu(), xa.cpu()), size)

    rgb_a, rgb_b = (crop(run.task.input_to_rgb(x.cpu()), size) for x in (xa, xb))
    scale = max(1, 128 // max(size))
    if mode == "interpolate":
        mixes = to_rgb(interpolate_latents(model, xa, xb, steps))
        return make_grid([torch.cat([rgb_a, mixes, rgb_b])], scale=scale)
    h, w = xa.shape[-2] // f, xa.shape[-1] // f
    mask = grid_mask(mode, h, w)
    mixed = to_rgb(mix_latents(model, xa, xb, mask))
    recon_a = to_rgb(mix_latents(model, xa, xb, torch.ones(h, w, dtype=torch.bool)))
    recon_b = to_rgb(mix_latents(model, xa, xb, torch.zeros(h, w, dtype=torch.bool)))
    mask_img = crop(mask.float().repeat_interleave(f, 0).repeat_interleave(f, 1).expand(1, 3, -1, -1), size)
    return make_grid([torch.cat([rgb_a, mixed, rgb_b]), torch.cat([recon_a, mask_img, recon_b])], scale=scale)
