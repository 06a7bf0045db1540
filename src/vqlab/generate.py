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
from vqlab.models.base import LatentModel
from vqlab.train.run import LoadedRun

MASK_MODES = ("left-right", "top-bottom", "checker")
MIX_MODES = (*MASK_MODES, "interpolate", "mask:FILE")


def _require_reconstruct(run: LoadedRun, what: str) -> None:
    if run.task.name != "reconstruct":
        raise VQLabError(f"{what} needs a run trained on the reconstruct task; {run.run_dir} is a "
                         f"{run.task.name} run")


def latent_grid(run: LoadedRun) -> tuple[int, int]:
    """The (h, w) latent grid of the run's training images (image size / 4)."""
    size = run.config.data.image_size
    if size is None:
        from vqlab.data import load_dataset

        d = run.config.data
        size = load_dataset(d.dataset, root=d.root, image_size=None, download=False).image_size[0]
    return size // 4, size // 4


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

    from vqlab.data.base import load_image_file

    gray = load_image_file(path).convert("L").resize((w, h), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(gray) >= 128)


@torch.no_grad()
def mix_latents(model: LatentModel, xa: torch.Tensor, xb: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Decode image A's latents where ``mask`` (h, w) is True and B's elsewhere. x: (1, C, H, W) model inputs."""
    return model.decode(model.mix(model.encode(xa), model.encode(xb), mask))


@torch.no_grad()
def interpolate_latents(model: LatentModel, xa: torch.Tensor, xb: torch.Tensor, steps: int) -> torch.Tensor:
    """Decoded images at ``steps`` evenly spaced points from A's latent (t=0) to B's (t=1): (steps, C, H, W)."""
    return model.decode(model.interpolate(xa, xb, torch.linspace(0.0, 1.0, steps)))


def load_pair(run: LoadedRun, a: Path, b: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Images A and B as uint8 (1, C, H, W) of one size: B is resized to A's size, both cropped to multiples of 4."""
    from PIL import Image

    from vqlab.data.base import load_image_file

    ima, imb = load_image_file(a), load_image_file(b)
    if imb.size != ima.size:
        imb = imb.resize(ima.size, Image.Resampling.LANCZOS)
    w, h = (ima.size[0] // 4) * 4, (ima.size[1] // 4) * 4
    if w < 4 or h < 4:
        raise VQLabError(f"{a} is too small to encode (at least 4x4 pixels)")
    out = []
    for im in (ima, imb):
        im = im.convert("L") if run.task.data_channels == 1 else im
        arr = np.asarray(im, dtype=np.uint8)[:h, :w]
        arr = arr[:, :, None] if arr.ndim == 2 else arr
        out.append(torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0))
    return out[0], out[1]


@torch.no_grad()
def mix_images(run: LoadedRun, a: Path, b: Path, mode: str, steps: int = 8) -> np.ndarray:
    """The picture ``vqlab mix`` writes: A | mix(es) | B (mask modes add a row: recon A | mask | recon B)."""
    _require_reconstruct(run, "mixing")
    if steps < 2 and mode == "interpolate":
        raise VQLabError("--steps must be >= 2")
    model = run.model
    device = next(model.parameters()).device
    ua, ub = load_pair(run, a, b)
    xa, xb = (run.task.prepare(u)[0].to(device) for u in (ua, ub))
    to_rgb = run.task.output_to_rgb
    rgb_a, rgb_b = run.task.input_to_rgb(xa.cpu()), run.task.input_to_rgb(xb.cpu())
    scale = max(1, 128 // max(xa.shape[-2:]))
    if mode == "interpolate":
        mixes = to_rgb(interpolate_latents(model, xa, xb, steps).float().cpu(), xa.cpu())
        return make_grid([torch.cat([rgb_a, mixes, rgb_b])], scale=scale)
    h, w = xa.shape[-2] // 4, xa.shape[-1] // 4
    mask = grid_mask(mode, h, w)
    mixed = to_rgb(mix_latents(model, xa, xb, mask).float().cpu(), xa.cpu())
    recon_a = to_rgb(mix_latents(model, xa, xb, torch.ones(h, w, dtype=torch.bool)).float().cpu(), xa.cpu())
    recon_b = to_rgb(mix_latents(model, xa, xb, torch.zeros(h, w, dtype=torch.bool)).float().cpu(), xa.cpu())
    mask_img = mask.float().repeat_interleave(4, 0).repeat_interleave(4, 1).expand(1, 3, -1, -1)
    return make_grid([torch.cat([rgb_a, mixed, rgb_b]), torch.cat([recon_a, mask_img, recon_b])], scale=scale)
