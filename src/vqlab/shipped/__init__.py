"""Trained models shipped inside the package, usable right after ``pip install``: ``vqlab.load("colorize")``,
``vqlab colorize photo.jpg -o out.png``, ``vqlab models``.

Each shipped model is a minimal run directory in this folder (``NAME/config.json``, one checkpoint, a PixelCNN
prior where the model samples) plus ``NAME/card.json``: what it is, the command that trained it, the data, and
test metrics measured on a fixed subset with exactly these weights (weights are stored in float16 to keep the
package small and loaded into float32). ``experiments/ship_models.py`` packs a run into this form and rebuilds
every shipped model from scratch.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from vqlab.errors import VQLabError

SHIPPED_DIR = Path(__file__).resolve().parent
CARD = "card.json"
# The shipped model each inference command uses when it is given images but no run directory.
DEFAULT_FOR = {"colorize": "colorize", "reconstruct": "photos", "sample": "fashion", "mix": "fashion"}


def names() -> list[str]:
    """Names of the shipped models, sorted."""
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / CARD).is_file())


def card(name: str) -> dict[str, Any]:
    """The model card of a shipped model (what, how trained, test metrics)."""
    try:
        return json.loads((path(name) / CARD).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise VQLabError(f"the card of shipped model {name!r} is unreadable: {exc}") from None


def path(name: str) -> Path:
    """The run directory of a shipped model."""
    if name not in names():
        raise VQLabError(f"no shipped model named {name!r} (shipped: {', '.join(names()) or 'none'})")
    return SHIPPED_DIR / name


def is_run_dir(p: Path) -> bool:
    """True for a folder holding a run's config.json."""
    return p.is_dir() and (p / "config.json").is_file()


def resolve(run_or_name: str | os.PathLike[str]) -> Path:
    """A run directory for a path or a shipped model's name (a folder of that name in the working directory wins
    only if it is a run directory)."""
    p = Path(run_or_name).expanduser()
    shipped_name = str(run_or_name) in names()
    if p.exists() and (is_run_dir(p) or not shipped_name):
        return p
    if shipped_name:
        return SHIPPED_DIR / str(run_or_name)
    raise VQLabError(f"run directory {run_or_name} does not exist, and no shipped model has that name "
                     f"(shipped: {', '.join(names()) or 'none'}; see 'vqlab models')")
