"""The Python face of a trained model: ``vqlab.load(run) -> Model`` with encode, decode, reconstruct, colorize,
sample and mix, as direct as the command line.

Images go in as a path, a PIL image, a uint8 array (H, W) or (H, W, C), or a uint8 tensor (C, H, W), of any size;
they come out as RGB PIL images of the input's size. One image in gives one result; a list gives a list.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from vqlab.errors import VQLabError
from vqlab.generate import mix_pair, sample_images
from vqlab.images import ImageLike, tensor_to_pil, to_uint8_tensor
from vqlab.inference import DEFAULT_TILE, decode_latents, encode_image, input_channels, require_task, transform_image
from vqlab.train.device import default_device, resolve_precision
from vqlab.train.run import LoadedRun, load_run

__all__ = ["Model", "load"]

Latents = np.ndarray | torch.Tensor


def _device(device: torch.device | str | None) -> torch.device:
    if device is None:
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise VQLabError(f"unknown device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VQLabError(f"device {device!r} asked for, but CUDA is not available on this machine")
    return dev


def _run_dir(run_or_name: str | os.PathLike[str]) -> Path:
    """The run directory of ``run_or_name``: a path, or the name of a shipped model (``vqlab models``)."""
    from vqlab import shipped

    if not isinstance(run_or_name, (str, os.PathLike)):
        raise VQLabError(f"vqlab.load expects a run directory or a shipped model's name, not a "
                         f"{type(run_or_name).__name__}")
    return shipped.resolve(run_or_name)


def load(run_or_name: str | os.PathLike[str], device: torch.device | str | None = None, *,
         checkpoint: str = "latest", chroma_scale: float | None = None,
         chroma_temperature: float | None = None) -> Model:
    """Load a trained run for inference, in eval mode.

    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... (default: CUDA when available, else the CPU).
    ``checkpoint``: ``"latest"`` (the newest, default) or ``"best"`` (the best validation PSNR; runs trained on
    data with a val split, such as photos-wide). ``chroma_scale`` (colorize runs that predict the colour): gain on
    the predicted colour from 0 (gray) to 1; default: the run's own (fitted on validation data with
    ``--chroma-shrink``, else 1). ``chroma_temperature`` (``--likelihood chroma-bins`` runs): the temperature of
    the annealed mean, from 1 (the mean: safest) towards 0 (the mode: most colourful); default: the run's own.
    Raises VQLabError for a folder that is not a run, a run without that checkpoint, or an unusable device.
    """
    dev = _device(device)
    return Model(load_run(_run_dir(run_or_name), dev, checkpoint=checkpoint, chroma_scale=chroma_scale,
                          chroma_temperature=chroma_temperature))


def _latent_tensor(z: Any) -> torch.Tensor:
    if isinstance(z, torch.Tensor):
        return z.detach().cpu()
    try:
        return torch.as_tensor(np.asarray(z))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise VQLabError(f"latents must be a numeric array as encode returns it: {exc}") from None


def _is_batch(x: Any) -> bool:
    return isinstance(x, (list, tuple))


def _one_or_many(inputs: Any, fn: Any) -> Any:
    """``fn(x)`` for one input, ``[fn(x) for x in inputs]`` for a list or tuple of them."""
    return [fn(x) for x in inputs] if _is_batch(inputs) else fn(inputs)


class Model:
    """A trained run ready for inference (build it with :func:`vqlab.load`).

    Attributes: ``config`` (the run's :class:`vqlab.Config`), ``task`` (``"reconstruct"`` or ``"colorize"``),
    ``step`` (training step of the checkpoint), ``device``, ``run_dir``, ``module`` (the plain PyTorch model) and
    ``run`` (the underlying :class:`vqlab.train.run.LoadedRun`).
    """

    def __init__(self, run: LoadedRun) -> None:
        self.run = run
        self.device = next(run.model.parameters()).device
        self._dtype = resolve_precision(run.config.train.precision, self.device)

    @property
    def config(self) -> Any:
        return self.run.config

    @property
    def task(self) -> str:
        return self.run.task.name

    @property
    def step(self) -> int:
        return self.run.step

    @property
    def run_dir(self) -> Path:
        return self.run.run_dir

    @property
    def module(self) -> torch.nn.Module:
        return self.run.model

    @property
    def discrete(self) -> bool:
        """True when latents are code maps (VQ-VAE, VIMCO), False for the continuous Gaussian VAE."""
        return bool(self.run.model.discrete)

    def __repr__(self) -> str:
        return (f"vqlab.Model({str(self.run_dir)!r}, model={self.config.model.name}, task={self.task}, "
                f"step={self.step}, device={self.device})")

    def _pixels(self, image: ImageLike) -> torch.Tensor:
        return to_uint8_tensor(image, input_channels(self.run))

    def encode(self, images: ImageLike | Sequence[ImageLike]) -> np.ndarray | list[np.ndarray]:
        """Latents of an image, or a list for a list of images (any size).

        Discrete models (VQ-VAE, VIMCO): an (h, w) int64 code map (residual VQ: (N, h, w), one map per codebook);
        the Gaussian VAE: its posterior mean, a (D, h, w) float32 array. h = ceil(H / 4), w = ceil(W / 4) for an H x W image (4: the downsampling factor).
        Encoded in float32, so the codes are the ones ``vqlab encode`` stores and ``vqlab prior`` trains on.
        """
        return _one_or_many(images, lambda im: encode_image(self.run, self._pixels(im)).numpy())

    def decode(self, codes: Latents | Sequence[Latents],
               size: tuple[int, int] | None = None) -> Image.Image | list[Image.Image]:
        """Images of latents as :meth:`encode` returns them (one map, a batch array, or a list of maps).

        A single (h, w) code map (VQ), (n, h, w) maps of a residual VQ (its first n <= N codebooks: coarser for
        smaller n) or (D, h, w) array (VAE) gives one image of 4h x 4w pixels; a batch array (B, h, w) /
        (B, D, h, w) or a list gives a list. ``size`` = (width, height), like PIL's ``Image.size``,
        crops the result(s) to the size of the image that was encoded.
        """
        def one(z: Latents) -> Image.Image:
            pil = tensor_to_pil(decode_latents(self.run, _latent_tensor(z), self._dtype))
            return pil.crop((0, 0, size[0], size[1])) if size is not None else pil

        if not _is_batch(codes):
            single_dims = 2 if self.discrete and self.run.model.num_codebooks == 1 else 3
            arr = _latent_tensor(codes)
            if arr.dim() == single_dims + 1:
                return [one(z) for z in arr]
        return _one_or_many(codes, one)

    def _transform(self, images: ImageLike | Sequence[ImageLike], task: str,
                   tile: int) -> Image.Image | list[Image.Image]:
        require_task(self.run, task)
        return _one_or_many(images, lambda im: tensor_to_pil(
            transform_image(self.run, self._pixels(im), self._dtype, tile=tile)))

    def reconstruct(self, images: ImageLike | Sequence[ImageLike], *,
                    tile: int = DEFAULT_TILE) -> Image.Image | list[Image.Image]:
        """The model's reconstruction of an image (or of each of a list), the input's size (reconstruct runs).

        Images with a side over ``tile`` pixels are processed in overlapping tiles (bounded memory, no seams);
        ``tile=0``: whole images at once.
        """
        return self._transform(images, "reconstruct", tile)

    def colorize(self, images: ImageLike | Sequence[ImageLike], *,
                 tile: int = DEFAULT_TILE) -> Image.Image | list[Image.Image]:
        """Colour version of a grayscale (or colour) image, or of each of a list, the input's size (colorize runs).

        Colour inputs are reduced to their luminance first. Images with a side over ``tile`` pixels are processed
        in overlapping tiles (bounded memory, no seams); ``tile=0``: whole images at once.
        """
        return self._transform(images, "colorize", tile)

    def sample(self, n: int = 1, *, temperature: float = 1.0, seed: int = 0) -> list[Image.Image]:
        """``n`` new images from the run's prior, of the training images' size. Same seed, same images.

        VQ-VAE: ancestral sampling from its PixelCNN prior (train one with ``vqlab prior RUN``); Gaussian VAE:
        z ~ N(0, I) scaled by ``temperature``; VIMCO: codes from its uniform prior. Reconstruct runs only.
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise VQLabError(f"n must be an integer, not {n!r}")
        images = sample_images(self.run, n, temperature=temperature, seed=seed)
        return [tensor_to_pil(im) for im in images]

    def mix(self, a: ImageLike | Sequence[ImageLike], b: ImageLike | Sequence[ImageLike], mode: str = "left-right",
            steps: int = 8) -> Image.Image | list[Image.Image] | list[Any]:
        """Mix the latents of image A and image B (B is resized to A's size; the result has A's size).

        ``mode``: ``left-right``, ``top-bottom``, ``checker`` or ``mask:FILE`` (white takes A) splice the two latent
        maps and give one image; ``interpolate`` gives a list of ``steps`` images from A to B (both ends included).
        Lists of A and B of equal length give a list of those results. Reconstruct runs only.
        """
        def one(pair: tuple[ImageLike, ImageLike]) -> Image.Image | list[Image.Image]:
            pictures = [tensor_to_pil(im) for im in mix_pair(self.run, pair[0], pair[1], mode, steps)]
            return pictures if mode == "interpolate" else pictures[0]

        if _is_batch(a) != _is_batch(b) or (_is_batch(a) and len(a) != len(b)):
            raise VQLabError("mix takes two images, or two lists of images of equal length")
        return [one(pair) for pair in zip(a, b)] if _is_batch(a) else one((a, b))
