"""Helpers shared by the study scripts in experiments/ (generation_study.py, comparison_study.py).

A study works in one root folder. Every step is a ``vqlab`` command run in a subprocess from that folder (so
the commands on the page are the ones a user types, with paths relative to the root), logged with its wall
time in ROOT/commands.jsonl. A step whose output is already there is skipped, so a study stopped part-way is
continued by running the same command again.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

LOG_FILE = "commands.jsonl"


class Study:
    """A root folder, the log of the commands run in it, and the runner of ``vqlab`` commands."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def vqlab(self, *args: Any, tag: str = "", capture: bool = False) -> str:
        """Run ``python -m vqlab ARGS`` with the root as working directory; log it with its wall time.

        Returns the command's stdout when ``capture`` (it is also printed), else "". A failing command raises
        CalledProcessError (the study stops; run it again to continue)."""
        words = [str(a) for a in args]
        shown = "vqlab " + shlex.join(words)
        print(f"[{time.strftime('%H:%M:%S')}] {shown}", flush=True)
        start = time.time()
        proc = subprocess.run([sys.executable, "-m", "vqlab", *words], cwd=self.root, check=True, text=True,
                              stdout=subprocess.PIPE if capture else None)
        seconds = time.time() - start
        if capture:
            print(proc.stdout, end="", flush=True)
        with open(self.root / LOG_FILE, "a") as f:
            f.write(json.dumps({"tag": tag, "command": shown, "seconds": round(seconds, 1),
                                "finished": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
        return proc.stdout if capture else ""

    def rel(self, path: Path) -> str:
        """``path`` relative to the root when it lies inside it (as the logged commands show it)."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def read_log(root: Path) -> list[dict[str, Any]]:
    """The logged commands of a study (a torn last line is ignored)."""
    from vqlab.train.run import read_jsonl

    return read_jsonl(root / LOG_FILE)


def last_logged(root: Path, tag: str) -> dict[str, Any] | None:
    """The newest logged command with this tag."""
    rows = [r for r in read_log(root) if r.get("tag") == tag]
    return rows[-1] if rows else None


def run_state(run_dir: Path) -> str:
    """``new`` (no run there), ``done`` (its newest checkpoint is at --steps or its time budget is spent) or
    ``partial`` (resume it)."""
    from vqlab.train.run import read_config, training_state

    if not (run_dir / "config.json").is_file():
        return "new"
    return training_state(run_dir, read_config(run_dir)[0])


def train(study: Study, out: str, flags: list[str], tag: str) -> None:
    """Train the run ``ROOT/out`` with ``flags``, resume it with the same flags when unfinished, skip it when
    done. (A resume accepts the run's own values again; only steps, intervals and --max-minutes may change.)"""
    state = run_state(study.root / out)
    if state == "done":
        print(f"{out}: finished, skipped", flush=True)
        return
    resume = ["--resume"] if state == "partial" else []
    study.vqlab("train", "--out", out, *resume, *flags, "--no-progress", tag=tag)


def checkpoint_facts(run_dir: Path) -> dict[str, Any]:
    """Step and training wall time (s) of a run's newest checkpoint, and its last test row's metrics."""
    from vqlab.train.checkpoint import latest_checkpoint, read_state
    from vqlab.train.run import read_metrics

    ckpt = latest_checkpoint(run_dir)
    state = read_state(ckpt) if ckpt else {}
    tests = [r for r in read_metrics(run_dir) if r.get("split") == "test"]
    return {"step": state.get("step"), "wall_time": state.get("wall_time"), "test": tests[-1] if tests else {}}


def replace_between(text: str, begin: str, end: str, body: str) -> str | None:
    """``text`` with what lies between the marker lines ``begin`` and ``end`` replaced by ``body``; None when
    the markers are missing."""
    i, j = text.find(begin), text.find(end)
    if i < 0 or j < i:
        return None
    return text[:i + len(begin)] + "\n" + body.rstrip("\n") + "\n" + text[j:]
