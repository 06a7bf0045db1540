"""Read files out of a Qt binary resource container (``.rcc``), the format that GCompris ships its pictures in.

Only what ``photos-wide`` needs: the index of a container (member path -> where its bytes are) and one member's
bytes. The layout (Qt's ``rcc`` tool, format versions 1 to 3): a 20-byte header (``qres``, version, and the
offsets of the tree, the data and the names), a tree of fixed-size entries (14 bytes in version 1, 22 from
version 2 on, which add a modification time), UTF-16 names with a length and a hash, and data blocks that
each start with their length. A member compressed by ``rcc`` has flag 1 (zlib, after a 4-byte uncompressed
size) or flag 4 (zstd, which this reader does not support and reports).
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vqlab.errors import VQLabError

__all__ = ["Member", "read_index", "read_member"]

MAGIC = b"qres"
FLAG_ZLIB, FLAG_DIR, FLAG_ZSTD = 1, 2, 4


@dataclass(frozen=True)
class Member:
    """Where one file's bytes lie in a container: ``offset`` of its data block (after the length), ``length``
    as stored, and the compression ``flags``."""

    offset: int
    length: int
    flags: int


def _parse(blob: bytes, where: str) -> dict[str, Member]:
    def unpack(fmt: str, at: int) -> tuple[int, ...]:
        try:
            return struct.unpack_from(fmt, blob, at)
        except struct.error:
            raise VQLabError(f"{where}: truncated Qt resource file (offset {at})") from None

    if blob[:4] != MAGIC:
        raise VQLabError(f"{where}: not a Qt resource file (no 'qres' header)")
    version, tree, data, names = unpack(">IIII", 4)
    if version not in (1, 2, 3):
        raise VQLabError(f"{where}: Qt resource format version {version} is not supported (1 to 3 are)")
    entry_size = 14 if version == 1 else 22

    def name(offset: int) -> str:
        (length,) = unpack(">H", names + offset)
        start = names + offset + 6  # length (2) and hash (4)
        if start + 2 * length > len(blob):
            raise VQLabError(f"{where}: truncated Qt resource file (a name past the end)")
        return blob[start : start + 2 * length].decode("utf-16-be")

    index: dict[str, Member] = {}
    seen: set[int] = set()
    stack = [(0, "")]
    while stack:
        node, prefix = stack.pop()
        if node in seen:
            raise VQLabError(f"{where}: corrupt Qt resource file (a loop in its tree)")
        seen.add(node)
        at = tree + node * entry_size
        name_offset, flags = unpack(">IH", at)
        path = f"{prefix}/{name(name_offset)}" if node else ""
        if flags & FLAG_DIR:
            count, first = unpack(">II", at + 6)
            stack.extend((first + i, path) for i in range(count))
        else:
            (data_offset,) = unpack(">I", at + 10)
            (length,) = unpack(">I", data + data_offset)
            if data + data_offset + 4 + length > len(blob):
                raise VQLabError(f"{where}: truncated Qt resource file ({path} runs past the end)")
            index[path] = Member(data + data_offset + 4, length, flags)
    return index


@lru_cache(maxsize=64)
def _index_cached(path: str, size: int, mtime_ns: int) -> dict[str, Member]:
    return _parse(Path(path).read_bytes(), path)


def read_index(path: str | os.PathLike[str]) -> dict[str, Member]:
    """Every file of the container at ``path``: ``{"/dir/file.webp": Member}`` (paths start with ``/``).

    Cached per file (path, size and modification time). Raises :class:`VQLabError` for a file that is missing,
    not a Qt resource file, or truncated.
    """
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise VQLabError(f"cannot read Qt resource file {p}: {exc.strerror or exc}") from None
    return _index_cached(str(p), st.st_size, st.st_mtime_ns)


def read_member(path: str | os.PathLike[str], member: str) -> bytes:
    """The bytes of ``member`` (a path as :func:`read_index` lists it) of the container at ``path``,
    uncompressed."""
    info = read_index(path).get(member)
    if info is None:
        raise VQLabError(f"{path}: no member {member!r}")
    with open(path, "rb") as f:
        f.seek(info.offset)
        raw = f.read(info.length)
    if info.flags & FLAG_ZSTD:
        raise VQLabError(f"{path}: member {member!r} is zstd-compressed, which vqlab does not read")
    if info.flags & FLAG_ZLIB:
        try:
            return zlib.decompress(raw[4:])
        except zlib.error as exc:
            raise VQLabError(f"{path}: member {member!r} is corrupt: {exc}") from None
    return raw
