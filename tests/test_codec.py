"""The .vqz format: exact round trips (bit-packed and range-coded) and clear errors for every bad file."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vqlab.codec import (
    VQZ,
    EntropyModel,
    bits_per_code,
    coding_steps,
    frequency_model,
    pack_indices,
    peek_model_fingerprint,
    read_vqz,
    unpack_indices,
    write_vqz,
)
from vqlab.errors import VQLabError
from vqlab.models.context import WavefrontContextModel

GOLDEN_V1 = Path(__file__).resolve().parent / "golden" / "vqz_v1"

FP = bytes(range(16))
EFP = bytes(range(16, 32))
K = 300  # not a power of two: 9 bits per code, indices 300..511 are invalid


def _vqz(k: int = K, seed: int = 0, f: int = 4) -> VQZ:
    rng = np.random.default_rng(seed)
    sizes = [(32, 32), (13, 30), (32, 32), (4, 4)]
    maps = [rng.integers(0, k, (-(-h // f), -(-w // f))) for h, w in sizes]
    return VQZ(FP, k, sizes, maps, downsample=f)


def _context_model(k: int = K, seed: int = 0) -> EntropyModel:
    torch.manual_seed(seed)
    net = WavefrontContextModel(k, radius=2, embed_dim=4, hidden=16, layers=1).eval()
    return EntropyModel("context", EFP, net.probabilities)


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
    assert len(data) == 47 + 8 * len(vqz.maps) + 8 + (n_codes * 9 + 7) // 8 + 4
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

    def probs(maps: np.ndarray, pos: np.ndarray) -> np.ndarray:
        assert pos.shape == (1, 2)  # raster order, one position per call
        i, j = pos[0]
        out = np.full((maps.shape[0], k), 0.02)
        prev = maps[:, i, j - 1] if j > 0 else np.zeros(maps.shape[0], dtype=np.int64)
        out[np.arange(maps.shape[0]), (prev + 1) % k] = 1.0
        return out[:, None]

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
    payload_at = 47 + 8 + 8
    data[payload_at] = 0b11100000  # index 7 with 3 bits
    body = bytes(data[:-4])
    data[-4:] = struct.pack("<I", zlib.crc32(body))
    with pytest.raises(VQLabError, match="not below K=5"):
        read_vqz(bytes(data))


def test_bad_sizes_are_refused_when_writing() -> None:
    with pytest.raises(VQLabError):
        write_vqz(VQZ(FP, 4, [(70000, 4)], [np.zeros((17500, 1), dtype=np.int64)]))


@pytest.mark.parametrize("f", [2, 4, 8, 16])
@pytest.mark.parametrize("coding", [None, "freq", "context"])
def test_every_downsampling_factor_round_trips_and_is_stored(f: int, coding: str | None) -> None:
    vqz = _vqz(f=f, seed=f)
    model = {None: None, "freq": frequency_model(np.arange(K) + 1.0, EFP), "context": _context_model()}[coding]
    data = write_vqz(vqz, model)
    assert data[4] == 2 and data[6] == f.bit_length() - 1
    back = read_vqz(data, model_fingerprint=FP, num_embeddings=K, downsample=f, entropy_model=lambda c: model)
    assert back.downsample == f and back.coding == (coding or "packed") and _same(vqz, back)
    other = 4 if f != 4 else 8
    with pytest.raises(VQLabError, match=f"downsamples by {f}; the run's model downsamples by {other}"):
        read_vqz(data, downsample=other, entropy_model=lambda c: model)


def test_code_maps_must_match_the_downsampling_factor() -> None:
    vqz = _vqz(f=4)
    vqz.downsample = 8
    with pytest.raises(VQLabError, match="ceil"):
        write_vqz(vqz)
    with pytest.raises(VQLabError, match="power-of-two"):
        write_vqz(VQZ(FP, K, [(6, 6)], [np.zeros((2, 2), dtype=np.int64)], downsample=3))


def test_a_stored_factor_that_contradicts_the_grids_is_refused() -> None:
    data = bytearray(write_vqz(_vqz(f=4)))
    data[6] = 3  # claims F = 8 for 4x4-pixel codes
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    with pytest.raises(VQLabError, match="code grid"):
        read_vqz(bytes(data))


def _k7_models() -> dict[str, EntropyModel]:
    k = 7

    def probs(maps: np.ndarray, pos: np.ndarray) -> np.ndarray:  # the raster model tests/golden/vqz_v1 used
        i, j = pos[0]
        out = np.full((maps.shape[0], k), 0.02)
        prev = maps[:, i, j - 1] if j > 0 else np.zeros(maps.shape[0], dtype=np.int64)
        out[np.arange(maps.shape[0]), (prev + 1) % k] = 1.0
        return out[:, None]

    return {"freq": frequency_model(np.arange(k) + 1.0, EFP), "prior": EntropyModel("prior", EFP, probs)}


@pytest.mark.parametrize("coding", ["packed", "freq", "prior"])
def test_version_1_files_are_still_read_as_downsampling_by_4(coding: str) -> None:
    data = (GOLDEN_V1 / f"v1_{coding}.vqz").read_bytes()
    assert data[4] == 1
    rng = np.random.default_rng(5)  # the maps make_v1.py wrote
    sizes = [(32, 32), (13, 30), (32, 32), (4, 4)]
    maps = [rng.integers(0, 7, (-(-h // 4), -(-w // 4))) for h, w in sizes]
    back = read_vqz(data, model_fingerprint=FP, num_embeddings=7, downsample=4,
                    entropy_model=lambda c: _k7_models()[c])
    assert back.downsample == 4 and back.coding == coding and _same(VQZ(FP, 7, sizes, maps), back)
    assert peek_model_fingerprint(data) == FP
    with pytest.raises(VQLabError, match="downsamples by 4"):
        read_vqz(data, downsample=8)


def test_coding_steps_visit_every_position_once_and_wavefront_steps_are_anti_diagonals() -> None:
    for h, w in [(1, 1), (1, 9), (7, 1), (5, 8), (8, 5)]:
        for coding in ("freq", "prior", "context"):
            steps = coding_steps(coding, h, w)
            seen = np.concatenate(steps)
            assert sorted(map(tuple, seen.tolist())) == [(i, j) for i in range(h) for j in range(w)]
        wave = coding_steps("context", h, w)
        assert len(wave) == h + w - 1
        assert all((s.sum(axis=1) == c).all() for c, s in enumerate(wave))
        assert len(coding_steps("prior", h, w)) == h * w and len(coding_steps("freq", h, w)) == h


@pytest.mark.parametrize("sizes", [[(4, 4)], [(64, 64)], [(37, 50), (37, 50), (3, 200), (64, 64), (37, 50)],
                                   [(200, 3)] * 5])
def test_context_coded_round_trip_for_sizes_and_several_images(sizes: list[tuple[int, int]]) -> None:
    rng = np.random.default_rng(len(sizes))
    model = _context_model()
    maps = [rng.integers(0, K, (-(-h // 4), -(-w // 4))) for h, w in sizes]
    vqz = VQZ(FP, K, sizes, maps)
    back = read_vqz(write_vqz(vqz, model), entropy_model=lambda c: model)
    assert back.coding == "context" and _same(vqz, back)


def test_smooth_maps_cost_fewer_bits_with_a_context_model_that_learned_them() -> None:
    # A model that predicts "the same code as the left neighbour" codes a map of constant rows cheaply.
    k = 64

    def probs(maps: np.ndarray, pos: np.ndarray) -> np.ndarray:
        out = np.full((maps.shape[0], len(pos), k), 1e-3)
        left = np.where(pos[:, 1] > 0, maps[:, pos[:, 0], np.maximum(pos[:, 1] - 1, 0)], 0)
        np.put_along_axis(out, left[..., None], 1.0, axis=2)
        return out

    model = EntropyModel("context", EFP, probs)
    maps = [np.repeat(np.random.default_rng(0).integers(0, k, (16, 1)), 24, axis=1)]
    vqz = VQZ(FP, k, [(64, 96)], maps)
    coded = write_vqz(vqz, model)
    assert len(coded) < 0.3 * len(write_vqz(vqz))
    assert _same(vqz, read_vqz(coded, entropy_model=lambda c: model))


def test_a_decoder_whose_arithmetic_differs_gets_a_clear_error() -> None:
    good = _context_model()
    vqz = _vqz()
    data = write_vqz(vqz, good)

    def slightly_off(maps: np.ndarray, pos: np.ndarray) -> np.ndarray:
        p = good.probs(maps, pos).copy()
        p[..., :5] *= 1.0001  # like a different summation order in another machine's matrix product
        return p

    with pytest.raises(VQLabError, match="written on a machine whose arithmetic differs"):
        read_vqz(data, entropy_model=lambda c: EntropyModel("context", EFP, slightly_off))
    with pytest.raises(VQLabError, match="a freq model cannot decode a context file"):
        read_vqz(data, entropy_model=lambda c: frequency_model(np.ones(K), EFP))


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_PACKED = write_vqz(_vqz())
_FREQ_MODEL = frequency_model(np.arange(K) + 1.0, EFP)
_CODED = write_vqz(_vqz(seed=3), _FREQ_MODEL)
_CONTEXT_MODEL = _context_model()
_CONTEXT = write_vqz(_vqz(seed=4, f=8), _CONTEXT_MODEL)
_FILES = [_PACKED, _CODED, _CONTEXT]


def _read(data: bytes) -> VQZ:
    return read_vqz(data, model_fingerprint=FP, num_embeddings=K,
                    entropy_model=lambda c: _CONTEXT_MODEL if c == "context" else _FREQ_MODEL)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_never_crash(data: bytes) -> None:
    with pytest.raises(VQLabError):
        _read(data)


@FUZZ
@given(st.sampled_from([b"\x01", b"\x02"]), st.binary(max_size=200))
def test_random_bytes_after_a_valid_magic_never_crash(version: bytes, data: bytes) -> None:
    with pytest.raises(VQLabError):
        _read(b"VQZ\x1a" + version + data)


@FUZZ
@given(st.sampled_from(_FILES), st.data())
def test_truncated_files_never_crash(original: bytes, data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(original) - 1))
    with pytest.raises(VQLabError):
        _read(original[:cut])


@FUZZ
@given(st.sampled_from(_FILES), st.data())
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


@FUZZ
@given(st.sampled_from(_FILES), st.data())
def test_altered_payloads_with_a_recomputed_file_checksum_never_crash(original: bytes, data: st.DataObject) -> None:
    # Past the file CRC (as if written by a buggy encoder): the code-map CRC still refuses wrong codes.
    start = len(original) - 4 - struct.unpack_from("<I", original, 47 + 8 * 4)[0]
    at = data.draw(st.integers(start, len(original) - 5))
    corrupt = bytearray(original)
    corrupt[at] ^= data.draw(st.integers(1, 255))
    corrupt[-4:] = struct.pack("<I", zlib.crc32(bytes(corrupt[:-4])))
    try:
        back = _read(bytes(corrupt))
    except VQLabError:
        return
    assert _same(back, _read(original))
