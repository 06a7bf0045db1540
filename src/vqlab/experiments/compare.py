"""Side-by-side tables of evaluated runs: aligned text, Markdown or CSV."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

# (header, metrics key, format)
COLUMNS: list[tuple[str, str, str]] = [
    ("run", "name", "s"), ("model", "model", "s"), ("likelihood", "likelihood", "s"), ("K", "K", "d"),
    ("D", "D", "d"), ("steps", "step", "d"), ("wall s", "wall_time", ".0f"), ("bits/dim", "bits_per_dim", ".3f"),
    ("bound", "bound", "s"), ("elbo bits/dim", "elbo_bits_per_dim", ".3f"), ("MSE", "mse", ".5f"),
    ("PSNR", "psnr", ".2f"), ("perplexity", "perplexity", ".1f"), ("usage", "codebook_usage", ".3f"),
]


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if fmt == "s":
        return str(value)
    try:
        return format(value, fmt)
    except (TypeError, ValueError):
        return str(value)


def table_rows(results: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and formatted cells, one row per evaluated run (``name`` is the run folder's name)."""
    headers = [h for h, _, _ in COLUMNS]
    rows = [[_cell(r.get(key), fmt) for _, key, fmt in COLUMNS] for r in results]
    return headers, rows


def format_text(results: list[dict[str, Any]]) -> str:
    """An aligned plain-text table (numbers right-aligned)."""
    headers, rows = table_rows(results)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    left = {i for i, (_, _, fmt) in enumerate(COLUMNS) if fmt == "s"}

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]) + "\n"


def format_markdown(results: list[dict[str, Any]]) -> str:
    """A GitHub Markdown table (``|`` inside cells, as in p(x|z), is escaped)."""
    headers, rows = table_rows(results)
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def format_csv(results: list[dict[str, Any]]) -> str:
    """CSV with the same columns; numbers unrounded."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([h for h, _, _ in COLUMNS])
    for r in results:
        writer.writerow(["" if r.get(key) is None else r.get(key) for _, key, _ in COLUMNS])
    return buf.getvalue()


FORMATS = {"text": format_text, "markdown": format_markdown, "csv": format_csv}
