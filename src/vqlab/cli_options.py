"""Command-line flags built from the option declarations in :mod:`vqlab.config` (one source of truth).

``train`` gets each option as a flag of its type; ``sweep`` gets the same flags as comma lists. :data:`FLAGS`
maps each flag's argparse ``dest`` to its (section, field).
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from vqlab import config as cfgmod

_TYPES = {"int": int, "float": float, "str": str, "bool": bool}
GROUP_TITLES = {"model": "model", "quantizer": "quantizer (vqvae)", "vae": "vae", "vimco": "vimco", "data": "data",
                "train": "training"}


def _dest(f: dataclasses.Field) -> str:
    return f.metadata["flag"].lstrip("-").replace("-", "_")


def _kind(f: dataclasses.Field) -> type:
    """The Python type of an option's values (``int | None`` -> int)."""
    name = str(f.type).split("|")[0].strip()
    return _TYPES[name]


def declared() -> list[tuple[str, dataclasses.Field]]:
    """(section, field) of every option that has a command-line flag."""
    return [(s, f) for s, f in cfgmod.options() if f.metadata.get("flag")]


FLAGS: dict[str, tuple[str, str]] = {_dest(f): (s, f.name) for s, f in declared()}
RESUMABLE: set[str] = {_dest(f) for s, f in declared() if f.metadata.get("resumable")}


def _help(f: dataclasses.Field) -> str:
    choices = f.metadata.get("choices")
    text = f.metadata["help"]
    return text if not choices or all(c in text for c in choices) else f"{text} (one of: {', '.join(choices)})"


def add_option_flags(parser: argparse.ArgumentParser, *, as_lists: Any = None) -> None:
    """Add every declared option to ``parser`` in groups by section, with default SUPPRESS (so only flags the
    user gave appear in the namespace). ``as_lists``: a function (kind, separator) -> argparse type reading a
    list (the sweep; the separator is the option's ``list_sep``, a comma for most); booleans then take values
    (``--ema true,false``)."""
    groups: dict[str, Any] = {}
    for section, f in declared():
        group = groups.setdefault(section, parser.add_argument_group(GROUP_TITLES[section]))
        names = [f.metadata["flag"]] + ([f.metadata["short"]] if f.metadata.get("short") else [])
        kind = _kind(f)
        dest = _dest(f)
        if as_lists is not None:
            sep = f.metadata.get("list_sep", ",")
            group.add_argument(*names, dest=dest, type=as_lists(kind, sep), default=argparse.SUPPRESS,
                               metavar=f"V[{sep}V...]", help=_help(f))
        elif kind is bool:
            group.add_argument(*names, dest=dest, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=_help(f))
        else:
            group.add_argument(*names, dest=dest, type=kind, default=argparse.SUPPRESS, help=_help(f))


def given(args: argparse.Namespace) -> dict[str, Any]:
    """The option flags present in ``args`` (dest -> value)."""
    return {dest: getattr(args, dest) for dest in FLAGS if dest in args}


def as_overrides(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{dest: value}`` as a nested ``{section: {field: value}}`` mapping."""
    out: dict[str, dict[str, Any]] = {}
    for dest, value in values.items():
        section, name = FLAGS[dest]
        out.setdefault(section, {})[name] = value
    return out
