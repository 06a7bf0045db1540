"""Rate-distortion of vqlab's .vqz codec against JPEG, WebP and PNG on whole photographs; writes docs/compression.md.

Pictures: the held-out test photos of ``photos`` (astronaut, coffee, flower) and the validation photos of
``photos-wide``, each shrunk so that no side exceeds --max-side (768, the long side of a Kodak photo); any photo in
the training split of a run's dataset is left out (``chelsea`` is a training photo of ``photos``). Every picture
is coded on its own, so each file's bytes include its header.

- vqlab: each run directory given (or each run of a rate folder) is one rate point, coded with --entropy (auto:
  the run's context model when it has one, else bit-packed);
- JPEG (Pillow/libjpeg, 4:2:0, optimized Huffman tables) at qualities 1..95, WebP (Pillow/libwebp, method 6) at
  0..95, PNG (lossless, optimize).

For each point: mean bits per pixel, mean PSNR (RGB, of each picture, then averaged, as for Kodak), mean MS-SSIM
(torchmetrics, 5 scales; pictures under 161 pixels on a side are left out of it) and mean encode/decode times.
BD-rate (Bjontegaard, VCEG-M33): for each curve a cubic polynomial of ln(rate) in PSNR, both integrated over
their common PSNR interval; the average difference as a percentage, negative when vqlab needs fewer bits. With
fewer than four vqlab points the polynomial's degree is the number of points less one (said on the page). The
anchor's points are those inside the common interval plus one on each side.

    python benchmarks/rate_distortion.py RUN_OR_RATE_FOLDER ... [--entropy auto] [--out docs/compression.md]
    python benchmarks/rate_distortion.py --toy RUN ... --out /tmp/page.md --figures /tmp/figs   # integration test
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from rd_page import write_page

JPEG_QUALITIES = (1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95)
WEBP_QUALITIES = (0, 2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95)
TOY_JPEG, TOY_WEBP = (1, 5, 20, 50, 90), (0, 10, 50, 90)
MS_SSIM_MIN_SIDE = 161  # 5 scales of an 11x11 window: (11 - 1) * 2^4 < side


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 pictures."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)) / 255.0 ** 2
    return math.inf if mse == 0 else 10 * math.log10(1.0 / mse)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """MS-SSIM of two uint8 RGB pictures (torchmetrics, data range 1); None when a side is under 161 pixels."""
    import torch
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as msssim

    if min(a.shape[:2]) < MS_SSIM_MIN_SIDE:
        return None
    # float32: 15 times faster than float64 here, and equal to it to 1e-6 on a 768x480 photo
    x, y = (torch.from_numpy(np.array(v)).permute(2, 0, 1)[None].float() / 255.0 for v in (a, b))
    return float(msssim(x, y, data_range=1.0))


def pillow_point(image: np.ndarray, fmt: str, **options: Any) -> dict[str, Any]:
    """Bytes, decoded picture and times of one Pillow encode/decode."""
    from PIL import Image

    pil = Image.fromarray(image)
    start = time.perf_counter()
    buf = io.BytesIO()
    pil.save(buf, format=fmt, **options)
    t_enc = time.perf_counter() - start
    start = time.perf_counter()
    back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return {"bytes": len(buf.getvalue()), "decoded": back, "encode_s": t_enc, "decode_s": time.perf_counter() - start}


def baseline_points(image: np.ndarray, toy: bool) -> list[tuple[str, str, dict[str, Any]]]:
    """(codec, setting, point) of JPEG, WebP and PNG for one picture."""
    out = []
    for q in TOY_JPEG if toy else JPEG_QUALITIES:
        out.append(("JPEG", f"q={q}", pillow_point(image, "JPEG", quality=q, optimize=True, subsampling=2)))
    for q in TOY_WEBP if toy else WEBP_QUALITIES:
        out.append(("WebP", f"q={q}", pillow_point(image, "WEBP", quality=q, method=6)))
    out.append(("PNG", "lossless", pillow_point(image, "PNG", optimize=True)))
    return out


def vqlab_point(run, image: np.ndarray, coding: str | None) -> dict[str, Any]:
    """One picture through ``vqlab encode`` / ``decode`` steps: bytes, decoded picture and times."""
    from vqlab.codec import read_vqz
    from vqlab.compression import code_images, decode_maps, entropy_model

    model = entropy_model(run, coding) if coding else None
    start = time.perf_counter()
    data, _ = code_images(run, [image], coding)
    t_enc = time.perf_counter() - start
    start = time.perf_counter()
    back = decode_maps(run, read_vqz(data, entropy_model=lambda c: model))[0]
    return {"bytes": len(data), "decoded": back, "encode_s": t_enc, "decode_s": time.perf_counter() - start}


def pictures(runs: list, max_side: int, toy: bool) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """(name, picture) of the test and validation photos no run trained on; and the names left out."""
    from vqlab.data.whole import WHOLE_PHOTO_DATASETS, load_whole_photo, photo_names

    trained: set[str] = set()
    for run in runs:
        if run.config.data.dataset in WHOLE_PHOTO_DATASETS:
            trained |= set(photo_names(run.config.data.dataset, "train"))
    names = [("photos", n) for n in photo_names("photos", "test")]
    if not toy:
        names += [("photos-wide", n) for n in photo_names("photos-wide", "val")]
    kept = [(d, n) for d, n in names if n not in trained]
    return [(n, load_whole_photo(d, n, max_side)) for d, n in kept], [n for _, n in names if n in trained]


def row(codec: str, setting: str, name: str, image: np.ndarray, point: dict[str, Any]) -> dict[str, Any]:
    pixels = image.shape[0] * image.shape[1]
    return {"codec": codec, "setting": setting, "image": name, "width": image.shape[1], "height": image.shape[0],
            "bytes": point["bytes"], "bpp": 8 * point["bytes"] / pixels, "psnr": psnr(image, point["decoded"]),
            "ms_ssim": ms_ssim(image, point["decoded"]), "encode_s": point["encode_s"],
            "decode_s": point["decode_s"]}


def curves(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """codec -> its points (means over the pictures), in the order first seen."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["codec"], r["setting"]), []).append(r)
    out: dict[str, list[dict[str, Any]]] = {}
    for (codec, setting), rs in groups.items():
        ssim = [r["ms_ssim"] for r in rs if r["ms_ssim"] is not None]
        out.setdefault(codec, []).append({
            "setting": setting, "bpp": float(np.mean([r["bpp"] for r in rs])),
            "psnr": float(np.mean([r["psnr"] for r in rs])), "ms_ssim": float(np.mean(ssim)) if ssim else None,
            "encode_s": float(np.mean([r["encode_s"] for r in rs])),
            "decode_s": float(np.mean([r["decode_s"] for r in rs])), "images": len(rs)})
    return out


