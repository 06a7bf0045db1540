"""Images as VQ-VAE code indices: ``vqlab encode`` / ``vqlab decode`` on top of the .vqz format (codec.py).

``encode`` stores the code maps of any-size images (padded to a multiple of the model's downsampling factor like
``vqlab reconstruct``), reads the file back to check it, and compares with PNG (lossless) and JPEG at the lowest
quality whose PSNR is not below the VQ-VAE's (pooled over all images). Entropy coding with ``freq`` or ``prior``
needs ``vqlab prior`` first (the code-frequency table is the training split's histogram stored with the prior);
``context`` needs ``vqlab context-model`` (:mod:`vqlab.train.context`). Choosing among several runs trained for
different rates is :mod:`vqlab.rates`.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vqlab.codec import VQZ, EntropyModel, frequency_model, read_vqz, write_vqz
from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write
from vqlab.images import crop, to_uint8_tensor
from vqlab.inference import decode_latents, downsample_factor, encode_image
from vqlab.train.run import LoadedRun, run_fingerprint

MAX_PRIOR_CODES = 1024  # PixelCNN coding runs one network pass per code position


def load_images(run: LoadedRun, paths: list[Path]) -> list[np.ndarray]:
    """Image files as uint8 (H, W, C) arrays, C the run's data channels (1: converted to grayscale)."""
    out = []
    for p in paths:
        arr = to_uint8_tensor(p, run.task.data_channels).permute(1, 2, 0).numpy()
        if max(arr.shape[:2]) > 0xFFFF:
            raise VQLabError(f"{p} is larger than 65535 pixels on a side")
        out.append(arr)
    return out


def image_codes(run: LoadedRun, image: np.ndarray) -> np.ndarray:
    """Code map of one uint8 (H, W, C) image (float32), (ceil(H/F), ceil(W/F)) int64, F the downsampling factor."""
    return encode_image(run, torch.from_numpy(np.require(image, requirements="W")).permute(2, 0, 1)).numpy()


def decode_maps(run: LoadedRun, vqz: VQZ) -> list[np.ndarray]:
    """Decoded uint8 (H, W, C) images of a file's code maps (float32), cropped to the stored sizes."""
    out = []
    for codes, size in zip(vqz.maps, vqz.sizes):
        rgb = crop(decode_latents(run, torch.from_numpy(codes).long()), size)
        arr = rgb.mul(255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
        out.append(arr[:, :, :run.task.data_channels])
    return out


def entropy_model(run: LoadedRun, coding: str) -> EntropyModel:
    """The run's ``freq`` (training code histogram) or ``prior`` (PixelCNN) model, both from ``vqlab prior``, or its
    ``context`` model (``vqlab context-model``)."""
    from vqlab.train.prior import PRIOR_DIR, load_prior

    if coding not in ("freq", "prior", "context"):
        raise VQLabError(f"unknown entropy model {coding!r} (choose from context, prior, freq)")
    if coding == "context":
        from vqlab.train.context import load_context

        ctx = load_context(run)
        return EntropyModel("context", ctx.fingerprint, ctx.model.probabilities)
    if coding == "freq" and not (run.run_dir / PRIOR_DIR / "config.json").is_file():
        # The table could be counted from the training data, but then a decoder would need that data too.
        raise VQLabError(f"--entropy freq codes with the training split's code histogram, which 'vqlab prior "
                         f"{run.run_dir}' stores with the PixelCNN prior (decoding then needs only the run "
                         f"directory); train the prior first, or leave out --entropy")
    prior = load_prior(run)
    if coding == "freq":
        return frequency_model(prior.code_counts.numpy(), prior.fingerprint)
    net, device = prior.model, next(prior.model.parameters()).device

    @torch.no_grad()
    def probs(maps: np.ndarray, positions: np.ndarray) -> np.ndarray:
        if maps[0].size > MAX_PRIOR_CODES:
            raise VQLabError(f"--entropy prior codes one position per PixelCNN pass; a {maps.shape[1]}x"
                             f"{maps.shape[2]} code grid is too large (at most {MAX_PRIOR_CODES} codes): use "
                             f"--entropy context (one pass per anti-diagonal, 'vqlab context-model') or freq")
        logits = net(torch.from_numpy(maps).to(device)).logits[:, :, positions[:, 0], positions[:, 1]]
        return torch.softmax(logits.double(), dim=1).permute(0, 2, 1).cpu().numpy()

    return EntropyModel("prior", prior.fingerprint, probs)


def psnr(originals: list[np.ndarray], others: list[np.ndarray]) -> float:
    """PSNR in dB of the squared error pooled over all pixels of all images (uint8 arrays)."""
    sq = sum(float((((a.astype(np.float64) - b.astype(np.float64)) / 255.0) ** 2).sum())
             for a, b in zip(originals, others))
    mse = sq / sum(a.size for a in originals)
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def _pil(arr: np.ndarray):
    from PIL import Image

    return Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)


