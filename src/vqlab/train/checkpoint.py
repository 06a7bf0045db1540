"""Checkpoints in a run directory: weights in safetensors, training state in JSON, optimizer via weights_only.

Layout::

    RUN/config.json                      the run's full config
    RUN/checkpoints/step_00001000/       one checkpoint, written as a temporary folder and renamed
        model.safetensors                model weights and buffers
        optimizer.pt                     optimizer state and RNG states (loaded with weights_only=True)
        state.json                       step, wall time, format version
    RUN/checkpoints/latest               name of the newest complete checkpoint (replaced atomically)
    RUN/checkpoints/best                 name of the checkpoint with the best validation PSNR (runs whose data
                                         has a val split); never removed by the rotation that keeps the newest
"""

from __future__ import annotations

import hashlib
import json
import pickle
import shutil
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load, save_file
from torch import nn

from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write_text

FORMAT = "vqlab-checkpoint-1"
CHECKPOINT_CHOICES = ("latest", "best")


def _checkpoint_dirs(run_dir: Path) -> list[Path]:
    root = run_dir / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))


def save_checkpoint(
    run_dir: Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any],
    keep: int = 2,
) -> Path:
    """Write a complete checkpoint for ``step``, point ``latest`` at it, keep the newest ``keep`` (and ``best``)."""
    root = run_dir / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    name = f"step_{step:08d}"
    tmp = root / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(weights, str(tmp / "model.safetensors"), metadata={"format": FORMAT})
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    torch.save({"optimizer": optimizer.state_dict(), "rng": rng}, tmp / "optimizer.pt")
    (tmp / "state.json").write_text(json.dumps({"format": FORMAT, "step": step, **state}, indent=2) + "\n")
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    atomic_write_text(root / "latest", name + "\n")
    prune_checkpoints(run_dir, keep)
    return final


def prune_checkpoints(run_dir: Path, keep: int) -> None:
    """Remove every checkpoint folder but the newest ``keep``, the one ``latest`` names and the one ``best``
    names."""
    kept = {latest_checkpoint(run_dir), best_checkpoint(run_dir)}
    for old in _checkpoint_dirs(run_dir)[:-keep]:
        if old not in kept:
            shutil.rmtree(old, ignore_errors=True)


def mark_best(run_dir: Path, step: int, keep: int = 2) -> Path:
    """Point ``best`` at the (complete) checkpoint of ``step``; the previous best is then pruned like any
    checkpoint older than the newest ``keep``."""
    root = run_dir / "checkpoints"
    name = f"step_{step:08d}"
    if not (root / name / "state.json").is_file():
        raise VQLabError(f"cannot mark step {step} as best: {root / name} is not a complete checkpoint")
    atomic_write_text(root / "best", name + "\n")
    prune_checkpoints(run_dir, keep)
    return root / name


def best_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint folder ``best`` names (best validation PSNR), or None when the run has none."""
    pointer = run_dir / "checkpoints" / "best"
    if not pointer.is_file():
        return None
    candidate = run_dir / "checkpoints" / pointer.read_text().strip()
    return candidate if (candidate / "state.json").is_file() else None


def find_checkpoint(run_dir: Path, which: str = "latest") -> Path:
    """The checkpoint folder ``which`` (``latest`` or ``best``) of a run; VQLabError when it has none."""
    if which not in CHECKPOINT_CHOICES:
        raise VQLabError(f"unknown checkpoint {which!r} (choose from {', '.join(CHECKPOINT_CHOICES)})")
    if which == "best":
        ckpt = best_checkpoint(run_dir)
        if ckpt is None:
            raise VQLabError(f"run {run_dir} has no best checkpoint (it is chosen on a validation split; this run "
                             "had none, or no evaluation yet); use the latest checkpoint")
        return ckpt
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise VQLabError(f"run {run_dir} has no checkpoint yet (train it first)")
    return ckpt


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint folder of a run, or None when it has none."""
    pointer = run_dir / "checkpoints" / "latest"
    if pointer.is_file():
        candidate = run_dir / "checkpoints" / pointer.read_text().strip()
        if (candidate / "state.json").is_file():
            return candidate
    complete = [p for p in _checkpoint_dirs(run_dir) if (p / "state.json").is_file()]
    return complete[-1] if complete else None


def read_state(ckpt: Path) -> dict[str, Any]:
    """The JSON training state of a checkpoint folder."""
    try:
        state = json.loads((ckpt / "state.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise VQLabError(f"checkpoint {ckpt} has an unreadable state.json: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("step"), int):
        raise VQLabError(f"checkpoint {ckpt} is not a {FORMAT} checkpoint")
    return state


def load_weights(ckpt: Path, model: nn.Module) -> bytes:
    """Load ``model.safetensors`` into ``model`` strictly; mismatches are VQLabErrors.

    Returns the :func:`fingerprint` of the very bytes loaded (the file is read once), so it names these weights
    even if a training process replaces the checkpoint a moment later.
    """
    path = ckpt / "model.safetensors"
    try:
        data = path.read_bytes()
        weights = load(data)
    except (OSError, SafetensorError, ValueError) as exc:
        raise VQLabError(f"cannot read weights {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        first = str(exc).splitlines()[0]
        raise VQLabError(f"weights in {path} do not match the run's model: {first}") from None
    return _digest(data)


def _refusal_reason(exc: Exception) -> str:
    """What torch's long weights_only refusal says was refused (its first line after "WeightsUnpickler error:")."""
    _, found, rest = str(exc).partition("WeightsUnpickler error:")
    lines = [line.strip() for line in rest.splitlines() if line.strip()]
    return lines[0].split(". ")[0].rstrip(".") if found and lines else type(exc).__name__


def load_training_state(ckpt: Path, optimizer: torch.optim.Optimizer) -> None:
    """Restore optimizer state and RNG states from ``optimizer.pt`` (weights_only=True: no code runs)."""
    path = ckpt / "optimizer.pt"
    try:
        with warnings.catch_warnings():
            # torch warns about an unusual pickle protocol before it refuses such a file: the error says it all.
            warnings.simplefilter("ignore")
            blob = torch.load(path, map_location="cpu", weights_only=True)
        optimizer.load_state_dict(blob["optimizer"])
        torch.set_rng_state(blob["rng"]["torch"])
        if "cuda" in blob["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(blob["rng"]["cuda"])
    except VQLabError:
        raise
    except pickle.UnpicklingError as exc:
        raise VQLabError(f"cannot restore training state from {path}: refused to unpickle it, it holds more than "
                         f"tensors and plain containers ({_refusal_reason(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file raises many exception types
        raise VQLabError(f"cannot restore training state from {path}: {type(exc).__name__}") from None


def _digest(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:16]


def fingerprint(ckpt: Path) -> bytes:
    """16-byte model fingerprint: the first 16 bytes of the SHA-256 of the checkpoint's ``model.safetensors``.

    Files derived from a model (a PixelCNN prior, ``.vqz`` code files) store it and are refused by any other model.
    """
    path = ckpt / "model.safetensors"
    try:
        return _digest(path.read_bytes())
    except OSError as exc:
        raise VQLabError(f"cannot read weights {path}: {exc.strerror or exc}") from None
