#!/usr/bin/env python3
"""Regenerate docs/experiments.md (and its figures) from the sweeps of experiments/kd_study.py.

Reads whatever is finished: a sweep still running, or stopped part-way, gives a page with the finished runs and
says how many are missing. Every number on the page comes from the run directories (their metrics.jsonl and the
cached `vqlab evaluate` metrics), and every verdict from the fixed rules in RULES, printed on the page.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

STAGES = {
    "fm-budget": "Fashion-MNIST, reconstruct: choosing the budget",
    "fm-kd": "Fashion-MNIST, reconstruct: K and D",
    "color-kd": "photos, colorize: K and D",
    "photos-budget": "photos, reconstruct: choosing the budget",
    "photos-kd": "photos, reconstruct: K and D",
}
CONVERGED_DB = 0.25
RULES = (
    'A claim "more X lowers M" is *confirmed* when the means of M at the smallest and the largest X (over seeds) '
    "differ in the claimed direction by more than twice their combined seed spread (sqrt(std_a^2 + std_b^2)), "
    "*refuted* when they differ by that much the other way, and *within seed spread* otherwise; with one seed "
    "only the direction is given. A reconstruct run counts as *converged* when its test PSNR rose by less than "
    f"{CONVERGED_DB} dB over the last quarter of its steps (test evaluations every 500 steps). A colorize setting "
    "*beats gray* when every seed's test PSNR is above that of the gray baseline (the input's luminance as output)."
)
METRICS = [("final_train_loss", "final train loss", 5), ("psnr", "test PSNR (dB)", 2), ("ssim", "SSIM", 3),
           ("codebook_usage", "usage", 3), ("perplexity", "perplexity", 1)]
COLOR_METRICS = [("colorfulness", "colourfulness", 1), ("gray_psnr", "gray PSNR (dB)", 2)]


def run_rows(sweep: Path) -> tuple[list[dict[str, Any]], int]:
    """A row per finished run of a sweep folder (settings, final loss, test metrics, convergence), and the number
    of planned runs that are not finished."""
    from vqlab.experiments.evaluation import evaluate_run
    from vqlab.experiments.results import final_train_loss
    from vqlab.train.run import read_config, read_metrics

    plan = json.loads((sweep / "sweep.json").read_text())
    rows, missing = [], 0
    for planned in plan["runs"]:
        run_dir = sweep / "runs" / planned["name"]
        if not (run_dir / "config.json").is_file():
            missing += 1
            continue
        cfg, _ = read_config(run_dir)
        history = read_metrics(run_dir)
        tests = [r for r in history if r.get("split") == "test"]
        if not tests or tests[-1]["step"] < cfg.train.steps:
            missing += 1
            continue
        metrics = evaluate_run(run_dir)
        quarter = [r for r in tests if r["step"] <= 0.75 * cfg.train.steps]
        late_gain = tests[-1]["psnr"] - quarter[-1]["psnr"] if quarter else math.nan
        rows.append({**planned["settings"], "setting": planned["setting"], "steps": cfg.train.steps,
                     "final_train_loss": final_train_loss(history, cfg.train.steps), "late_gain": late_gain,
                     "train_seconds": tests[-1].get("wall_time", math.nan), **metrics})
    return rows, missing


def mean_std(values: list[float]) -> tuple[float, float]:
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def fmt(mean: float, std: float | None, digits: int) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None and math.isfinite(std) else "")


def axis_table(rows: list[dict[str, Any]], axis: str, fixed: tuple[str, Any], colorize: bool
               ) -> tuple[str, dict[Any, dict[str, tuple[float, float]]]]:
    """Markdown table over one axis (the other at its default ``fixed``) and the per-value summary."""
    sel = [r for r in rows if r.get(fixed[0]) == fixed[1]]
    metrics = METRICS + (COLOR_METRICS if colorize else [])
    head = ["K" if axis == "num_embeddings" else "D", "seeds"] + [m[1] for m in metrics]
    head.append("beats gray (all seeds)" if colorize else "PSNR gain, last quarter (dB)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    summary: dict[Any, dict[str, tuple[float, float]]] = {}
    for value in sorted({r[axis] for r in sel}):
        group = [r for r in sel if r[axis] == value]
        summary[value] = {m: mean_std([r.get(m) for r in group]) for m, _, _ in metrics}
        summary[value]["seeds"] = (len(group), 0.0)
        cells = [str(value), str(len(group))] + [fmt(*summary[value][m], d) for m, _, d in metrics]
        if colorize:
            cells.append("yes" if all(r["psnr"] > r["gray_psnr"] for r in group) else "**no**")
        else:
            gains = [r["late_gain"] for r in group]
            cells.append(fmt(*mean_std(gains), 2) + ("" if max(gains) < CONVERGED_DB else " (**not flat**)"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines), summary


def verdict(summary: dict[Any, dict[str, tuple[float, float]]], metric: str, lower_is_claimed: bool) -> str:
    """The rule of the module docstring, comparing the smallest and the largest value of the axis."""
    values = sorted(summary)
    if len(values) < 2:
        return "not enough settings yet"
    (ma, sa), (mb, sb) = summary[values[0]][metric], summary[values[-1]][metric]
    if not (math.isfinite(ma) and math.isfinite(mb)):
        return "no data"
    spread = math.sqrt(sa**2 + sb**2)
    change = mb - ma
    text = f"{ma:.4g} at {values[0]} → {mb:.4g} at {values[-1]} (spread {spread:.2g})"
    if min(len_a := summary[values[0]]["seeds"][0], summary[values[-1]]["seeds"][0]) < 2:
        return f"one seed only ({len_a:.0f}): {'up' if change > 0 else 'down'}, {text}"
    if abs(change) <= 2 * spread or change == 0:
        return f"within seed spread: {text}"
    claimed = change < 0 if lower_is_claimed else change > 0
    return f"{'confirmed' if claimed else 'refuted'}: {text}"


def stage_section(root: Path, stage: str, figures: Path, docs: Path) -> list[str]:
    sweep = root / stage
    if not (sweep / "sweep.json").is_file():
        return [f"## {STAGES[stage]}", "", "Not run yet.", ""]
    rows, missing = run_rows(sweep)
    plan = json.loads((sweep / "sweep.json").read_text())
    out = [f"## {STAGES[stage]}", ""]
    cmd = (sweep / "command.txt").read_text().strip() if (sweep / "command.txt").is_file() else None
    if cmd:
        out += ["```bash", cmd, "```", ""]
    seconds = sum(r["train_seconds"] for r in rows if math.isfinite(r["train_seconds"]))
    out.append(f"{len(rows)} runs finished ({seconds / 60:.0f} min of training wall time in all)"
               + (f"; **{missing} planned runs not finished yet**." if missing else "."))
    out.append("")
    if not rows:
        return out
    colorize = rows[0].get("task") == "colorize"
    if stage.endswith("-budget"):
        out += ["| steps | test PSNR (dB) | final train loss | training wall time (s) |", "|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: r["steps"]):
            out.append(f"| {r['steps']} | {r['psnr']:.2f} | {r['final_train_loss']:.5f} | {r['train_seconds']:.0f} |")
        out.append("")
        return out
    for axis, other, name in (("num_embeddings", "embedding_dim", "K"), ("embedding_dim", "num_embeddings", "D")):
        # With --vary the other axis sits at its default in every run of this axis: its most common planned value.
        fixed = (other, statistics.mode(r["settings"][other] for r in plan["runs"]))
        table, summary = axis_table(rows, axis, fixed, colorize)
        out += [f"### {name} ({fixed[0].replace('num_embeddings', 'K').replace('embedding_dim', 'D')} = {fixed[1]})",
                "", table, ""]
        if name == "K":
            out.append(f"- More K, lower final training loss: {verdict(summary, 'final_train_loss', True)}.")
            out.append(f"- More K, higher test PSNR: {verdict(summary, 'psnr', False)}.")
            if colorize:
                out.append(f"- More K, more colourful: {verdict(summary, 'colorfulness', False)}.")
        else:
            out.append(f"- Larger D, higher final training loss: {verdict(summary, 'final_train_loss', False)}.")
            out.append(f"- Larger D, blurrier (lower SSIM): {verdict(summary, 'ssim', True)}.")
            if colorize:
                out.append(f"- Larger D, more faded (less colourful): {verdict(summary, 'colorfulness', True)}.")
        out.append("")
    src = sweep / "figures"
    if src.is_dir():
        dest = figures / stage
        dest.mkdir(parents=True, exist_ok=True)
        for png in sorted(src.glob("*.png")):
            shutil.copy(png, dest / png.name)
        for name in ("psnr_vs_K", "psnr_vs_D", "usage_vs_K", "test_images"):
            if (dest / f"{name}.png").is_file():
                out.append(f"![{stage} {name}]({(dest / f'{name}.png').relative_to(docs).as_posix()})")
        out.append("")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies"), help="folder of the sweeps (kd_study.py --root)")
    p.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    p.add_argument("--output", type=Path, default=None, help="page to write (default: DOCS/experiments.md)")
    args = p.parse_args(argv)
    figures = args.docs / "figures" / "kd"
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    page = ["# Experiments: codebook size K and code dimension D", "",
            ("Generated by `python experiments/kd_page.py --root studies` from the sweeps that "
             "`python experiments/kd_study.py --root studies` runs (resumable; run it again to continue). "
             f"Machine: {cpu}, one thread per run (`OMP_NUM_THREADS=1`), `--precision auto`."), "",
            f"How to read the verdicts: {RULES}", "",
            ("An earlier study of the same questions at 150 training steps, where no model had learned yet, is "
             "kept in [experiments-150-steps.md](experiments-150-steps.md)."), ""]
    for stage in STAGES:
        page += stage_section(args.root, stage, figures, args.docs)
    out = args.output or args.docs / "experiments.md"
    out.write_text("\n".join(page) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
