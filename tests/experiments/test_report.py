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
