"""vqlab report: one self-contained HTML page (no external file, no script) and report.md; headless Chromium
renders it without console messages when chromium is installed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import run_cli


@pytest.fixture(scope="module")
def report(interrupted_sweep, tmp_path_factory):
    html = tmp_path_factory.mktemp("report") / "report.html"
    proc = run_cli("report", str(interrupted_sweep["out"]), "-o", str(html))
    assert proc.returncode == 0, proc.stderr
    return html


def test_report_is_self_contained(report):
    text = report.read_text()
    refs = re.findall(r"""(?:src|href)\s*=\s*['"]([^'"]*)['"]""", text, flags=re.IGNORECASE)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs)
    assert "<script" not in text.lower() and "url(" not in text.lower() and "@import" not in text.lower()
    assert "Effect of K" in text and "Effect of D" in text and "K16-D8-s0" in text


def test_report_md_references_the_figures(report, interrupted_sweep):
    md = (report.parent / "report.md").read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert links and all((report.parent / link).is_file() for link in links)
    assert "| K | D | seeds | final train loss |" in md


def test_report_of_a_folder_that_is_not_a_sweep(tmp_path):
    proc = run_cli("report", str(tmp_path))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "vqlab sweep" in proc.stderr


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_report_renders_in_headless_chromium_without_console_messages(report, tmp_path):
    proc = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0", "--dump-dom",
         report.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "<h1>" in proc.stdout and proc.stdout.count("<img") >= 6
    problems = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    assert not problems, problems


def _md_tables(md: str) -> dict[str, list[list[str]]]:
    """Section title -> rows of cells (header first, separator left out) of each markdown table."""
    tables = {}
    for section in md.split("\n## ")[1:]:
        title, _, body = section.partition("\n")
        rows = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in body.splitlines() if ln.startswith("|")]
        if rows:
            tables[title.strip()] = [rows[0], *rows[2:]]
    return tables


def test_colorize_report_has_a_gray_baseline_row_in_every_table(colorize_sweep, tmp_path):
    from vqlab.experiments.report import write_report

    _, md = write_report(colorize_sweep, tmp_path / "report.html")
    tables = _md_tables(md.read_text())
    assert set(tables) == {"Effect of K", "Effect of D", "Runs"}
    for title, (header, *rows) in tables.items():
        gray = [r for r in rows if r[0] == "gray baseline"]
        assert len(gray) == 1 and rows[0] is gray[0], title
        psnr = header.index("psnr" if title == "Runs" else "test PSNR (dB)")
        ssim = header.index("ssim" if title == "Runs" else "test SSIM")
        colour = header.index("colorfulness" if title == "Runs" else "colourfulness")
        assert gray[0][psnr].startswith("21.50") and gray[0][ssim].startswith("0.810")
        assert gray[0][colour].startswith("0.0") and rows[1][colour] != "-"


def test_a_column_empty_for_every_run_is_left_out(colorize_sweep, report, tmp_path):
    from vqlab.experiments.report import write_report

    _, md = write_report(colorize_sweep, tmp_path / "report.html")
    text = md.read_text()
    assert "bits/dim" not in text and "bits_per_dim" not in text
    plain = (report.parent / "report.md").read_text()  # the reconstruct sweep: bits/dim kept, no colourfulness
    assert "bits/dim" in plain and "colourfulness" not in plain and "colorfulness" not in plain
    assert "gray baseline" not in plain


def test_numbers_are_formatted_alike_in_each_column(colorize_sweep, tmp_path):
    from vqlab.experiments.report import write_report

    _, md = write_report(colorize_sweep, tmp_path / "report.html")
    tables = _md_tables(md.read_text())
    header, *rows = tables["Runs"]
    losses = [r[header.index("final_train_loss")] for r in rows if r[0] != "gray baseline"]
    assert "7.971e-05" in losses and "5.200e-03" in losses
    assert all(re.fullmatch(r"\d\.\d{3}e[-+]\d\d", v) for v in losses), losses
    for title in ("Effect of K", "Effect of D"):
        header, *rows = tables[title]
        cells = [r[header.index("final train loss")] for r in rows if r[0] != "gray baseline"]
        assert all(re.fullmatch(r"\d\.\d{3}e[-+]\d\d ± \d\.\d{3}e[-+]\d\d", c) for c in cells), cells
        shapes = {re.sub(r"\d", "0", r[header.index("test PSNR (dB)")]) for r in rows}
        assert shapes == {"00.00 ± 0.00"}, shapes
