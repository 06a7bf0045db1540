"""How the version-1 .vqz files here were written (kept for the record: it needs vqlab 0.1's codec.py, commit
93303c2, copied beside this file as codec_v1.py with its VQLabError import replaced). tests/test_codec.py checks
that today's reader decodes them to the same code maps."""

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, ".")
import codec_v1 as c

FP, EFP, K = bytes(range(16)), bytes(range(16, 32)), 7
rng = np.random.default_rng(5)
sizes = [(32, 32), (13, 30), (32, 32), (4, 4)]
maps = [rng.integers(0, K, (-(-h // 4), -(-w // 4))) for h, w in sizes]
v = c.VQZ(FP, K, sizes, maps)


def probs(m, i, j):
    out = np.full((m.shape[0], K), 0.02)
    prev = m[:, i, j - 1] if j > 0 else np.zeros(m.shape[0], dtype=np.int64)
    out[np.arange(m.shape[0]), (prev + 1) % K] = 1.0
    return out


Path("v1_packed.vqz").write_bytes(c.write_vqz(v))
Path("v1_freq.vqz").write_bytes(c.write_vqz(v, c.frequency_model(np.arange(K) + 1.0, EFP)))
Path("v1_prior.vqz").write_bytes(c.write_vqz(v, c.EntropyModel("prior", EFP, probs)))
