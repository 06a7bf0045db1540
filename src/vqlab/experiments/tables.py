"""Text tables of numbers for the sweep report: one number format per column, columns without any value dropped.

A numeric column has a rule: a format spec with fixed decimals (``.2f`` for PSNR in dB), used as is, or ``sig``
for metrics whose scale is not known in advance (losses): the whole column then gets fixed decimals showing
:data:`SIG_DIGITS` significant digits of its smallest nonzero magnitude, or scientific notation for every cell
when that would take more than :data:`MAX_DECIMALS` decimals (or the largest magnitude is 1e6 or more). Either
way one column never mixes ``7.971e-05`` with ``0.0052``. A cell is a number, a ``(mean, std)`` pair (printed
``mean ± std``, both with the column's format), text, or empty (None/NaN, printed ``-``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SIG_DIGITS = 4
MAX_DECIMALS = 6
EMPTY = "-"


@dataclass
class Column:
    """A table column: its header, one cell per row and its number rule (None: a text column, never dropped)."""

    header: str
    cells: list[Any]
    rule: str | None = None


def is_number(value: Any) -> bool:
    """A finite int or float (bools are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _lead(cell: Any) -> Any:
    """The number that decides a cell's scale and emptiness: the mean of a (mean, std) pair, else the cell."""
    return cell[0] if isinstance(cell, tuple) else cell


def is_empty(cell: Any) -> bool:
    """No number in the cell (None, NaN, text, a pair whose mean is one of those)."""
    return not is_number(_lead(cell))


def column_spec(rule: str, cells: list[Any]) -> str:
    """The format spec of every number of a column with ``rule`` (see the module docstring)."""
    if rule != "sig":
        return rule
    nonzero = [abs(float(_lead(c))) for c in cells if not is_empty(c) and _lead(c) != 0]
    if not nonzero:
        return ".0f"
    decimals = max(0, SIG_DIGITS - 1 - math.floor(math.log10(min(nonzero))))
    if decimals > MAX_DECIMALS or max(nonzero) >= 1e6:
        return f".{SIG_DIGITS - 1}e"
    return f".{decimals}f"


def format_cell(cell: Any, spec: str | None) -> str:
    """One cell as text with the column's spec."""
    if isinstance(cell, tuple):
        mean, std = cell
        return EMPTY if is_empty(mean) else f"{format_cell(mean, spec)} ± {format_cell(std, spec)}"
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return EMPTY
    if spec is None or not is_number(cell):
        return str(cell)
    return format(cell, spec)


def render(columns: list[Column]) -> tuple[list[str], list[list[str]]]:
    """Headers and text rows of ``columns``, leaving out numeric columns in which every cell is empty."""
    kept = [c for c in columns if c.rule is None or not all(is_empty(cell) for cell in c.cells)]
    specs = [None if c.rule is None else column_spec(c.rule, c.cells) for c in kept]
    rows = len(columns[0].cells) if columns else 0
    return [c.header for c in kept], [[format_cell(c.cells[i], s) for c, s in zip(kept, specs)] for i in range(rows)]
