"""The page and figures of benchmarks/rate_distortion.py: docs/compression.md, compression_rd.png, compression_crop.png."""

from __future__ import annotations

import math
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from vqlab.train.device import cpu_model

# The issue's anchors, measured by others on the 24 Kodak photos (not on the pictures of this page).
ANCHORS = (("CompressAI bmshj2018-factorized, quality 1", "vqlab", 0.12, 26.9),
           ("WebP", "WebP", 0.23, 28.3), ("JPEG", "JPEG", 0.22, 23.8))


def _fmt(v: float | None, spec: str, none: str = "–") -> str:
    return none if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def rd_figure(path: Path, curves: dict[str, list[dict[str, Any]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6))
    styles = {"vqlab": ("o-", "C3"), "JPEG": ("s-", "C0"), "WebP": ("^-", "C2")}
    for codec, (marker, color) in styles.items():
        pts = sorted(curves.get(codec, []), key=lambda p: p["bpp"])
        if not pts:
            continue
        bpp = [p["bpp"] for p in pts]
        axes[0].plot(bpp, [p["psnr"] for p in pts], marker, color=color, label=codec, ms=4)
        ssim = [(p["bpp"], -10 * math.log10(max(1 - p["ms_ssim"], 1e-10))) for p in pts if p["ms_ssim"] is not None]
        if ssim:
            axes[1].plot(*zip(*ssim), marker, color=color, label=codec, ms=4)
    for name, codec, bpp, db in ANCHORS:
        axes[0].plot([bpp], [db], "x", color=styles[codec][1] if codec in styles else "k", ms=8)
        axes[0].annotate(f"{name.split(',')[0]} (Kodak)", (bpp, db), fontsize=7, xytext=(4, -10),
                         textcoords="offset points")
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    for ax, label in zip(axes, ("PSNR (dB, mean over pictures)", "MS-SSIM as -10 log10(1 - MS-SSIM) (dB)")):
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator([0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5]))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("bits per pixel (mean over pictures, headers included)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    axes[0].set_title("x: the issue's anchors, measured on Kodak, not on these pictures", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    from vqlab.fileio import atomic_write

    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)


def _closest_quality(image: np.ndarray, fmt: str, qualities, target_bpp: float) -> tuple[int, dict[str, Any]]:
    from rate_distortion import pillow_point

    options = {"JPEG": {"optimize": True, "subsampling": 2}, "WEBP": {"method": 6}}[fmt]
    pixels = image.shape[0] * image.shape[1]
    best = None
    for q in qualities:
        point = pillow_point(image, fmt, quality=q, **options)
        gap = abs(8 * point["bytes"] / pixels - target_bpp)
        if best is None or gap < best[0]:
            best = (gap, q, point)
    return best[1], best[2]


