"""The ``.vqz`` file format: VQ-VAE code maps of images, bit-packed or entropy-coded.

Layout of version 2, little-endian::

    offset  size  field
    0       4     magic b"VQZ\\x1a"
    4       1     format version (2)
    5       1     coding: 0 bit-packed, 1 code-frequency table, 2 PixelCNN prior, 3 wavefront context model
    6       1     log2 of the model's downsampling factor F (one code covers F x F pixels)
    7       16    model fingerprint: first 16 bytes of SHA-256 of the VQ-VAE's model.safetensors
    23      16    entropy-model fingerprint (the prior's or context model's model.safetensors; zeros for coding 0)
    39      4     K, the codebook size (u32)
    43      4     N, the number of images (u32)
    47      8N    per image: height, width, grid height, grid width (u16 each); grid = ceil(size / F)
    47+8N   4     payload length L in bytes (u32)
    51+8N   4     CRC-32 of the decoded code maps (all indices as u32, in image order)
    55+8N   L     payload
    55+8N+L 4     CRC-32 of every byte before it

Version 1 (vqlab 0.1) is the same without the byte at offset 6 (F = 4, codings 0 to 2); it is still read.

Bit-packed payload: each image's indices in raster order, image after image, ``ceil(log2 K)`` bits per code,
most significant bit first, the last byte zero-padded. Range-coded payload (``constriction``'s range coder, u32
words): images are grouped by grid shape (in order of first appearance); each group's positions are visited in
the coding's order (:func:`coding_steps`: ``freq`` a row at a time, ``prior`` one position at a time, both in
raster order, ``context`` one anti-diagonal i + j = c at a time) and at each step the codes of all images of the group at the
step's positions are coded, position after position, with the entropy model's probabilities given the codes of
the earlier steps. The encoder and decoder make exactly the same model calls, so their probabilities are
bit-identical on the same machine; the code-map CRC catches a decoder whose arithmetic differs.

Every malformed input (wrong magic or version, truncation, corruption, a different model) raises
:class:`VQLabError`; nothing else escapes :func:`read_vqz`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vqlab.errors import VQLabError

MAGIC = b"VQZ\x1a"
VERSION = 2
CODINGS = {"packed": 0, "freq": 1, "prior": 2, "context": 3}
_HEADS = {1: struct.Struct("<4sBB16s16sII"), 2: struct.Struct("<4sBBB16s16sII")}
_HEAD = _HEADS[VERSION]
_IMAGE = struct.Struct("<HHHH")
_TAIL = struct.Struct("<II")
MAX_CODES = 1 << 26


def bits_per_code(k: int) -> int:
    """ceil(log2 K): bits of one bit-packed index (0 for K = 1)."""
    return (k - 1).bit_length()


def pack_indices(codes: np.ndarray, k: int) -> bytes:
    """Flat indices in [0, K) -> bytes, ``bits_per_code(K)`` bits each, MSB first."""
    bits = bits_per_code(k)
    codes = np.asarray(codes, dtype=np.int64).reshape(-1)
    if codes.size and (codes.min() < 0 or codes.max() >= k):
        raise ValueError("indices out of range [0, K)")
    if bits == 0 or codes.size == 0:
        return b""
    shifts = np.arange(bits - 1, -1, -1, dtype=np.int64)
    return np.packbits(((codes[:, None] >> shifts) & 1).astype(np.uint8).reshape(-1)).tobytes()


def unpack_indices(data: bytes, n: int, k: int) -> np.ndarray:
    """Inverse of :func:`pack_indices`: ``n`` indices (int64). Raises VQLabError on a wrong length or index >= K."""
    bits = bits_per_code(k)
    if len(data) != (n * bits + 7) // 8:
        raise VQLabError(f"corrupt .vqz file: payload holds {len(data)} bytes, {n} codes need {(n * bits + 7) // 8}")
    if bits == 0:
        return np.zeros(n, dtype=np.int64)
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8), count=n * bits).reshape(n, bits).astype(np.int64)
    codes = flat @ (1 << np.arange(bits - 1, -1, -1, dtype=np.int64))
    if codes.size and codes.max() >= k:
        raise VQLabError(f"corrupt .vqz file: code index {int(codes.max())} is not below K={k}")
    return codes


def coding_steps(coding: str, h: int, w: int) -> list[np.ndarray]:
    """The positions of an (h, w) grid in coding order, one (P, 2) int64 array of (i, j) per model call.

    ``freq``: one row per step. ``prior``: one position per step, raster order. ``context``: one anti-diagonal
    per step (c = i + j from 0 to h + w - 2, i ascending), so h + w - 1 steps.
    """
    if coding == "freq":
        jj = np.arange(w, dtype=np.int64)
        return [np.stack([np.full(w, i, dtype=np.int64), jj], axis=1) for i in range(h)]
    if coding == "prior":
        return [np.array([[i, j]], dtype=np.int64) for i in range(h) for j in range(w)]
    if coding == "context":
        steps = []
        for c in range(h + w - 1):
            ii = np.arange(max(0, c - w + 1), min(c, h - 1) + 1, dtype=np.int64)
            steps.append(np.stack([ii, c - ii], axis=1))
        return steps
    raise ValueError(f"no coding order for {coding!r}")


@dataclass
class EntropyModel:
    """Probabilities for range coding. ``probs(maps, positions)``: maps (B, h, w) int64 with the codes of the
    earlier steps of :func:`coding_steps` filled in (zeros elsewhere), positions (P, 2) the (i, j) of this step
    -> (B, P, K) float64 probabilities of the codes there."""

    coding: str
    fingerprint: bytes
    probs: Callable[[np.ndarray, np.ndarray], np.ndarray]


def frequency_model(counts: np.ndarray, fingerprint: bytes) -> EntropyModel:
    """A static model from a code histogram (K,), Laplace-smoothed so every code stays codable."""
    p = (np.asarray(counts, dtype=np.float64) + 1.0)
    p = p / p.sum()
    return EntropyModel("freq", fingerprint, lambda maps, pos: np.broadcast_to(p, (maps.shape[0], len(pos), p.size)))


@dataclass
class VQZ:
    """The content of a .vqz file. maps[i]: (grid height, grid width) int64 code map of image i, of an image of
    ``sizes[i]`` (height, width) coded by a model that downsamples by ``downsample``."""

    model_fingerprint: bytes
    num_embeddings: int
    sizes: list[tuple[int, int]]
    maps: list[np.ndarray]
    coding: str = "packed"
    entropy_fingerprint: bytes = field(default=bytes(16))
    downsample: int = 4


def _groups(grids: list[tuple[int, int]]) -> list[list[int]]:
    order: dict[tuple[int, int], list[int]] = {}
    for i, g in enumerate(grids):
        order.setdefault(g, []).append(i)
    return list(order.values())


def _range_code(grids: list[tuple[int, int]], model: EntropyModel, step: Callable) -> None:
    """Visit every (group, step) in coding order: ``work[:, i, j] = step(members, work, positions, probs)`` with
    probs (P * B, K), position-major, and the returned codes (P * B,) in the same order."""
    for members in _groups(grids):
        h, w = grids[members[0]]
        work = np.zeros((len(members), h, w), dtype=np.int64)
        for pos in coding_steps(model.coding, h, w):
            probs = np.asarray(model.probs(work, pos), dtype=np.float64)
            if probs.ndim != 3 or probs.shape[:2] != (len(members), len(pos)):
                raise VQLabError(f"the {model.coding} model gives probabilities of shape {probs.shape} for "
                                 f"{len(members)} images and {len(pos)} positions")
            flat = np.ascontiguousarray(probs.transpose(1, 0, 2).reshape(-1, probs.shape[2]))
            codes = step(members, work, pos, flat)
            work[:, pos[:, 0], pos[:, 1]] = np.asarray(codes, dtype=np.int64).reshape(len(pos), len(members)).T


def _maps_crc(maps: list[np.ndarray]) -> int:
    crc = 0
    for m in maps:
        crc = zlib.crc32(np.ascontiguousarray(m, dtype="<u4").tobytes(), crc)
    return crc


def _log2_factor(f: int) -> int:
    b = int(f).bit_length() - 1
    if f < 1 or 1 << b != f or b > 15:
        raise VQLabError(f"a .vqz file holds codes of a power-of-two downsampling factor up to 2^15, not {f}")
    return b


def write_vqz(vqz: VQZ, model: EntropyModel | None = None) -> bytes:
    """Serialise code maps (format version 2); with an entropy ``model`` range-code them (its coding and
    fingerprint are stored)."""
    import constriction

    k, grids, f = vqz.num_embeddings, [tuple(m.shape) for m in vqz.maps], vqz.downsample
    log2f = _log2_factor(f)
    if any(not 1 <= v <= 0xFFFF for size in vqz.sizes for v in size) or len(vqz.sizes) != len(grids):
        raise VQLabError("a .vqz file holds images of 1 to 65535 pixels per side, one size per code map")
    if any(g != (-(-h // f), -(-w // f)) for g, (h, w) in zip(grids, vqz.sizes)):
        raise VQLabError(f"the code maps are not the ceil(size / {f}) grids of their images")
    if model is None:
        coding, efp = "packed", bytes(16)
        payload = pack_indices(np.concatenate([m.reshape(-1) for m in vqz.maps]) if vqz.maps else [], k)
    else:
        coding, efp = model.coding, model.fingerprint
        encoder = constriction.stream.queue.RangeEncoder()
        family = constriction.stream.model.Categorical(perfect=False)

        def step(members, work, pos, probs):
            symbols = np.stack([vqz.maps[m][pos[:, 0], pos[:, 1]] for m in members], axis=1).reshape(-1)
            encoder.encode(symbols.astype(np.int32), family, probs)
            return symbols

        _range_code(grids, model, step)
        payload = encoder.get_compressed().astype("<u4").tobytes()
    head = _HEAD.pack(MAGIC, VERSION, CODINGS[coding], log2f, vqz.model_fingerprint, efp, k, len(vqz.maps))
    table = b"".join(_IMAGE.pack(*size, *grid) for size, grid in zip(vqz.sizes, grids))
    body = head + table + _TAIL.pack(len(payload), _maps_crc(vqz.maps)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def _parse_head(data: bytes) -> tuple[int, int, int, bytes, bytes, int, int]:
    """(header size, coding id, F, model fp, entropy fp, K, N) of a version 1 or 2 file."""
    if data[:4] != MAGIC:
        truncated = len(data) < 4 and MAGIC.startswith(bytes(data))
        raise VQLabError("truncated .vqz file" if truncated else "not a .vqz file (bad magic bytes)")
    if len(data) < 5:
        raise VQLabError(f"truncated .vqz file ({len(data)} bytes)")
    version = data[4]
    if version not in _HEADS:
        raise VQLabError(f"unsupported .vqz format version {version} (this vqlab reads versions 1 and {VERSION})")
    head = _HEADS[version]
    if len(data) < head.size:
        raise VQLabError(f"truncated .vqz file ({len(data)} bytes)")
    if version == 1:
        _, _, coding_id, mfp, efp, k, n = head.unpack_from(data)
        if coding_id > 2:
            raise VQLabError(f"corrupt .vqz file: unknown coding {coding_id} for format version 1")
        return head.size, coding_id, 4, mfp, efp, k, n
    _, _, coding_id, log2f, mfp, efp, k, n = head.unpack_from(data)
    if log2f > 15:
        raise VQLabError(f"corrupt .vqz file: downsampling factor 2^{log2f}")
    return head.size, coding_id, 1 << log2f, mfp, efp, k, n


def peek_model_fingerprint(data: bytes) -> bytes:
    """The model fingerprint in a .vqz file's header (nothing else checked); VQLabError if there is no header."""
    return _parse_head(data)[3]


