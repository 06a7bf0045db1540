"""Checks of the ``quantizer`` config section (declared in :mod:`vqlab.config`).

Each quantizer ignores the options that are not its own; combinations that cannot work are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vqlab.errors import VQLabError

if TYPE_CHECKING:
    from vqlab.config import Config

# Quantizers whose output is a nearest code, so the rotation trick applies to them.
ROTATION_QUANTIZERS = ("vq",)


def check_quantizer(cfg: Config) -> None:
    """Types and combinations of the quantizer options."""
    q, m = cfg.quantizer, cfg.model

    def need(ok: bool, message: str) -> None:
        if not ok:
            raise VQLabError(message)

    for name in ("rotation_trick", "cosine_codes"):
        need(isinstance(getattr(q, name), bool), f"quantizer.{name} must be true or false")
    if m.name != "vqvae":
        return
    need(not q.rotation_trick or q.name in ROTATION_QUANTIZERS,
         f"--rotation-trick rotates the encoder output onto its nearest code; --quantizer {q.name} has none "
         f"(use it with {', '.join(ROTATION_QUANTIZERS)})")
    need(not q.cosine_codes or q.name == "vq",
         f"--cosine-codes is an option of --quantizer vq (not {q.name})")
