"""Rate points: runs trained for different rates (downsampling factor F, codebook size K), among which ``vqlab
encode`` picks by ``--quality`` or ``--target-bpp``, and ``vqlab decode`` finds the one that wrote a file.

A **rate folder** is a folder whose direct subfolders are run directories (one per rate point, e.g.
``codec/f4``, ``codec/f8``, ``codec/f16``); a single run directory is a rate folder of one point. Points are
ordered by their nominal rate, the bits per pixel of bit-packed codes, log2(K) / F^2 (ties by name): quality 1
is the lowest rate, quality N the highest. ``--target-bpp X`` codes the images with every point and keeps the
one whose file is largest without exceeding X bits per pixel (header included) -- the closest to the target from
below; when every point exceeds X it keeps the smallest file and says so in the report (``target_met``: false).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from vqlab.errors import VQLabError

CONFIG = "config.json"


def nominal_bpp(run_dir: Path) -> float:
    """log2(K) / F^2: bits per pixel of a run's bit-packed codes (header excluded)."""
    from vqlab.train.run import read_config

    cfg, _ = read_config(run_dir)
    return math.ceil(math.log2(max(cfg.model.num_embeddings, 2))) / cfg.model.downsample ** 2


def rate_points(path: Path) -> list[Path]:
    """The run directories of a rate folder (or ``[path]`` for a run directory), lowest nominal rate first."""
    if (path / CONFIG).is_file():
        return [path]
    if not path.is_dir():
        raise VQLabError(f"{path} is neither a run directory nor a folder of run directories")
    runs = [d for d in path.iterdir() if d.is_dir() and (d / CONFIG).is_file()]
    if not runs:
        raise VQLabError(f"{path} is neither a run directory nor a folder of run directories (no */{CONFIG})")
    return sorted(runs, key=lambda d: (nominal_bpp(d), d.name))


def writer_of(path: Path, data: bytes) -> Path:
    """The run directory of ``path`` (a run or a rate folder) whose newest weights wrote the .vqz ``data``."""
    from vqlab.codec import peek_model_fingerprint
    from vqlab.train.checkpoint import fingerprint, latest_checkpoint

    points = rate_points(path)
    if len(points) == 1:
        return points[0]
    wanted = peek_model_fingerprint(data)
    for run_dir in points:
        ckpt = latest_checkpoint(run_dir)
        if ckpt is not None and fingerprint(ckpt) == wanted:
            return run_dir
    raise VQLabError(f"none of the {len(points)} runs in {path} wrote this file (model fingerprint {wanted.hex()})")


def _point(run_dir: Path, bpp: float | None = None) -> dict[str, Any]:
    from vqlab.train.run import read_config

    cfg, _ = read_config(run_dir)
    row = {"run": str(run_dir), "downsample": cfg.model.downsample, "K": cfg.model.num_embeddings,
           "nominal_bpp": nominal_bpp(run_dir)}
    return row if bpp is None else {**row, "bpp": bpp}


def encode_at_rate(path: Path, images: list[Path], out: Path, coding: str | None, *, quality: int | None = None,
                   target_bpp: float | None = None, device: str = "cpu") -> dict[str, Any]:
    """``vqlab encode`` over a rate folder: the report of :func:`vqlab.compression.encode_files` for the chosen
    point, with ``rate_points`` (what was tried), ``quality`` (1..N) and, for a target, ``target_bpp`` and
    ``target_met``."""
    from vqlab.compression import check_codec_run, code_images, encode_files, load_images
    from vqlab.train.run import load_run

    if quality is not None and target_bpp is not None:
        raise VQLabError("give --quality or --target-bpp, not both")
    points = rate_points(path)
    if quality is None and target_bpp is None:
        if len(points) > 1:
            raise VQLabError(f"{path} holds {len(points)} rate points; choose one with --quality 1..{len(points)} "
                             f"(1: the lowest rate) or --target-bpp X")
        quality = 1
    if quality is not None:
        if not 1 <= quality <= len(points):
            raise VQLabError(f"--quality must be 1..{len(points)} for the {len(points)} rate points of {path}")
        run = load_run(points[quality - 1], device)
        report = encode_files(run, images, out, coding)
        return {**report, "quality": quality, "rate_points": [_point(d) for d in points]}
    if not target_bpp > 0 or not math.isfinite(target_bpp):
        raise VQLabError("--target-bpp must be a positive number")
    tried = []
    for q, run_dir in enumerate(points, start=1):
        run = load_run(run_dir, device)
        check_codec_run(run, "vqlab encode")
        originals = load_images(run, images)
        coded = code_images(run, originals, coding)
        pixels = sum(a.shape[0] * a.shape[1] for a in originals)
        tried.append((8 * len(coded[0]) / pixels, q, run, coded))
    below = [t for t in tried if t[0] <= target_bpp]
    _, q, run, coded = max(below, key=lambda t: t[0]) if below else min(tried, key=lambda t: t[0])
    report = encode_files(run, images, out, coding, coded=coded)
    return {**report, "quality": q, "target_bpp": target_bpp, "target_met": bool(below),
            "rate_points": [_point(r.run_dir, b) for b, _, r, _ in tried]}


def decode_at_rate(path: Path, file: Path, out_dir: Path, device: str = "cpu") -> tuple[Path, list[Path]]:
    """``vqlab decode`` with a run or a rate folder: (the run that wrote ``file``, the PNGs written)."""
    from vqlab.compression import decode_file
    from vqlab.train.run import load_run

    points = rate_points(path)
    run_dir = points[0]
    if len(points) > 1:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise VQLabError(f"cannot read {file}: {exc.strerror or exc}") from None
        run_dir = writer_of(path, data)
    return run_dir, decode_file(load_run(run_dir, device), file, out_dir)
