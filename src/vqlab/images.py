"""Pictures in and out: the one way a file, PIL image, array or tensor becomes uint8 pixels, and back.

Every command and the Python API read images through :func:`to_uint8_tensor` (files through
:func:`load_image_file`), bring them to a multiple of the model's downsampling factor with
:func:`pad_to_multiple`, cut results back with :func:`crop`, and write them with :func:`save_image`.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write

ImageLike = Image.Image | np.ndarray | torch.Tensor | str | os.PathLike
"""A PIL image (any mode), a uint8 array (H, W) or (H, W, C), a uint8 tensor (C, H, W) or (H, W), or a path."""



def image_extensions() -> frozenset[str]:
    """Lower-case file extensions (".png", ".jpg", ...) that PIL can open."""
    return frozenset(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)


def to_rgb(im: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB: transparency over white, 16-bit and float images scaled to 8-bit."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im).astype(np.int64)
        shift = 8 if im.mode.startswith("I;16") or arr.max(initial=0) > 255 else 0
        im = Image.fromarray(np.clip(arr >> shift, 0, 255).astype(np.uint8), mode="L")
    elif im.mode == "F":
        im = Image.fromarray(np.clip(np.asarray(im), 0, 255).astype(np.uint8), mode="L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode in ("P", "L", "RGB") and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")


def load_image_file(path: str | os.PathLike[str]) -> Image.Image:
    """Open one image file of any size as a fully loaded RGB PIL image.

    EXIF orientation is applied; transparent pixels are put over white. Raises :class:`VQLabError` naming
    the file when it is missing, not a file, or not a readable image.
    """
    p = Path(path).expanduser()
    if not p.exists():
        raise VQLabError(f"image file not found: {p}")
    if not p.is_file():
        raise VQLabError(f"not an image file: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            return to_rgb(im)
    except VQLabError:
        raise
    # PIL raises OSError, SyntaxError, ValueError, DecompressionBombError, struct.error, ...
    except Exception as exc:  # noqa: BLE001
        raise VQLabError(f"cannot read image {p}: {exc.__class__.__name__}: {exc}") from None


def _array_to_pil(arr: np.ndarray, what: str) -> Image.Image:
    if arr.dtype != np.uint8:
        raise VQLabError(f"an image {what} must hold uint8 pixels (0..255), not {arr.dtype}; convert floats in "
                         f"[0, 1] with (x * 255).round() first")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise VQLabError(f"an image {what} must have shape (H, W) or (H, W, C) with C in 1, 3, 4; "
                         f"got {tuple(arr.shape)}")
    return Image.fromarray(np.ascontiguousarray(arr))  # (H, W): L, (H, W, 3): RGB, (H, W, 4): RGBA


def to_pil(image: ImageLike) -> Image.Image:
    """Any supported image (see :data:`ImageLike`) as an RGB PIL image. Bad input raises VQLabError.

    Arrays are (H, W) or (H, W, C); tensors are (C, H, W) or (H, W), both uint8; C is 1, 3 or 4 (alpha over white).
    """
    if isinstance(image, Image.Image):
        pil = to_rgb(image)
    elif isinstance(image, (str, os.PathLike)):
        pil = load_image_file(image)
    elif isinstance(image, np.ndarray):
        pil = to_rgb(_array_to_pil(image, "array"))
    elif isinstance(image, torch.Tensor):
        t = image.detach().cpu()
        if t.dim() == 3:
            t = t.permute(1, 2, 0)
        pil = to_rgb(_array_to_pil(t.numpy(), "tensor"))
    else:
        raise VQLabError(f"cannot read an image from a {type(image).__name__} (give a path, a PIL image, or a uint8 "
                         f"array or tensor)")
    if pil.width < 1 or pil.height < 1:
        raise VQLabError("the image is empty (0 pixels)")
    return pil


def to_uint8_tensor(image: ImageLike, channels: int) -> torch.Tensor:
    """Any supported image as a uint8 tensor (channels, H, W); ``channels`` 1 is Rec. 601 luma (PIL's "L")."""
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, not {channels}")
    pil = to_pil(image)
    arr = np.asarray(pil.convert("L") if channels == 1 else pil, dtype=np.uint8)
    arr = arr[:, :, None] if arr.ndim == 2 else arr
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad a batch (B, C, H, W) at the bottom and right to (B, C, H', W'), H' and W' multiples of ``multiple``.

    Reflect padding where the image is large enough, else edge replication. Undo with :func:`crop`.
    """
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if not (pad_h or pad_w):
        return x
    mode = "reflect" if h > pad_h and w > pad_w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def crop(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The top-left (h, w) = ``size`` of images (..., H', W'): undoes :func:`pad_to_multiple`."""
    return x[..., : size[0], : size[1]]


def tensor_to_pil(rgb: torch.Tensor) -> Image.Image:
    """(3, H, W) floats in [0, 1] as an RGB PIL image."""
    arr = rgb.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr)


def output_format(path: str | os.PathLike[str]) -> str:
    """The PIL format an image written to ``path`` gets from its extension; VQLabError if none can be written."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None or fmt not in Image.SAVE:
        raise VQLabError(f"cannot tell the image format of {path} from its extension (use .png or .jpg)")
    return fmt


def save_image(path: str | os.PathLike[str], image: Image.Image | torch.Tensor) -> None:
    """Write a PIL image or (3, H, W) floats in [0, 1] to ``path`` atomically; the format follows the extension."""
    path = Path(path)
    pil = image if isinstance(image, Image.Image) else tensor_to_pil(image)
    fmt = output_format(path)
    try:
        atomic_write(path, lambda p: pil.save(p, format=fmt))
    except (OSError, ValueError, KeyError) as exc:
        raise VQLabError(f"cannot write {path}: {exc}") from None
