"""The .vqz format: exact round trips (bit-packed and range-coded) and clear errors for every bad file."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqlab.codec import (
    VQZ,
    EntropyModel,
    bits_per_code,
    frequency_model,
    pack_indices,
    read_vqz,
    unpack_indices,
    write_vqz,
)
from vqlab.errors import VQLabError

FP = bytes(range(16))
EFP = bytes(range(16, 32))
K = 300  # not a power of two: 9 bits per code, indices 300..511 are invalid


def _vqz(k: int = K, seed: int = 0) -> VQZ:
    rng = np.random.default_rng(seed)
    sizes = [(32, 32), (13, 30), (32, 32), (4, 4)]
    maps = [rng.integers(0, k, (-(-h // 4), -(-w // 4))) for h, w in sizes]
    return VQZ(FP, k, sizes, maps)


def _same(a: VQZ, b: VQZ) -> bool:
    return a.sizes == b.sizes and len(a.maps) == len(b.maps) and all(np.array_equal(x, y) for x, y in zip(a.maps, b.maps))


@pytest.mark.parametrize("k", [1, 2, 3, 5, 256, 300, 512, 1000])
def test_pack_round_trip(k: int) -> None:
    codes = np.random.default_rng(k).integers(0, k, 101)
    data = pack_indices(codes, k)
    assert len(data) == (101 * bits_per_code(k) + 7) // 8
    assert np.array_equal(unpack_indices(data, 101, k), codes)


def test_bits_per_code() -> None:
    assert [bits_per_code(k) for k in (1, 2, 3, 4, 5, 300, 512, 513)] == [0, 1, 2, 2, 3, 9, 9, 10]


def test_packed_file_round_trips_indices_exactly() -> None:
    vqz = _vqz()
    data = write_vqz(vqz)
    n_codes = sum(m.size for m in vqz.maps)
    assert len(data) == 46 + 8 * len(vqz.maps) + 8 + (n_codes * 9 + 7) // 8 + 4
    back = read_vqz(data, model_fingerprint=FP, num_embeddings=K)
    assert back.coding == "packed" and _same(vqz, back)


def test_frequency_coded_round_trip_and_smaller_for_skewed_codes() -> None:
    rng = np.random.default_rng(1)
    p = np.exp(-np.arange(K) / 10.0)
    p /= p.sum()
    sizes = [(32, 32)] * 5 + [(64, 48)]
    maps = [rng.choice(K, size=(-(-h // 4), -(-w // 4)), p=p) for h, w in sizes]
    vqz = VQZ(FP, K, sizes, maps)
    model = frequency_model(p * 1000, EFP)
    coded = write_vqz(vqz, model)
    assert len(coded) < 0.7 * len(write_vqz(vqz))
    back = read_vqz(coded, model_fingerprint=FP, entropy_model=lambda coding: model)
    assert back.coding == "freq" and back.entropy_fingerprint == EFP and _same(vqz, back)


def test_autoregressive_model_round_trip() -> None:
    # The code at (i, j) is probably the code to its left plus one: a context-dependent model like the prior.
    k = 7

    def probs(maps: np.ndarray, i: int, j: int) -> np.ndarray:
        out = np.full((maps.shape[0], k), 0.02)
        prev = maps[:, i, j - 1] if j > 0 else np.zeros(maps.shape[0], dtype=np.int64)
        out[np.arange(maps.shape[0]), (prev + 1) % k] = 1.0
        return out

    model = EntropyModel("prior", EFP, probs)
    maps = [np.tile(np.arange(8) % k, (8, 1)), np.random.default_rng(0).integers(0, k, (8, 8)),
            np.zeros((2, 3), dtype=np.int64)]
    vqz = VQZ(FP, k, [(32, 32), (29, 32), (8, 12)], maps)
    back = read_vqz(write_vqz(vqz, model), entropy_model=lambda coding: model)
    assert _same(vqz, back)


def test_other_model_or_entropy_model_is_refused() -> None:
    data = write_vqz(_vqz())
    with pytest.raises(VQLabError, match="different model"):
        read_vqz(data, model_fingerprint=bytes(16))
    with pytest.raises(VQLabError, match="K=300"):
        read_vqz(data, num_embeddings=512)
    model = frequency_model(np.ones(K), EFP)
    coded = write_vqz(_vqz(), model)
    with pytest.raises(VQLabError, match="entropy model is needed"):
        read_vqz(coded)
    with pytest.raises(VQLabError, match="different freq model"):
        read_vqz(coded, entropy_model=lambda c: frequency_model(np.ones(K), bytes(16)))


def test_index_beyond_k_is_refused_even_with_a_valid_checksum() -> None:
    vqz = VQZ(FP, 5, [(4, 4)], [np.array([[4]])])
    data = bytearray(write_vqz(vqz))
    payload_at = 46 + 8 + 8
    data[payload_at] = 0b11100000  # index 7 with 3 bits
    body = bytes(data[:-4])
    data[-4:] = struct.pack("<I", zlib.crc32(body))
    with pytest.raises(VQLabError, match="not below K=5"):
        read_vqz(bytes(data))


def test_bad_sizes_are_refused_when_writing() -> None:
    with pytest.raises(VQLabError):
        write_vqz(VQZ(FP, 4, [(70000, 4)], [np.zeros((17500, 1), dtype=np.int64)]))


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PACKED = write_vqz(_vqz())
_FREQ_MODEL = frequency_model(np.arange(K) + 1.0, EFP)
_CODED = write_vqz(_vqz(seed=3), _FREQ_MODEL)


def _read(data: bytes) -> VQZ:
    return read_vqz(data, model_fingerprint=FP, num_embeddings=K, entropy_model=lambda c: _FREQ_MODEL)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    with pytest.raises(VQLabError):
        _read(data)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes_after_a_valid_magic_never_crash(data: bytes) -> None:
    with pytest.raises(VQLabError):
        _read(b"VQZ\x1a\x01" + data)


@FUZZ
@given(st.sampled_from([_PACKED, _CODED]), st.data())
def test_truncated_files_never_crash(original: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(original) - 1))
    with pytest.raises(VQLabError):
        _read(original[:cut])


@FUZZ
@given(st.sampled_from([_PACKED, _CODED]), st.data())
def test_bit_flips_never_crash(original: bytes, data: st.DataObject) -> None:
    flips = data.draw(st.lists(st.integers(0, len(original) * 8 - 1), min_size=1, max_size=4, unique=True))
    corrupt = bytearray(original)
    for bit in flips:
        corrupt[bit // 8] ^= 1 << (bit % 8)
    try:
        back = _read(bytes(corrupt))
    except VQLabError:
        return
    assert _same(back, _read(original))  # only acceptable when the flips changed nothing that matters