def read_vqz(data: bytes, *, model_fingerprint: bytes | None = None, num_embeddings: int | None = None,
             downsample: int | None = None, entropy_model: Callable[[str], EntropyModel] | None = None) -> VQZ:
    """Parse and check a .vqz file. ``model_fingerprint`` / ``num_embeddings`` / ``downsample``: refuse files
    from another model.

    ``entropy_model(coding)`` supplies the model of a range-coded file. Every problem raises VQLabError.
    """
    head_size, coding_id, f, mfp, efp, k, n = _parse_head(data)
    fixed = head_size + n * _IMAGE.size + _TAIL.size
    if len(data) < fixed + 4:
        raise VQLabError(f"truncated .vqz file ({len(data)} bytes; its header alone needs {fixed + 4})")
    payload_len, maps_crc = _TAIL.unpack_from(data, head_size + n * _IMAGE.size)
    if len(data) != fixed + payload_len + 4:
        what = "truncated" if len(data) < fixed + payload_len + 4 else "corrupt (trailing bytes after the payload)"
        raise VQLabError(f"{what} .vqz file: expected {fixed + payload_len + 4} bytes, got {len(data)}")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise VQLabError("corrupt .vqz file (checksum mismatch)")
    names = {v: c for c, v in CODINGS.items()}
    if coding_id not in names:
        raise VQLabError(f"corrupt .vqz file: unknown coding {coding_id}")
    if downsample is not None and f != downsample:
        raise VQLabError(f"this .vqz file holds codes of a model that downsamples by {f}; the run's model "
                         f"downsamples by {downsample}")
    if model_fingerprint is not None and mfp != model_fingerprint:
        raise VQLabError(f"this .vqz file was encoded with a different model (fingerprint {mfp.hex()}, this run's "
                         f"model is {model_fingerprint.hex()}); decode it with the run that encoded it")
    if num_embeddings is not None and k != num_embeddings:
        raise VQLabError(f"this .vqz file uses K={k} codes, the run's model has K={num_embeddings}")
    sizes, grids = [], []
    for i in range(n):
        height, width, gh, gw = _IMAGE.unpack_from(data, head_size + i * _IMAGE.size)
        if height < 1 or width < 1 or gh != -(-height // f) or gw != -(-width // f):
            raise VQLabError(f"corrupt .vqz file: image {i} is {height}x{width} with a {gh}x{gw} code grid "
                             f"(downsampling factor {f})")
        sizes.append((height, width))
        grids.append((gh, gw))
    total = sum(h * w for h, w in grids)
    if total > MAX_CODES or k < 1:
        raise VQLabError(f"corrupt .vqz file: {total} codes, K={k}")
    payload = data[fixed:fixed + payload_len]
    coding = names[coding_id]
    if coding == "packed":
        flat = unpack_indices(payload, total, k)
        maps, at = [], 0
        for h, w in grids:
            maps.append(flat[at:at + h * w].reshape(h, w))
            at += h * w
        if _maps_crc(maps) != maps_crc:
            raise VQLabError("corrupt .vqz file: the codes fail their checksum")
    else:
        maps = _range_decode(payload, grids, k, coding, efp, entropy_model)
        if _maps_crc(maps) != maps_crc:
            raise VQLabError(f"the decoded codes fail their checksum: this file was written on a machine whose "
                             f"arithmetic differs from this one's (the {coding} model's probabilities came out "
                             f"different here), or the file is corrupt; decode it where it was encoded")
    return VQZ(mfp, k, sizes, maps, coding, efp, f)


def _range_decode(payload: bytes, grids: list[tuple[int, int]], k: int, coding: str, efp: bytes,
                  entropy_model: Callable[[str], EntropyModel] | None) -> list[np.ndarray]:
    import constriction

    if entropy_model is None:
        raise VQLabError(f"this .vqz file is entropy-coded ({coding}); its entropy model is needed to decode it")
    model = entropy_model(coding)
    if model.fingerprint != efp:
        raise VQLabError(f"this .vqz file was coded with a different {coding} model (fingerprint {efp.hex()}, "
                         f"the run's is {model.fingerprint.hex()})")
    if model.coding != coding:
        raise VQLabError(f"a {model.coding} model cannot decode a {coding} file")
    if len(payload) % 4:
        raise VQLabError("corrupt .vqz file: range-coded payload is not a whole number of 32-bit words")
    maps = [np.zeros(g, dtype=np.int64) for g in grids]
    try:
        decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
        family = constriction.stream.model.Categorical(perfect=False)

        def step(members, work, pos, probs):
            if probs.shape[1] != k:
                raise VQLabError(f"the {coding} model gives {probs.shape[1]} probabilities for K={k}")
            symbols = np.asarray(decoder.decode(family, probs), dtype=np.int64)
            per_image = symbols.reshape(len(pos), len(members))
            for col, m in enumerate(members):
                maps[m][pos[:, 0], pos[:, 1]] = per_image[:, col]
            return symbols

        _range_code(grids, model, step)
    except VQLabError:
        raise
    except Exception as exc:  # noqa: BLE001 - the range coder raises several types on invalid data
        raise VQLabError(f"corrupt .vqz file: range decoding failed ({type(exc).__name__})") from None
    return maps