def crop_figure(path: Path, points: list[dict[str, Any]], name: str, image: np.ndarray, toy: bool) -> None:
    """One row per rate point: the original crop, vqlab, JPEG and WebP at the bpp closest to vqlab's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from rate_distortion import psnr, vqlab_point

    h, w = image.shape[:2]
    side = min(192, h, w)
    top, left = (h - side) // 2, (w - side) // 2
    box = (slice(top, top + side), slice(left, left + side))
    pixels = h * w
    fig, axes = plt.subplots(len(points), 4, figsize=(12, 3.2 * len(points)), squeeze=False)
    for ax_row, pt in zip(axes, points):
        coding = None if pt["coding"] == "packed" else pt["coding"]
        vq = vqlab_point(pt["run"], image, coding)
        bpp = 8 * vq["bytes"] / pixels
        jq, jpeg = _closest_quality(image, "JPEG", range(1, 96, 7 if toy else 1), bpp)
        wq, webp = _closest_quality(image, "WEBP", range(0, 101, 10 if toy else 1), bpp)
        panels = [("original", image, None), (pt["label"], vq["decoded"], vq), (f"JPEG q={jq}", jpeg["decoded"], jpeg),
                  (f"WebP q={wq}", webp["decoded"], webp)]
        for ax, (title, pic, point) in zip(ax_row, panels):
            ax.imshow(pic[box], interpolation="nearest")
            if point is not None:
                title = f"{title}\n{8 * point['bytes'] / pixels:.3f} bpp, {psnr(image, point['decoded']):.2f} dB"
            ax.set_title(title, fontsize=8)
            ax.axis("off")
    fig.suptitle(f"{name}: centre {side}x{side} crop of the whole {w}x{h} picture coded at about equal bpp",
                 fontsize=10)
    fig.tight_layout()
    _save(fig, path)


# The compression issue's goals: a negative BD-rate against JPEG over this bpp range, and within WEBP_DB of
# WebP's PSNR at equal bpp at or below WEBP_MAX_BPP.
JPEG_RANGE = (0.1, 0.5)
WEBP_MAX_BPP, WEBP_DB = 0.3, 1.0


def made_lines(log: Path) -> list[str]:
    """How the rate points were made: the commands of the study log (experiments/codec_study.py writes
    ROOT/commands.jsonl, and runs this benchmark from ROOT) with their wall times; nothing without a log."""
    import json

    try:
        entries = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return []
    entries = [e for e in entries if isinstance(e, dict) and e.get("tag") != "bench" and "command" in e]
    if not entries:
        return []
    out = ["", "## How the rate points were made", "",
           ("The commands of the study (`experiments/codec_study.py`), in the order they ran, from its log "
            f"`{log}`, with their wall times:"), "", "| step | command | wall time (min) |", "| --- | --- | ---: |"]
    for e in entries:
        minutes = e.get("seconds")
        out.append(f"| {e.get('tag', '')} | `{e['command']}` | "
                   f"{_fmt(minutes / 60 if isinstance(minutes, (int, float)) else None, '.1f')} |")
    return out


def goal_lines(curves: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The page's "Goals" section: BD-rate against JPEG over the PSNR JPEG reaches in JPEG_RANGE bpp, and each
    vqlab point against JPEG and WebP at its own bpp."""
    from rate_distortion import bd_rate, interpolate_psnr

    jpeg, webp, vq = curves.get("JPEG", []), curves.get("WebP", []), curves.get("vqlab", [])
    out = ["", "## Goals", ""]
    ends = [interpolate_psnr(jpeg, b) for b in JPEG_RANGE]
    if jpeg and None not in ends:
        bd = bd_rate([(c["bpp"], c["psnr"]) for c in jpeg], [(c["bpp"], c["psnr"]) for c in vq], clip=tuple(ends))
        if bd["percent"] is None:
            verdict = "no common PSNR interval with vqlab's points"
        else:
            lo, hi = bd["interval"]
            met = "met" if bd["percent"] < 0 else "not met"
            verdict = (f"{bd['percent']:+.1f}% over {lo:.2f}–{hi:.2f} dB (of JPEG's {ends[0]:.2f}–{ends[1]:.2f} dB): "
                       f"**{met}**")
        out.append(f"- BD-rate against JPEG over {JPEG_RANGE[0]}–{JPEG_RANGE[1]} bpp (the PSNR JPEG reaches "
                   f"there), negative wanted: {verdict}.")
    else:
        out.append(f"- BD-rate against JPEG over {JPEG_RANGE[0]}–{JPEG_RANGE[1]} bpp: JPEG's curve does not span it.")
    out += [(f"- Within {WEBP_DB:g} dB of WebP at equal bpp, at or below {WEBP_MAX_BPP} bpp: the table (WebP and "
            "JPEG read off their curves at each vqlab point's bpp)."), "",
            "| vqlab point | bpp | PSNR dB | JPEG dB at that bpp | WebP dB at that bpp | vqlab - WebP dB | goal |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for c in sorted(vq, key=lambda c: c["bpp"]):
        j, w = interpolate_psnr(jpeg, c["bpp"]), interpolate_psnr(webp, c["bpp"])
        gap = c["psnr"] - w if w is not None else None
        lowest = min(webp, key=lambda w: w["bpp"]) if webp else None
        if c["bpp"] > WEBP_MAX_BPP:
            goal = f"above {WEBP_MAX_BPP} bpp"
        elif gap is None and lowest is not None and c["bpp"] < lowest["bpp"]:
            goal = (f"below WebP's lowest rate ({lowest['setting']}: {lowest['bpp']:.3f} bpp, {lowest['psnr']:.2f} "
                    f"dB); against it vqlab needs {100 * (1 - c['bpp'] / lowest['bpp']):.0f}% fewer bits for "
                    f"{c['psnr'] - lowest['psnr']:+.2f} dB")
        elif gap is None:
            goal = "WebP does not reach this bpp"
        else:
            goal = "met" if gap >= -WEBP_DB else f"not met ({-gap - WEBP_DB:.2f} dB short)"
        out.append(f"| {c['setting']} | {c['bpp']:.3f} | {c['psnr']:.2f} | {_fmt(j, '.2f')} | {_fmt(w, '.2f')} | "
                   f"{_fmt(gap, '+.2f')} | {goal} |")
    return out


def write_page(args, points: list[dict[str, Any]], images, left_out: list[str], rows, curves) -> None:
    """docs/compression.md (or --out) and its two figures (in --figures)."""
    import torch
    from rate_distortion import MS_SSIM_MIN_SIDE, bd_rate, interpolate_psnr

    from vqlab.fileio import atomic_write_text
    from vqlab.train.context import CONTEXT_DIR

    figs = args.figures
    rd_figure(figs / "compression_rd.png", curves)
    crop_figure(figs / "compression_crop.png", points, images[0][0], images[0][1], args.toy)
    rel = os.path.relpath(figs, args.out.parent)
    command = "python benchmarks/rate_distortion.py " + shlex.join(sys.argv[1:])
    lines = ["# Compression: vqlab's .vqz against JPEG, WebP and PNG", "",
             (f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M')} ({cpu_model()}, torch threads "
             f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} at the end: times are of a shared "
             f"machine). Rerun the script to regenerate this page; per-picture rows are in "
             f"[{rel}/compression_rows.csv]({rel}/compression_rows.csv)."), "", "## Pictures", "",
             f"{len(images)} whole photographs, each shrunk to at most {args.max_side} pixels per side and coded on "
             f"its own (so every file carries its header): " +
             ", ".join(f"{n} ({im.shape[1]}x{im.shape[0]})" for n, im in images) + "."]
    if left_out:
        lines += ["", f"Left out because a run trained on them: {', '.join(left_out)}."]
    lines += made_lines(Path("commands.jsonl"))
    lines += ["", "## vqlab's rate points", "",
              "| run | F | K | steps | data | entropy coding | context model (test bits/code) |",
              "| --- | ---: | ---: | ---: | --- | --- | --- |"]
    for pt in points:
        run = pt["run"]
        ctx = run.run_dir / CONTEXT_DIR / "config.json"
        bits = "–"
        if ctx.is_file():
            import json

            bits = _fmt(json.loads(ctx.read_text()).get("test_bits_per_code"), ".3f")
        lines.append(f"| {run.run_dir.name} | {run.model.downsample} | {run.model.num_codes} | {run.step} | "
                     f"{run.config.data.dataset} | {pt['coding']} | {bits} |")
    lines += ["", "## Rate-distortion", "", f"![PSNR and MS-SSIM against bpp]({rel}/compression_rd.png)", "",
              ("Means over the pictures; times are per picture (vqlab: encoder network + entropy coding, entropy "
              "decoding + decoder network; Pillow: encode, decode)."), "",
              "| codec | setting | bpp | PSNR dB | MS-SSIM | encode ms | decode ms |",
              "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for codec in ("vqlab", "JPEG", "WebP", "PNG"):
        for c in sorted(curves.get(codec, []), key=lambda c: c["bpp"]):
            lines.append(f"| {codec} | {c['setting']} | {c['bpp']:.3f} | {_fmt(c['psnr'], '.2f', 'inf')} | "
                         f"{_fmt(c['ms_ssim'], '.4f')} | {1000 * c['encode_s']:.1f} | {1000 * c['decode_s']:.1f} |")
    small = [n for n, im in images if min(im.shape[:2]) < MS_SSIM_MIN_SIDE]
    if small:
        lines += ["", (f"MS-SSIM needs at least {MS_SSIM_MIN_SIDE} pixels on a side: its means leave out "
                  f"{', '.join(small)}.")]
    vq = [(c["bpp"], c["psnr"]) for c in curves.get("vqlab", [])]
    lines += ["", "## BD-rate", "",
              ("Bjontegaard delta rate of vqlab against each anchor over their common PSNR interval (negative: "
              "vqlab needs that much less rate for the same PSNR)."), "",
              "| vqlab against | BD-rate | common PSNR interval | anchor points used | polynomial degrees |",
              "| --- | ---: | --- | ---: | --- |"]
    for anchor in ("JPEG", "WebP"):
        bd = bd_rate([(c["bpp"], c["psnr"]) for c in curves.get(anchor, [])], vq)
        if bd["percent"] is None:
            lines.append(f"| {anchor} | no common PSNR interval | – | – | – |")
        else:
            lo, hi = bd["interval"]
            lines.append(f"| {anchor} | {bd['percent']:+.1f}% | {lo:.2f}–{hi:.2f} dB | {bd['anchor_points']} | "
                         f"{bd['degree'][0]} (anchor), {bd['degree'][1]} (vqlab) |")
    if len(vq) < 4:
        lines += ["", (f"With {len(vq)} vqlab rate point{'s' * (len(vq) != 1)} the vqlab polynomial has degree "
                  f"{max(len(vq) - 1, 0)}, not the standard 3 (a BD-rate needs at least two points per curve).")]
    lines += goal_lines(curves)
    lines += ["", "## The issue's anchors", "",
              ("Measured by others on the Kodak photos, so only a rough guide: the columns on the right are this "
              "page's curves read at the anchor's bpp (linear in log rate between measured points; – outside the "
              "measured range)."), "", "| anchor (Kodak) | bpp | PSNR dB | same codec here | vqlab here |",
              "| --- | ---: | ---: | ---: | ---: |"]
    for name, codec, bpp, db in ANCHORS:
        same = interpolate_psnr(curves.get(codec, []), bpp) if codec != "vqlab" else None
        ours = interpolate_psnr(curves.get("vqlab", []), bpp)
        lines.append(f"| {name} | {bpp} | {db} | {_fmt(same, '.2f')} | {_fmt(ours, '.2f')} |")
    lines += ["", "## At about equal rate", "", f"![crops at about equal bpp]({rel}/compression_crop.png)", "",
              "For each rate point, JPEG and WebP at the quality whose file of the whole picture is closest in bpp.",
              ""]
    atomic_write_text(args.out, "\n".join(lines))
