"""The ``.vqz`` file format: VQ-VAE code maps of images, bit-packed or entropy-coded.

Layout, little-endian::

    offset  size  field
    0       4     magic b"VQZ\\x1a"
    4       1     format version (1)
    5       1     coding: 0 bit-packed, 1 code-frequency table, 2 PixelCNN prior (both range-coded)
    6       16    model fingerprint: first 16 bytes of SHA-256 of the VQ-VAE's model.safetensors
    22      16    entropy-model fingerprint (the prior's model.safetensors; zeros for coding 0)
    38      4     K, the codebook size (u32)
    42      4     N, the number of images (u32)
    46      8N    per image: height, width, grid height, grid width (u16 each)
    46+8N   4     payload length L in bytes (u32)
    50+8N   4     CRC-32 of the decoded code maps (all indices as u32, in image order)
    54+8N   L     payload
    54+8N+L 4     CRC-32 of every byte before it

Bit-packed payload: each image's indices in raster order, image after image, ``ceil(log2 K)`` bits per code,
most significant bit first, the last byte zero-padded. Range-coded payload (``constriction``'s range coder, u32
words): images are grouped by grid shape (in order of first appearance); within a group positions are visited in
raster order and at each position the codes of all images of the group are coded with the entropy model's
probabilities given the codes already coded. The encoder and decoder make exactly the same model calls, so their
probabilities are bit-identical on the same machine; the code-map CRC catches a decoder whose arithmetic differs.

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
VERSION = 1
CODINGS = {"packed": 0, "freq": 1, "prior": 2}
_HEAD = struct.Struct("<4sBB16s16sII")
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


@dataclass
class EntropyModel:
    """Probabilities for range coding. ``probs(maps, i, j)``: maps (B, h, w) int64 with the codes before (i, j) in
    raster order filled in (zeros elsewhere) -> (B, K) float64 probabilities of the code at (i, j)."""

    coding: str
    fingerprint: bytes
    probs: Callable[[np.ndarray, int, int], np.ndarray]


def frequency_model(counts: np.ndarray, fingerprint: bytes) -> EntropyModel:
    """A static model from a code histogram (K,), Laplace-smoothed so every code stays codable."""
    p = (np.asarray(counts, dtype=np.float64) + 1.0)
    p = p / p.sum()
    return EntropyModel("freq", fingerprint, lambda maps, i, j: np.broadcast_to(p, (maps.shape[0], p.size)))


@dataclass
class VQZ:
    """The content of a .vqz file. maps[i]: (grid height, grid width) int64 code map of image i."""

    model_fingerprint: bytes
    num_embeddings: int
    sizes: list[tuple[int, int]]
    maps: list[np.ndarray]
    coding: str = "packed"
    entropy_fingerprint: bytes = field(default=bytes(16))


def _groups(grids: list[tuple[int, int]]) -> list[list[int]]:
    order: dict[tuple[int, int], list[int]] = {}
    for i, g in enumerate(grids):
        order.setdefault(g, []).append(i)
    return list(order.values())


def _range_code(grids: list[tuple[int, int]], model: EntropyModel, step: Callable) -> None:
    """Visit every (group, position) in coding order: ``step(members, work, i, j, probs)``."""
    for members in _groups(grids):
        h, w = grids[members[0]]
        work = np.zeros((len(members), h, w), dtype=np.int64)
        for i in range(h):
            for j in range(w):
                probs = np.ascontiguousarray(model.probs(work, i, j), dtype=np.float64)
                work[:, i, j] = step(members, work, i, j, probs)


def _maps_crc(maps: list[np.ndarray]) -> int:
    crc = 0
    for m in maps:
        crc = zlib.crc32(np.ascontiguousarray(m, dtype="<u4").tobytes(), crc)
    return crc


def write_vqz(vqz: VQZ, model: EntropyModel | None = None) -> bytes:
    """Serialise code maps; with an entropy ``model`` range-code them (its coding and fingerprint are stored)."""
    import constriction

    k, grids = vqz.num_embeddings, [tuple(m.shape) for m in vqz.maps]
    if any(not 1 <= v <= 0xFFFF for size in vqz.sizes for v in size) or len(vqz.sizes) != len(grids):
        raise VQLabError("a .vqz file holds images of 1 to 65535 pixels per side, one size per code map")
    if model is None:
        coding, efp = "packed", bytes(16)
        payload = pack_indices(np.concatenate([m.reshape(-1) for m in vqz.maps]) if vqz.maps else [], k)
    else:
        coding, efp = model.coding, model.fingerprint
        encoder = constriction.stream.queue.RangeEncoder()
        family = constriction.stream.model.Categorical(perfect=False)

        def step(members, work, i, j, probs):
            symbols = np.array([vqz.maps[m][i, j] for m in members], dtype=np.int32)
            encoder.encode(symbols, family, probs)
            return symbols

        _range_code(grids, model, step)
        payload = encoder.get_compressed().astype("<u4").tobytes()
    head = _HEAD.pack(MAGIC, VERSION, CODINGS[coding], vqz.model_fingerprint, efp, k, len(vqz.maps))
    table = b"".join(_IMAGE.pack(*size, *grid) for size, grid in zip(vqz.sizes, grids))
    body = head + table + _TAIL.pack(len(payload), _maps_crc(vqz.maps)) + payload
    return body + struct.pack("<I", zlib.crc32(body))


def read_vqz(data: bytes, *, model_fingerprint: bytes | None = None, num_embeddings: int | None = None,
             entropy_model: Callable[[str], EntropyModel] | None = None) -> VQZ:
    """Parse and check a .vqz file. ``model_fingerprint`` / ``num_embeddings``: refuse files from another model.

    ``entropy_model(coding)`` supplies the model of a range-coded file. Every problem raises VQLabError.
    """
    if data[:4] != MAGIC:
        truncated = len(data) < 4 and MAGIC.startswith(bytes(data))
        raise VQLabError("truncated .vqz file" if truncated else "not a .vqz file (bad magic bytes)")
    if len(data) < _HEAD.size:
        raise VQLabError(f"truncated .vqz file ({len(data)} bytes)")
    _, version, coding_id, mfp, efp, k, n = _HEAD.unpack_from(data)
    if version != VERSION:
        raise VQLabError(f"unsupported .vqz format version {version} (this vqlab reads version {VERSION})")
    fixed = _HEAD.size + n * _IMAGE.size + _TAIL.size
    if len(data) < fixed + 4:
        raise VQLabError(f"truncated .vqz file ({len(data)} bytes; its header alone needs {fixed + 4})")
    payload_len, maps_crc = _TAIL.unpack_from(data, _HEAD.size + n * _IMAGE.size)
    if len(data) != fixed + payload_len + 4:
        what = "truncated" if len(data) < fixed + payload_len + 4 else "corrupt (trailing bytes after the payload)"
        raise VQLabError(f"{what} .vqz file: expected {fixed + payload_len + 4} bytes, got {len(data)}")
    if zlib.crc32(data[:-4]) != struct.unpack("<I", data[-4:])[0]:
        raise VQLabError("corrupt .vqz file (checksum mismatch)")
    names = {v: c for c, v in CODINGS.items()}
    if coding_id not in names:
        raise VQLabError(f"corrupt .vqz file: unknown coding {coding_id}")
    if model_fingerprint is not None and mfp != model_fingerprint:
        raise VQLabError(f"this .vqz file was encoded with a different model (fingerprint {mfp.hex()}, this run's "
                         f"model is {model_fingerprint.hex()}); decode it with the run that encoded it")
    if num_embeddings is not None and k != num_embeddings:
        raise VQLabError(f"this .vqz file uses K={k} codes, the run's model has K={num_embeddings}")
    sizes, grids = [], []
    for i in range(n):
        height, width, gh, gw = _IMAGE.unpack_from(data, _HEAD.size + i * _IMAGE.size)
        if height < 1 or width < 1 or gh != -(-height // 4) or gw != -(-width // 4):
            raise VQLabError(f"corrupt .vqz file: image {i} is {height}x{width} with a {gh}x{gw} code grid")
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
    else:
        maps = _range_decode(payload, grids, k, coding, efp, entropy_model)
    if _maps_crc(maps) != maps_crc:
        raise VQLabError("the decoded codes fail their checksum: the entropy model computes different "
                         "probabilities here than where the file was written (or the file is corrupt)")
    return VQZ(mfp, k, sizes, maps, coding, efp)


def _range_decode(payload: bytes, grids: list[tuple[int, int]], k: int, coding: str, efp: bytes,
                  entropy_model: Callable[[str], EntropyModel] | None) -> list[np.ndarray]:
    import constriction

    if entropy_model is None:
        raise VQLabError(f"this .vqz file is entropy-coded ({coding}); its entropy model is needed to decode it")
    model = entropy_model(coding)
    if model.fingerprint != efp:
        raise VQLabError(f"this .vqz file was coded with a different {coding} model (fingerprint {efp.hex()}, "
                         f"the run's is {model.fingerprint.hex()})")
    if len(payload) % 4:
        raise VQLabError("corrupt .vqz file: range-coded payload is not a whole number of 32-bit words")
    maps = [np.zeros(g, dtype=np.int64) for g in grids]
    try:
        decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
        family = constriction.stream.model.Categorical(perfect=False)

        def step(members, work, i, j, probs):
            if probs.shape != (len(members), k):
                raise VQLabError(f"the {coding} model gives {probs.shape[-1]} probabilities for K={k}")
            symbols = np.asarray(decoder.decode(family, probs), dtype=np.int64)
            for m, s in zip(members, symbols):
                maps[m][i, j] = s
            return symbols

        _range_code(grids, model, step)
    except VQLabError:
        raise
    except Exception as exc:  # noqa: BLE001 - the range coder raises several types on invalid data
        raise VQLabError(f"corrupt .vqz file: range decoding failed ({type(exc).__name__})") from None
    return maps
