"""The report of a sweep: one self-contained HTML page (figures embedded as base64 PNG, inline CSS, no scripts,
no external files) and ``report.md`` next to it, referencing the figure files."""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path
from typing import Any

from vqlab.experiments.figures import short
from vqlab.experiments.results import axis_groups, gray_baseline, read_results, summarize
from vqlab.experiments.sweep import read_plan
from vqlab.experiments.tables import Column, render
from vqlab.fileio import atomic_write_text

CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
padding:0 1em;color:#222}table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}td:first-child,th:first-child
{text-align:left}figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}img{max-width:100%}
figcaption{font-size:12px;color:#555}code{background:#f4f4f4;padding:1px 4px}"""
# (metric, header, number rule of vqlab.experiments.tables: fixed decimals, or "sig" for 4 significant digits).
HEADLINE = (("final_train_loss", "final train loss", "sig"), ("psnr", "test PSNR (dB)", ".2f"),
            ("ssim", "test SSIM", ".3f"), ("colorfulness", "colourfulness", ".1f"),
            ("codebook_usage", "usage", ".3f"), ("perplexity", "perplexity", ".1f"),
            ("bits_per_dim", "bits/dim", ".3f"))
RUN_COLUMNS = (("final_train_loss", "sig"), ("psnr", ".2f"), ("ssim", ".3f"), ("colorfulness", ".1f"),
               ("codebook_usage", ".3f"), ("perplexity", ".1f"), ("bits_per_dim", ".3f"), ("wall_time", ".0f"))
FIGURE_ORDER = ("final_loss", "loss_curves", "psnr", "usage", "test_images")
GRAY_LABEL = "gray baseline"


def _label_columns(labels: dict[str, list[str]], gray: bool) -> list[Column]:
    """Text columns; with ``gray`` a first row naming the gray baseline."""
    return [Column(h, ([GRAY_LABEL if i == 0 else ""] if gray else []) + cells) for i, (h, cells) in
            enumerate(labels.items())]


def _summary_table(labels: dict[str, list[str]], members: list[dict[str, Any]],
                   summary: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Label columns, then each HEADLINE metric as mean ± std, with the gray baseline's row first if any."""
    gray = gray_baseline(members)
    columns = _label_columns(labels, bool(gray))
    for m, header, rule in HEADLINE:
        cells = [(s[m + "_mean"], s[m + "_std"]) for s in summary]
        columns.append(Column(header, ([gray.get(m)] if gray else []) + cells, rule))
    return render(columns)


def headline_tables(rows: list[dict[str, Any]], axes: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, cells) per varied option: each setting along it, metrics as mean ± std over seeds, and
    for colorize runs a first row with the gray input's own PSNR/SSIM/colourfulness. With no varied option (or
    none with 2+ values in a group), one table of every setting. Metrics no run has are left out."""
    metrics = tuple(m for m, _, _ in HEADLINE)
    tables = []
    for axis in axes:
        members = [r for g in axis_groups(rows, axes, axis).values() for r in g]
        if not members:
            continue
        others = [a for a in axes if a != axis]
        summary = sorted(summarize(members, axes, metrics), key=lambda s: (str(type(s[axis])), s[axis]))
        labels = {short(axis): [str(s[axis]) for s in summary],
                  **{short(a): [str(s[a]) for s in summary] for a in others},
                  "seeds": [str(s["seeds"]) for s in summary]}
        tables.append((f"Effect of {short(axis)}", *_summary_table(labels, members, summary)))
    if not tables:
        summary = summarize(rows, axes, metrics)
        labels = {"setting": [s["setting"] for s in summary], "seeds": [str(s["seeds"]) for s in summary]}
        tables.append(("All settings", *_summary_table(labels, rows, summary)))
    return tables


def run_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the per-run table (a first gray-baseline row for colorize runs)."""
    gray = gray_baseline(rows)
    columns = _label_columns({"run": [str(r.get("name")) for r in rows], "seed": [str(r.get("seed")) for r in rows],
                              "steps": [str(r.get("steps")) for r in rows]}, bool(gray))
    for k, rule in RUN_COLUMNS:
        first = [gray[k][0] if k in gray else None] if gray else []
        columns.append(Column(k, first + [r.get(k) for r in rows], rule))
    return render(columns)


def figure_files(out: Path) -> list[Path]:
    """The sweep's PNG figures in reading order."""
    pngs = sorted((Path(out) / "figures").glob("*.png"))
    rank = {p: next((i for i, k in enumerate(FIGURE_ORDER) if p.stem.startswith(k)), len(FIGURE_ORDER)) for p in pngs}
    return sorted(pngs, key=lambda p: (rank[p], p.name))


def _html_table(headers: list[str], cells: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in cells)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(headers: list[str], cells: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells]) + "\n"


def _intro(plan: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    axes = ", ".join(short(a) for a in plan["axes"]) or "nothing"
    seeds = sorted({r.get("seed") for r in rows}, key=str)
    mode = "one option at a time, the others at their defaults" if plan.get("vary") else "the full product"
    first = rows[0] if rows else {}
    facts = ", ".join(f"{k}={first[k]}" for k in ("model", "task", "hidden", "K", "D", "steps") if k in first)
    return (f"{len(rows)} runs varying {axes} ({mode}); seeds {', '.join(map(str, seeds))}. First run: {facts}. "
            f"Final training loss: mean of the training loss over the last 5% of steps. Test metrics: "
            f"vqlab evaluate on the held-out test split.")


def write_report(out: str | Path, output: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.html`` (default ``OUT/report.html``) and ``report.md`` next to it; returns both paths."""
    out = Path(out)
    plan = read_plan(out)
    rows = read_results(out)
    html_path = Path(output) if output is not None else out / "report.html"
    md_path = html_path.with_name("report.md")
    tables = headline_tables(rows, list(plan["axes"]))
    run_headers, run_cells = run_table(rows)
    figures = figure_files(out)
    title = f"vqlab sweep: {out.name or out}"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
             f"<p>{html.escape(_intro(plan, rows))}</p>"]
    md = [f"# {title}\n", _intro(plan, rows) + "\n"]
    for name, headers, cells in tables:
        parts += [f"<h2>{html.escape(name)}</h2>", _html_table(headers, cells)]
        md += [f"## {name}\n", _md_table(headers, cells)]
    parts.append("<h2>Figures</h2>")
    md.append("## Figures\n")
    for png in figures:
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        caption = png.stem.replace("_", " ")
        parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        rel = Path(os.path.relpath(png.resolve(), md_path.parent.resolve())).as_posix()
        md.append(f"![{caption}]({rel})\n")
    parts += ["<h2>Runs</h2>", _html_table(run_headers, run_cells), "</body></html>\n"]
    md += ["## Runs\n", _md_table(run_headers, run_cells)]
    atomic_write_text(html_path, "\n".join(parts))
    atomic_write_text(md_path, "\n".join(md))
    return html_path, md_path
