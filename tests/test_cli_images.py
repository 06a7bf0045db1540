"""``vqlab reconstruct`` / ``vqlab colorize`` on several images and folders (tiny untrained runs, in-process)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli
from tests.fake_run import make_run
from vqlab import cli


def _image(path: Path, size: tuple[int, int], seed: int = 0) -> Path:
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return make_run(tmp_path_factory.mktemp("cli-img") / "vq")


def _error(capsys, argv: list[str], *needles: str) -> None:
    assert cli.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for needle in needles:
        assert needle in err[0], err[0]


def test_several_images_go_into_a_folder_named_after_them(run, tmp_path, capsys) -> None:
    a, b = _image(tmp_path / "in" / "a.png", (21, 9)), _image(tmp_path / "in" / "b.jpg", (8, 8), 1)
    out = tmp_path / "out" / "new"
    assert cli.main(["reconstruct", str(run), str(a), str(b), "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"wrote 2 images to {out}" in captured.out and "2/2" in captured.err  # the progress bar
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.jpg"]
    with Image.open(out / "a.png") as im, Image.open(out / "b.jpg") as jm:
        assert im.size == (21, 9) and im.format == "PNG" and jm.size == (8, 8) and jm.format == "JPEG"


def test_a_folder_input_and_no_progress(run, tmp_path, capsys) -> None:
    folder = tmp_path / "photos"
    for i, size in enumerate([(5, 7), (16, 16), (30, 2)]):
        _image(folder / f"p{i}.png", size, i)
    (folder / "notes.txt").write_text("not an image")
    out = tmp_path / "recon"
    assert cli.main(["reconstruct", str(run), str(folder), "-o", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "wrote 3 images" in captured.out
    for i, size in enumerate([(5, 7), (16, 16), (30, 2)]):
        with Image.open(out / f"p{i}.png") as im:
            assert im.size == size


def test_single_image_keeps_writing_the_named_file(run, tmp_path, capsys) -> None:
    src = _image(tmp_path / "x.png", (13, 11))
    assert cli.main(["reconstruct", str(run), str(src), "-o", str(tmp_path / "y.png")]) == 0
    assert capsys.readouterr().out.strip() == f"wrote {tmp_path / 'y.png'}"
    with Image.open(tmp_path / "y.png") as im:
        assert im.size == (13, 11)
    (tmp_path / "existing").mkdir()  # an existing folder as -o takes the image under its own name
    assert cli.main(["reconstruct", str(run), str(src), "-o", str(tmp_path / "existing")]) == 0
    assert (tmp_path / "existing" / "x.png").is_file()


def test_input_errors_are_one_line_and_write_nothing(run, tmp_path, capsys) -> None:
    a = _image(tmp_path / "in" / "a.png", (8, 8))
    out = tmp_path / "out"
    _error(capsys, ["reconstruct", run, a, tmp_path / "missing.png", "-o", out], "not found", "missing.png")
    assert not out.exists()
    (tmp_path / "empty").mkdir()
    _error(capsys, ["reconstruct", run, tmp_path / "empty", "-o", out], "no image files")
    (tmp_path / "file.png").write_bytes(b"")
    _error(capsys, ["reconstruct", run, a, a, "-o", tmp_path / "file.png"], "must be a folder")
    _error(capsys, ["reconstruct", run, tmp_path / "in", "-o", tmp_path / "in"], "overwrite the input")
    _image(tmp_path / "other" / "a.png", (8, 8))
    _error(capsys, ["reconstruct", run, a, tmp_path / "other" / "a.png", "-o", out], "both be written")
    _error(capsys, ["reconstruct", run, a, "-o", tmp_path / "out.unknown"], "extension")
    junk = tmp_path / "bad" / "junk.png"
    junk.parent.mkdir()
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    _error(capsys, ["reconstruct", run, junk, "-o", tmp_path / "j.png"], "junk.png")
    _error(capsys, ["colorize", run, a, "-o", out / "c.png"], "reconstruct task")
    assert not out.exists() and not (tmp_path / "j.png").exists()


def test_several_images_through_the_real_command(run, tmp_path) -> None:
    color = make_run(tmp_path / "color", task="colorize")
    a, b = _image(tmp_path / "a.png", (17, 9)), _image(tmp_path / "b.png", (4, 3), 1)
    proc = run_cli("colorize", str(color), str(a), str(b), "-o", str(tmp_path / "out"), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    with Image.open(tmp_path / "out" / "a.png") as im, Image.open(tmp_path / "out" / "b.png") as jm:
        assert im.size == (17, 9) and jm.size == (4, 3)
    proc = run_cli("colorize", str(color), str(a), str(tmp_path / "nope.png"), "-o", str(tmp_path / "o2"))
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
