"""Report tables: one number format per column, empty columns dropped, mean ± std cells."""

from __future__ import annotations

import math

from vqlab.experiments.tables import Column, column_spec, format_cell, render


def test_a_sig_column_uses_one_notation_for_all_its_cells():
    spec = column_spec("sig", [7.971e-05, 0.0052, 0.31])
    assert spec == ".3e"
    assert [format_cell(v, spec) for v in (7.971e-05, 0.0052)] == ["7.971e-05", "5.200e-03"]
    spec = column_spec("sig", [0.0052, 0.31, 1.5])  # 4 significant digits of the smallest, fixed decimals
    assert spec == ".6f" and format_cell(0.31, spec) == "0.310000"
    assert column_spec("sig", [312.4, 8.1]) == ".3f" and column_spec("sig", [2.0e7, 1.0e6]) == ".3e"
    assert column_spec("sig", [0.0, None]) == ".0f" and column_spec(".2f", [1e-9]) == ".2f"


def test_pairs_and_missing_values():
    assert format_cell((24.314, 0.1), ".2f") == "24.31 ± 0.10"
    assert format_cell((math.nan, math.nan), ".2f") == "-" and format_cell(None, ".2f") == "-"
    assert format_cell((1.0, math.nan), ".1f") == "1.0 ± -" and format_cell("K8", None) == "K8"


def test_render_drops_numeric_columns_without_any_value():
    headers, rows = render([Column("run", ["a", "b"]), Column("psnr", [20.0, 21.5], ".2f"),
                            Column("bits", [math.nan, None], ".3f"), Column("loss", [(1e-3, 0.0), (0.02, 0.001)], "sig"),
                            Column("note", ["", ""])])
    assert headers == ["run", "psnr", "loss", "note"]
    assert rows == [["a", "20.00", "0.001000 ± 0.000000", ""], ["b", "21.50", "0.020000 ± 0.001000", ""]]