def _codec_bytes(arr: np.ndarray, fmt: str, **kw: Any) -> tuple[int, np.ndarray]:
    from PIL import Image

    buf = io.BytesIO()
    _pil(arr).save(buf, format=fmt, **kw)
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L" if arr.shape[2] == 1 else "RGB"))
    return len(buf.getvalue()), back.reshape(arr.shape)


def baselines(originals: list[np.ndarray], target_psnr: float) -> dict[str, Any]:
    """PNG (lossless) bytes, and JPEG bytes at the lowest quality whose pooled PSNR >= ``target_psnr``."""
    png = sum(_codec_bytes(a, "PNG", optimize=True)[0] for a in originals)
    result: dict[str, Any] = {"png_bytes": png, "jpeg_quality": None, "jpeg_bytes": None, "jpeg_psnr": None}
    for q in range(1, 101):
        coded = [_codec_bytes(a, "JPEG", quality=q) for a in originals]
        p = psnr(originals, [c[1] for c in coded])
        if p >= target_psnr:
            result.update(jpeg_quality=q, jpeg_bytes=sum(c[0] for c in coded), jpeg_psnr=p)
            break
    return result


def check_codec_run(run: LoadedRun, what: str) -> None:
    """Refuse runs whose codes a .vqz file cannot hold: not a VQ-VAE, not reconstruct, several code maps."""
    from vqlab.train.prior import require_vqvae

    require_vqvae(run, what)
    if run.task.name != "reconstruct":
        raise VQLabError(f"{what} needs a reconstruct run; {run.run_dir} is a {run.task.name} run")
    if run.model.num_codebooks != 1:
        raise VQLabError(f"{what} stores one code map per image; {run.run_dir} makes {run.model.num_codebooks} "
                         f"(residual VQ), which the .vqz format does not hold yet")


def code_images(run: LoadedRun, originals: list[np.ndarray], coding: str | None) -> tuple[bytes, EntropyModel | None]:
    """The .vqz bytes of uint8 (H, W, C) images, bit-packed (``coding`` None) or range-coded; and the model used."""
    model = entropy_model(run, coding) if coding else None
    vqz = VQZ(run_fingerprint(run), run.model.num_embeddings, [a.shape[:2] for a in originals],
              [image_codes(run, a) for a in originals], downsample=downsample_factor(run.model))
    return write_vqz(vqz, model), model


def encode_files(run: LoadedRun, paths: list[Path], out: Path, coding: str | None = None, *,
                 coded: tuple[bytes, EntropyModel | None] | None = None) -> dict[str, Any]:
    """Write the .vqz file of ``paths`` to ``out``; returns the compression report (see module docstring).

    ``coded``: the result of :func:`code_images` for these images when the caller has it already."""
    check_codec_run(run, "vqlab encode")
    if not paths:
        raise VQLabError("no images to encode")
    originals = load_images(run, paths)
    data, model = coded if coded is not None else code_images(run, originals, coding)
    atomic_write(out, lambda p: p.write_bytes(data))
    back = read_vqz(data, model_fingerprint=run_fingerprint(run), downsample=downsample_factor(run.model),
                    entropy_model=lambda c: model)
    decoded = decode_maps(run, back)
    pixels = sum(a.shape[0] * a.shape[1] for a in originals)
    report: dict[str, Any] = {
        "images": len(originals), "pixels": pixels, "coding": back.coding, "file_bytes": len(data),
        "bpp": 8 * len(data) / pixels, "psnr": psnr(originals, decoded),
        "codes": sum(m.size for m in back.maps), "K": run.model.num_embeddings, "downsample": back.downsample,
    }
    report.update(baselines(originals, report["psnr"]))
    report["png_bpp"] = 8 * report["png_bytes"] / pixels
    report["ratio_png"] = report["png_bytes"] / len(data)
    if report["jpeg_bytes"] is not None:
        report["jpeg_bpp"] = 8 * report["jpeg_bytes"] / pixels
        report["ratio_jpeg"] = report["jpeg_bytes"] / len(data)
    return report


def decode_file(run: LoadedRun, path: Path, out_dir: Path) -> list[Path]:
    """Decode a .vqz file written by this run's model into ``out_dir/image_000.png``, ...; returns the paths."""
    check_codec_run(run, "vqlab decode")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VQLabError(f"cannot read {path}: {exc.strerror or exc}") from None
    vqz = read_vqz(data, model_fingerprint=run_fingerprint(run), num_embeddings=run.model.num_embeddings,
                   downsample=downsample_factor(run.model), entropy_model=lambda coding: entropy_model(run, coding))
    written = []
    for i, arr in enumerate(decode_maps(run, vqz)):
        target = out_dir / f"image_{i:03d}.png"
        pil = _pil(arr)
        atomic_write(target, lambda p, pil=pil: pil.save(p, format="PNG"))
        written.append(target)
    return written
