"""Checks and ``auto`` resolution of the ``quantizer`` config section (declared in :mod:`vqlab.config`).

FSQ and the codebook size: an FSQ codebook is the product of its levels, so ``--fsq-levels`` decides K.
``auto`` levels are looked up from ``-K`` in :data:`FSQ_LEVELS` (the FSQ paper's recommendations for
2^8, 2^10, 2^12, 2^14, 2^16; our own choices for the other powers of two from 2^4 to 2^16), and
:func:`resolve_quantizer` then writes the levels and their product back into the config, so a saved FSQ
config always has ``model.num_embeddings == prod(levels)``. With explicit levels ``-K`` is ignored (and
rewritten to the product). Other quantizers ignore the options that are not theirs (``--fsq-levels`` for vq,
``--ema`` for fsq, ...), except combinations that cannot work, which are refused.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from vqlab.errors import VQLabError

if TYPE_CHECKING:
    from vqlab.config import Config

# K -> FSQ levels. Paper (Mentzer et al. 2024, table 1): 2^8, 2^10, 2^12, 2^14, 2^16. The others follow the
# paper's advice of levels >= 5 where the size allows, and exact powers of two otherwise.
FSQ_LEVELS: dict[int, tuple[int, ...]] = {
    2**4: (4, 4), 2**5: (8, 4), 2**6: (8, 8), 2**7: (8, 4, 4),
    2**8: (8, 6, 5), 2**9: (8, 8, 8), 2**10: (8, 5, 5, 5), 2**11: (8, 8, 6, 5),
    2**12: (7, 5, 5, 5, 5), 2**13: (8, 8, 8, 4, 4), 2**14: (8, 8, 8, 6, 5), 2**15: (8, 8, 8, 8, 8),
    2**16: (8, 8, 8, 5, 5, 5),
}
PAPER_SIZES = (2**8, 2**10, 2**12, 2**14, 2**16)
MAX_FSQ_CODES = 1 << 24  # the histogram of codes is a (K,) tensor; the .vqz header holds K in 32 bits
# Quantizers whose output is a nearest code, so the rotation trick applies to them.
ROTATION_QUANTIZERS = ("vq", "simvq", "rvq")


def parse_levels(text: object) -> tuple[int, ...]:
    """``"8,5,5,5"`` -> (8, 5, 5, 5). Every level must be an integer in [2, 256]. Raises VQLabError."""
    if not isinstance(text, str) or not text.strip():
        raise VQLabError(f"--fsq-levels must be 'auto' or a comma list of integers like 8,5,5,5, got {text!r}")
    try:
        levels = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise VQLabError(f"--fsq-levels must be 'auto' or a comma list of integers like 8,5,5,5, got {text!r}") from None
    if any(not 2 <= v <= 256 for v in levels):
        raise VQLabError(f"--fsq-levels: every level must be between 2 and 256, got {text!r}")
    if math.prod(levels) > MAX_FSQ_CODES:
        raise VQLabError(f"--fsq-levels {text} make {math.prod(levels)} codes; at most {MAX_FSQ_CODES} are supported")
    return levels


def auto_levels(k: int) -> tuple[int, ...]:
    """The FSQ levels ``--fsq-levels auto`` picks for codebook size K. Raises VQLabError for other sizes."""
    if k not in FSQ_LEVELS:
        sizes = ", ".join(f"2^{int(math.log2(s))}" for s in FSQ_LEVELS)
        raise VQLabError(f"--quantizer fsq with --fsq-levels auto needs -K in {sizes} (got {k}); "
                         "or give the levels, e.g. --fsq-levels 8,5,5,5")
    return FSQ_LEVELS[k]


def fsq_levels(levels: str, k: int) -> tuple[int, ...]:
    """The levels of an FSQ quantizer from its config value (``auto``: from K)."""
    return auto_levels(k) if levels == "auto" else parse_levels(levels)


def check_quantizer(cfg: Config) -> None:
    """Types, ranges and combinations of the quantizer options (see the module docstring)."""
    q, m = cfg.quantizer, cfg.model

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise VQLabError(message)

    for name in ("rotation_trick", "cosine_codes"):
        need(isinstance(getattr(q, name), bool), f"quantizer.{name} must be true or false")
    need(isinstance(q.num_codebooks, int) and not isinstance(q.num_codebooks, bool) and q.num_codebooks >= 1,
         "--num-codebooks must be an integer >= 1")
    need(isinstance(q.quantizer_dropout, (int, float)) and not isinstance(q.quantizer_dropout, bool)
         and 0 <= q.quantizer_dropout <= 1, "--quantizer-dropout must be in [0, 1]")
    if q.fsq_levels != "auto":
        parse_levels(q.fsq_levels)
    if m.name != "vqvae":
        return
    need(not q.rotation_trick or q.name in ROTATION_QUANTIZERS,
         f"--rotation-trick rotates the encoder output onto its nearest code; --quantizer {q.name} has none "
         f"(use it with {', '.join(ROTATION_QUANTIZERS)})")
    need(not q.cosine_codes or q.name == "vq",
         f"--cosine-codes is an option of --quantizer vq (not {q.name})")
    need(q.name != "rvq" or q.num_codebooks >= 2,
         "--quantizer rvq needs --num-codebooks >= 2 (one codebook is --quantizer vq)")
    if q.name == "fsq" and q.fsq_levels == "auto":
        auto_levels(m.num_embeddings)


def resolve_quantizer(cfg: Config) -> None:
    """FSQ: ``auto`` levels become the levels for K, and K becomes the product of the levels (in place)."""
    q, m = cfg.quantizer, cfg.model
    if m.name != "vqvae" or q.name != "fsq":
        return
    levels = fsq_levels(q.fsq_levels, m.num_embeddings)
    q.fsq_levels = ",".join(map(str, levels))
    m.num_embeddings = math.prod(levels)
