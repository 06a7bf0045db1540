"""Figures of a sweep (matplotlib, Agg backend; each written as PNG and SVG under ``OUT/figures/``).

- ``METRIC_vs_AXIS``: a metric (final training loss, test PSNR, codebook usage) against each varied option,
  mean and std over seeds, log x axis for positive numbers; one line per value of the other options; for
  colorize runs the PSNR plots have a dashed line at the gray input's PSNR ("gray baseline");
- ``loss_curves_AXIS``: training loss against step per setting (mean over seeds, band: min..max);
- ``test_images``: the same held-out test images processed by each setting (first seed) side by side.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from vqlab.experiments.results import axis_groups, mean_std

AXIS_NAMES = {"num_embeddings": ("K", "K, number of embeddings"), "embedding_dim": ("D", "D, embedding dimension"),
              "hidden": ("h", "hidden channels h")}
METRICS = (("final_train_loss", "final training loss (mean of last 5% of steps)", "final_loss", True),
           ("psnr", "test PSNR (dB)", "psnr", False),
           ("codebook_usage", "codebook usage (fraction of K used on test)", "usage", False))
BASELINE_LABEL = "gray baseline"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def short(axis: str) -> str:
    """``K`` for num_embeddings, ``D`` for embedding_dim, else the option name."""
    return AXIS_NAMES.get(axis, (axis, axis))[0]


def _save(fig: Any, path_stem: Path) -> list[Path]:
    from vqlab.fileio import atomic_write

    paths = []
    for ext in ("png", "svg"):
        path = path_stem.with_suffix(f".{ext}")
        atomic_write(path, lambda p, ext=ext: fig.savefig(p, format=ext, dpi=110, bbox_inches="tight"))
        paths.append(path)
    _plt().close(fig)
    return paths


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def metric_vs_axis(rows: list[dict[str, Any]], axes: list[str], axis: str, metric: str, ylabel: str,
                   path_stem: Path, log_y: bool = False, baseline: float | None = None) -> list[Path]:
    """One figure: ``metric`` (mean ± std over seeds) against ``axis``; returns the PNG and SVG paths."""
    return _save(metric_figure(rows, axes, axis, metric, ylabel, log_y, baseline), path_stem)


def metric_figure(rows: list[dict[str, Any]], axes: list[str], axis: str, metric: str, ylabel: str,
                  log_y: bool = False, baseline: float | None = None) -> Any:
    """The matplotlib Figure of :func:`metric_vs_axis`; ``baseline`` adds a dashed horizontal line labelled
    :data:`BASELINE_LABEL` (the gray input's value of the metric)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    others = [a for a in axes if a != axis]
    groups = axis_groups(rows, axes, axis)
    for key, members in groups.items():
        xs = sorted({r.get(axis) for r in members}, key=lambda v: (str(type(v)), v))
        stats = [mean_std([r.get(metric) for r in members if r.get(axis) == x]) for x in xs]
        numeric = _numeric(xs)
        pos = xs if numeric else list(range(len(xs)))
        label = ", ".join(f"{short(a)}={v}" for a, v in zip(others, key)) or None
        ax.errorbar(pos, [m for m, _ in stats], yerr=[s for _, s in stats], marker="o", capsize=3, label=label)
        n = min(sum(1 for r in members if r.get(axis) == x) for x in xs)
        if not numeric:
            ax.set_xticks(pos, [str(x) for x in xs])
        elif all(x > 0 for x in xs):
            ax.set_xscale("log", base=2)
            ax.set_xticks(xs, [str(x) for x in xs])
            ax.minorticks_off()
    if baseline is not None and math.isfinite(baseline):
        ax.axhline(baseline, color="0.45", ls="--", lw=1.2, label=BASELINE_LABEL)
    if log_y and all(r.get(metric) and r.get(metric) > 0 for g in groups.values() for r in g):
        ax.set_yscale("log")
    ax.set_xlabel(AXIS_NAMES.get(axis, (axis, axis))[1])
    ax.set_ylabel(ylabel)
    seeds = f"mean ± std over {n} seed(s)" if groups else "no data"
    ax.set_title(f"{ylabel.split(' (')[0]} vs {short(axis)} ({seeds})", fontsize=9)
    if len(groups) > 1 or ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig


def loss_curves(curves: dict[str, list[tuple[list[int], list[float]]]], title: str, path_stem: Path) -> list[Path]:
    """Training loss against step, one line per setting: the mean over its seeds (band: min..max)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for setting, runs in curves.items():
        runs = [r for r in runs if r[0]]
        if not runs:
            continue
        n = min(len(steps) for steps, _ in runs)
        steps = runs[0][0][:n]
        losses = np.array([loss[:n] for _, loss in runs], dtype=float)
        line, = ax.plot(steps, losses.mean(0), label=setting, lw=1.2)
        if len(runs) > 1:
            ax.fill_between(steps, losses.min(0), losses.max(0), color=line.get_color(), alpha=0.15, lw=0)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3, which="both")
    return _save(fig, path_stem)


def image_grid(labels: list[str], images: list[np.ndarray], path_stem: Path, title: str = "") -> list[Path]:
    """Rows of equally sized images (each (N, H, W, 3) uint8), one labelled row per entry of ``labels``."""
    plt = _plt()
    n, h, w, _ = images[0].shape
    pad = max(1, h // 16)
    canvas = np.full((len(images) * (h + pad) + pad, n * (w + pad) + pad, 3), 255, dtype=np.uint8)
    for r, row in enumerate(images):
        for i, tile in enumerate(row):
            y, x = pad + r * (h + pad), pad + i * (w + pad)
            canvas[y:y + h, x:x + w] = tile
    scale = 0.9 * max(1.0, 32 / h)
    fig, ax = plt.subplots(figsize=(1.6 + n * scale * w / 32, 0.3 + len(images) * scale * h / 32))
    ax.imshow(canvas, interpolation="nearest")
    ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(len(images))], labels, fontsize=8)
    ax.set_xticks([])
    for side in ax.spines.values():
        side.set_visible(False)
    if title:
        ax.set_title(title, fontsize=9)
    return _save(fig, path_stem)


def finite(rows: list[dict[str, Any]], metric: str) -> bool:
    """Whether any row has a finite value of ``metric``."""
    return any(isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric]) for r in rows)


def write_figures(out: Path, with_images: bool = True) -> list[Path]:
    """All figures of a finished sweep (its sweep.json, results.csv and runs) into ``OUT/figures/``."""
    from vqlab.experiments.results import gray_baseline, loss_curve, read_results
    from vqlab.experiments.sweep import RUNS_DIR, local_runs, read_plan
    from vqlab.train.run import read_metrics

    out = Path(out)
    plan = read_plan(out)
    rows = read_results(out)
    axes = list(plan["axes"])
    fig_dir = out / "figures"
    paths: list[Path] = []
    gray = gray_baseline(rows)  # colorize runs: the gray input's own PSNR, drawn in the PSNR plots
    for axis in axes:
        for metric, ylabel, stem, log_y in METRICS:
            if finite(rows, metric) and axis_groups(rows, axes, axis):
                paths += metric_vs_axis(rows, axes, axis, metric, ylabel, fig_dir / f"{stem}_vs_{short(axis)}",
                                        log_y=log_y, baseline=gray.get(metric, (None,))[0])
    setting_of = {r["name"]: r["setting"] for r in plan["runs"]}
    groups = [(short(a), [r for g in axis_groups(rows, axes, a).values() for r in g]) for a in axes] or \
        [("all", rows)]
    if len(axes) <= 1 or not plan.get("vary"):
        groups = [("all", rows)]
    for label, members in groups:
        curves: dict[str, list[tuple[list[int], list[float]]]] = {}
        for r in members:
            curves.setdefault(setting_of.get(r["name"], r["setting"]), []).append(
                loss_curve(read_metrics(out / RUNS_DIR / r["name"])))
        what = "all settings" if label == "all" else f"varying {label}"
        paths += loss_curves(curves, f"training loss, {what} (mean over seeds; band: min..max)",
                             fig_dir / f"loss_curves_{label}")
    if with_images:
        from vqlab.experiments.grid import test_image_rows

        labels, images = test_image_rows(out, local_runs(plan))
        if images:
            paths += image_grid(labels, images, fig_dir / "test_images",
                                "held-out test images: input, each setting (first seed), target")
    return paths
