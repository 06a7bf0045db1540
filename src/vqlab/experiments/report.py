"""The report of a sweep: one self-contained HTML page (figures embedded as base64 PNG, inline CSS, no scripts,
no external files) and ``report.md`` next to it, referencing the figure files."""

from __future__ import annotations

import base64
import html
import math
import os
from pathlib import Path
from typing import Any

from vqlab.experiments.figures import short
from vqlab.experiments.results import axis_groups, read_results, summarize
from vqlab.experiments.sweep import read_plan
from vqlab.fileio import atomic_write_text

CSS = """body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;
padding:0 1em;color:#222}table{border-collapse:collapse;margin:.6em 0 1.4em;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f2f2f2}td:first-child,th:first-child
{text-align:left}figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}img{max-width:100%}
figcaption{font-size:12px;color:#555}code{background:#f4f4f4;padding:1px 4px}"""
HEADLINE = (("final_train_loss", "final train loss", ".4g"), ("psnr", "test PSNR (dB)", ".2f"),
            ("codebook_usage", "usage", ".3f"), ("perplexity", "perplexity", ".1f"),
            ("bits_per_dim", "bits/dim", ".3f"))
RUN_COLUMNS = (("final_train_loss", ".4g"), ("psnr", ".2f"), ("ssim", ".3f"), ("codebook_usage", ".3f"),
               ("perplexity", ".1f"), ("bits_per_dim", ".3f"), ("wall_time", ".0f"))
FIGURE_ORDER = ("final_loss", "loss_curves", "psnr", "usage", "test_images")


def _fmt(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def headline_tables(rows: list[dict[str, Any]], axes: list[str]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, cells) per varied option: each setting along it, metrics as mean ± std over seeds.
    With no varied option (or none with 2+ values in a group), one table of every setting."""
    tables = []
    for axis in axes:
        members = [r for g in axis_groups(rows, axes, axis).values() for r in g]
        if not members:
            continue
        others = [a for a in axes if a != axis]
        summary = sorted(summarize(members, axes), key=lambda s: (str(type(s[axis])), s[axis]))
        headers = [short(axis), *[short(a) for a in others], "seeds", *[h for _, h, _ in HEADLINE]]
        cells = [[str(s[axis]), *[str(s[a]) for a in others], str(s["seeds"]),
                  *[f"{_fmt(s[m + '_mean'], f)} ± {_fmt(s[m + '_std'], f)}" for m, _, f in HEADLINE]]
                 for s in summary]
        tables.append((f"Effect of {short(axis)}", headers, cells))
    if not tables:
        summary = summarize(rows, axes)
        headers = ["setting", "seeds", *[h for _, h, _ in HEADLINE]]
        cells = [[s["setting"], str(s["seeds"]),
                  *[f"{_fmt(s[m + '_mean'], f)} ± {_fmt(s[m + '_std'], f)}" for m, _, f in HEADLINE]]
                 for s in summary]
        tables.append(("All settings", headers, cells))
    return tables


def run_table(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and cells of the per-run table."""
    headers = ["run", "seed", "steps", *[k for k, _ in RUN_COLUMNS]]
    return headers, [[str(r.get("name")), str(r.get("seed")), str(r.get("steps")),
                      *[_fmt(r.get(k), f) for k, f in RUN_COLUMNS]] for r in rows]


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
