"""The Qt resource (.rcc) reader on containers written here, and photos read out of one."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vqlab.data import corpus as C
from vqlab.data.rcc import read_index, read_member
from vqlab.errors import VQLabError


def write_rcc(path: Path, files: dict[str, bytes], version: int = 2, compress: set[str] = frozenset()) -> None:
    """A container as Qt's rcc lays it out: header, tree (breadth first, children sorted), names, data."""
    tree: dict = {}
    for name, blob in files.items():
        node = tree
        *dirs, leaf = name.strip("/").split("/")
        for d in dirs:
            node = node.setdefault(d, {})
        node[leaf] = blob
    names, name_at = bytearray(), {}

    def name_offset(n: str) -> int:
        if n not in name_at:
            name_at[n] = len(names)
            names.extend(struct.pack(">HI", len(n), 0) + n.encode("utf-16-be"))
        return name_at[n]

    data = bytearray()
    entries: list[bytes] = []
    order = [("", tree, "")]  # (name, node, member path), breadth first
    entries.append(b"")  # the root, filled below
    i = 0
    while i < len(order):
        _, node, where = order[i]
        if isinstance(node, dict):
            kids = sorted(node.items())
            first = len(order)
            order.extend((k, v, f"{where}/{k}") for k, v in kids)
            entry = struct.pack(">IHII", name_offset(order[i][0]) if i else 0, 2, len(kids), first)
        else:
            blob = node
            flags = 0
            if where in compress:
                blob = struct.pack(">I", len(blob)) + zlib.compress(blob)
                flags = 1
            entry = struct.pack(">IHHHI", name_offset(order[i][0]), flags, 0, 0, len(data))
            data.extend(struct.pack(">I", len(blob)) + blob)
        if version > 1:
            entry += b"\0" * 8
        if i < len(entries):
            entries[i] = entry
        else:
            entries.append(entry)
        i += 1
    tree_bytes = b"".join(entries)
    header = 20 + (4 if version >= 3 else 0)
    tree_at, names_at = header, header + len(tree_bytes)
    data_at = names_at + len(names)
    blob = b"qres" + struct.pack(">IIII", version, tree_at, data_at, names_at)
    if version >= 3:
        blob += struct.pack(">I", 0)
    path.write_bytes(blob + tree_bytes + bytes(names) + bytes(data))


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("version", [1, 2, 3])
def test_index_and_members_raw_and_zlib(tmp_path: Path, version: int) -> None:
    files = {"/app/res/a.txt": b"hello", "/app/res/sub/b.bin": bytes(range(256)) * 3, "/app/top.txt": b"x"}
    path = tmp_path / "r.rcc"
    write_rcc(path, files, version=version, compress={"/app/res/sub/b.bin"})
    index = read_index(path)
    assert set(index) == set(files)
    assert index["/app/res/sub/b.bin"].flags == 1 and index["/app/res/a.txt"].flags == 0
    for name, blob in files.items():
        assert read_member(path, name) == blob


def test_bad_containers_give_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "r.rcc"
    write_rcc(path, {"/a/b.txt": b"payload"})
    with pytest.raises(VQLabError, match="no member '/a/c.txt'"):
        read_member(path, "/a/c.txt")
    (tmp_path / "not.rcc").write_bytes(b"PK\x03\x04 zip, not qres")
    with pytest.raises(VQLabError, match="not a Qt resource file"):
        read_index(tmp_path / "not.rcc")
    (tmp_path / "cut.rcc").write_bytes(path.read_bytes()[:-4])
    with pytest.raises(VQLabError, match="truncated"):
        read_index(tmp_path / "cut.rcc")
    with pytest.raises(VQLabError, match="cannot read Qt resource file"):
        read_index(tmp_path / "missing.rcc")
    blob = bytearray(path.read_bytes())
    blob[4:8] = struct.pack(">I", 9)
    (tmp_path / "v9.rcc").write_bytes(bytes(blob))
    with pytest.raises(VQLabError, match="version 9"):
        read_index(tmp_path / "v9.rcc")


def test_photo_inside_a_container(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    picture = rng.integers(0, 256, (30, 50, 3), dtype=np.uint8)
    folder = tmp_path / "rcc"
    folder.mkdir()
    write_rcc(folder / "game.rcc", {"/game/res/pic.png": png_bytes(picture), "/game/res/bad.png": b"not a png"})
    src = C.Source("fake-game-data", "debian", str(folder), "GPL-3+")
    photo = C.Photo("game/pic", src, "game.rcc", member="/game/res/pic.png")
    assert photo.file() == folder / "game.rcc"
    np.testing.assert_array_equal(photo.load(), picture)
    assert photo.original_size() == (50, 30)
    assert photo.load(max_side=25).shape == (15, 25, 3)
    assert photo.stored_size() == len(png_bytes(picture))
    # a member the container lacks is a missing photo, like a missing file
    absent = C.Photo("game/nope", src, "game.rcc", member="/game/res/nope.png")
    assert absent.file() is None and absent.stored_size() == 0
    with pytest.raises(VQLabError, match="cannot read image .*bad.png"):
        C.Photo("game/bad", src, "game.rcc", member="/game/res/bad.png").load()
