"""Sweep figures from result rows: valid PNG and SVG files (synthetic rows; the real ones in test_sweep)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from vqlab.experiments.figures import image_grid, loss_curves, metric_vs_axis

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _valid(paths):
    assert [p.suffix for p in paths] == [".png", ".svg"]
    assert paths[0].read_bytes()[:8] == PNG_MAGIC
    with Image.open(paths[0]) as im:
        im.verify()
    assert b"<svg" in paths[1].read_bytes()[:1000]


def test_metric_against_an_axis_product_and_categorical(tmp_path):
    rows = [{"num_embeddings": k, "embedding_dim": d, "seed": s, "final_train_loss": 1 / k + d / 100 + s / 1000}
            for k in (8, 32) for d in (4, 16) for s in (0, 1)]
    _valid(metric_vs_axis(rows, ["num_embeddings", "embedding_dim"], "num_embeddings", "final_train_loss", "loss",
                          tmp_path / "a", log_y=True))
    cat = [{"model": m, "seed": 0, "psnr": 20.0 + i} for i, m in enumerate(("vqvae", "vae"))]
    _valid(metric_vs_axis(cat, ["model"], "model", "psnr", "PSNR", tmp_path / "b"))


def test_loss_curves_and_image_grid(tmp_path):
    curves = {"K8": [([1, 2, 3], [3.0, 2.0, 1.0]), ([1, 2], [2.5, 1.5])], "K32": [([1, 2, 3], [2.0, 1.0, 0.5])]}
    _valid(loss_curves(curves, "t", tmp_path / "c"))
    rows = [np.full((4, 8, 8, 3), v, dtype=np.uint8) for v in (0, 128, 255)]
    paths = image_grid(["input", "K8", "target"], rows, tmp_path / "g", "title")
    _valid(paths)


def test_sweep_figures_are_valid_pngs(interrupted_sweep):
    figures = sorted((interrupted_sweep["out"] / "figures").glob("*.png"))
    stems = {p.stem for p in figures}
    assert {"final_loss_vs_K", "final_loss_vs_D", "psnr_vs_K", "usage_vs_D", "loss_curves_all",
            "test_images"} <= stems
    for png in figures:
        _valid([png, png.with_suffix(".svg")])


def test_a_psnr_plot_draws_the_gray_baseline():
    from vqlab.experiments.figures import BASELINE_LABEL, metric_figure

    rows = [{"num_embeddings": k, "seed": s, "psnr": 20.0 + k / 8 + s} for k in (8, 32) for s in (0, 1)]
    fig = metric_figure(rows, ["num_embeddings"], "num_embeddings", "psnr", "PSNR", baseline=21.5)
    ax = fig.axes[0]
    lines = [ln for ln in ax.get_lines() if ln.get_label() == BASELINE_LABEL == "gray baseline"]
    assert len(lines) == 1 and set(lines[0].get_ydata()) == {21.5}
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["gray baseline"]
    plain = metric_figure(rows, ["num_embeddings"], "num_embeddings", "psnr", "PSNR")
    assert not [ln for ln in plain.axes[0].get_lines() if ln.get_label() == BASELINE_LABEL]
    import matplotlib.pyplot as plt

    plt.close(fig)
    plt.close(plain)


def test_colorize_sweep_psnr_figures_show_the_gray_baseline(colorize_sweep):
    from vqlab.experiments.figures import write_figures

    paths = write_figures(colorize_sweep, with_images=False)
    svgs = {p.stem: p.read_text() for p in paths if p.suffix == ".svg"}
    assert "gray baseline" in svgs["psnr_vs_K"] and "gray baseline" in svgs["psnr_vs_D"]
    assert "gray baseline" not in svgs["usage_vs_K"]
