"""``vqlab demo`` on the command line: localhost by default, a one-line install hint without gradio, user errors."""

import importlib.util
import sys

import pytest

from vqlab.cli import build_parser, main


def test_demo_listens_on_localhost_by_default():
    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port, args.model) == ("127.0.0.1", 7860, None)
    args = build_parser().parse_args(["demo", "--host", "0.0.0.0", "--port", "8000", "--model", "photos"])
    assert (args.host, args.port, args.model) == ("0.0.0.0", 8000, "photos")
    assert build_parser().parse_args(["demo"]).max_megapixels == 12


@pytest.mark.parametrize("bad", ["0", "-1", "nan"])
def test_pixel_limit_must_be_positive(bad, capsys):
    assert main(["demo", "--max-megapixels", bad]) == 2
    assert "--max-megapixels must be a positive number" in capsys.readouterr().err


def test_missing_gradio_is_one_line_with_the_install_command(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # 'import gradio' now raises ImportError
    assert main(["demo", "--port", "9"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert 'pip install "vqlab[demo]"' in err


@pytest.mark.skipif(importlib.util.find_spec("gradio") is None, reason="gradio is not installed (vqlab[demo])")
def test_unknown_model_is_a_user_error_before_serving(tmp_path, capsys):
    assert main(["demo", "--model", str(tmp_path / "no-such-run")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no-such-run" in err and err.count("\n") == 1