def bd_rate(anchor: list[tuple[float, float]], test: list[tuple[float, float]],
            clip: tuple[float, float] | None = None) -> dict[str, Any]:
    """Bjontegaard delta rate of ``test`` against ``anchor``, both lists of (bpp, PSNR dB) (see module notes);
    ``clip`` (lo, hi dB) narrows the common PSNR interval.

    Returns ``percent`` (None without a common PSNR interval), ``interval`` and the polynomial ``degree``s used."""
    a = sorted((p, r) for r, p in anchor if math.isfinite(p))
    t = sorted((p, r) for r, p in test if math.isfinite(p))
    result: dict[str, Any] = {"percent": None, "interval": None, "degree": None, "anchor_points": 0}
    if len(a) < 2 or len(t) < 2:
        return result
    lo, hi = max(a[0][0], t[0][0]), min(a[-1][0], t[-1][0])
    if clip is not None:
        lo, hi = max(lo, clip[0]), min(hi, clip[1])
    if not lo < hi:
        return result
    inside = [i for i, (p, _) in enumerate(a) if lo <= p <= hi]
    first, last = (max(0, inside[0] - 1), min(len(a) - 1, inside[-1] + 1)) if inside else (0, len(a) - 1)
    a = a[first:last + 1]
    integrals, degrees = [], []
    for pts in (a, t):
        deg = min(3, len(pts) - 1)
        poly = np.polyint(np.polyfit([p for p, _ in pts], [math.log(r) for _, r in pts], deg))
        integrals.append(np.polyval(poly, hi) - np.polyval(poly, lo))
        degrees.append(deg)
    diff = (integrals[1] - integrals[0]) / (hi - lo)
    return {"percent": 100 * (math.exp(diff) - 1), "interval": (lo, hi), "degree": tuple(degrees),
            "anchor_points": len(a)}


def interpolate_psnr(points: list[dict[str, Any]], bpp: float) -> float | None:
    """PSNR of a curve at ``bpp`` (linear in log rate between its neighbours); None outside its range."""
    pts = sorted((p["bpp"], p["psnr"]) for p in points if math.isfinite(p["psnr"]))
    for (r0, p0), (r1, p1) in itertools.pairwise(pts):
        if r0 <= bpp <= r1:
            return p0 if r1 == r0 else p0 + (p1 - p0) * (math.log(bpp) - math.log(r0)) / (math.log(r1) - math.log(r0))
    return None


def main(argv: list[str] | None = None) -> int:
    from vqlab.fileio import atomic_write_text
    from vqlab.rates import rate_points
    from vqlab.train.run import load_run

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run directories or rate folders")
    p.add_argument("--entropy", default="auto", choices=("auto", "context", "freq", "packed"))
    p.add_argument("--max-side", type=int, default=768)
    p.add_argument("--out", type=Path, default=Path("docs/compression.md"))
    p.add_argument("--figures", type=Path, default=Path("docs/figures"))
    p.add_argument("--toy", action="store_true", help="test photos only at --max-side, few JPEG/WebP qualities")
    args = p.parse_args(argv)
    run_dirs = [d for path in args.runs for d in rate_points(path)]
    runs = [load_run(d) for d in run_dirs]
    images, left_out = pictures(runs, args.max_side, args.toy)
    if not images:
        raise SystemExit("no pictures left: every candidate photo is in a run's training split")
    rows, points = [], []
    for run in runs:
        coding = args.entropy
        if coding == "auto":
            coding = "context" if (run.run_dir / "context" / "config.json").is_file() else "packed"
        label = f"{run.run_dir.name} (F={run.model.downsample}, K={run.model.num_codes}, {coding})"
        points.append({"run": run, "label": label, "coding": coding})
        for name, image in images:
            rows.append(row("vqlab", label, name, image, vqlab_point(run, image, None if coding == "packed" else coding)))
            print(f"{label} {name}: {rows[-1]['bpp']:.3f} bpp {rows[-1]['psnr']:.2f} dB", flush=True)
    for name, image in images:
        for codec, setting, point in baseline_points(image, args.toy):
            rows.append(row(codec, setting, name, image, point))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(args.figures / "compression_rows.csv", buf.getvalue())
    write_page(args, points, images, left_out, rows, curves(rows))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
