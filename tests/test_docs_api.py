"""docs/api.md works as written: its first bash block's vqlab commands (on a tiny image folder, fewer steps) make the
runs, then every python block runs in order in one namespace."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_cli

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", DOC.read_text(), flags=re.DOTALL | re.MULTILINE)


def _speed_overrides(command: list[str], images: Path) -> list[str]:
    """Flags appended to a documented command (argparse: the last value wins) so it runs in seconds here."""
    if command[0] == "train":
        return ["--data", f"folder:{images}", "--steps", "30", "--eval-every", "30", "--checkpoint-every", "30",
                "--precision", "fp32", "--no-progress"]
    if command[0] == "prior":
        return ["--steps", "30", "--batch-size", "16", "--no-progress"]
    return []


@pytest.fixture(scope="module")
def session(image_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder in which the documented bash commands have made runs/demo (with its prior) and runs/color."""
    root = tmp_path_factory.mktemp("docs-api")
    commands = [line.split("#")[0].strip() for line in _blocks("bash")[0].splitlines()]
    commands = [shlex.split(c)[1:] for c in commands if c.startswith("vqlab ")]
    assert [c[0] for c in commands] == ["train", "prior", "train"]
    for command in commands:
        proc = run_cli(*command, *_speed_overrides(command, image_folder), cwd=root)
        assert proc.returncode == 0, f"{command}: {proc.stderr}"
    return root


def test_python_blocks_run_in_order(session: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    blocks = _blocks("python")
    assert len(blocks) >= 6
    monkeypatch.chdir(session)
    namespace: dict = {"__name__": "docs_api"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{DOC.name}[python block {i}]", "exec"), namespace)  # noqa: S102
    out = capsys.readouterr().out
    assert "(51, 76) int64" in out and "(304, 204)" in out and "16 (32, 32)" in out
    assert "(301, 203) RGB" in out and "colorize task" in out
    for name in ("astronaut_recon.png", "astronaut_edited.png", "sample_00.png", "astronaut_coffee.png",
                 "astronaut_colour.png"):
        with Image.open(session / name) as im:
            assert im.mode == "RGB"


@pytest.mark.parametrize("size", [(301, 203), (1, 1), (7, 5), (32, 32), (64, 17)])
def test_colorize_of_a_pil_image_keeps_its_size(session: Path, size: tuple[int, int]) -> None:
    import vqlab

    model = vqlab.load(session / "runs" / "color")
    rng = np.random.default_rng(size[0])
    gray = Image.fromarray(rng.integers(0, 256, (size[1], size[0]), dtype=np.uint8))
    out = model.colorize(gray)
    assert isinstance(out, Image.Image) and out.size == size and out.mode == "RGB"
    assert model.colorize(gray.convert("RGB")).size == size
