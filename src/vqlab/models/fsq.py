"""Finite scalar quantization (Mentzer et al., "Finite Scalar Quantization: VQ-VAE Made Simple", ICLR 2024).

The encoder output (B, D, H, W) is projected by a 1x1 convolution to d = len(levels) channels; channel i is
bounded to L_i values and rounded to the nearest one with a straight-through gradient; the rounded values,
scaled into [-1, 1], are projected back to D channels for the decoder. The codebook is implicit: the product
of the levels, K = prod L_i codes, none of them learned, so there is no codebook or commitment loss.

Bound: f(z) = tanh(z + s) * h - o with h = (L - 1)(1 + eps) / 2, o = 1/2 for even L (else 0) and
s = atanh(o / h), so that f(0) = 0 and round(f(z)) takes exactly the L integer values
-floor(L/2) .. L - 1 - floor(L/2) (eps > 0 keeps o / h < 1 for L = 2). Dividing by floor(L/2) puts them in
[-1, 1].
Index: the digits round(f(z_i)) + floor(L_i/2) in [0, L_i) as a mixed-radix number, digit 0 least significant.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from vqlab.config import QuantizerConfig
from vqlab.config_quantizer import fsq_levels
from vqlab.models import dist_utils
from vqlab.models.quantize import Quantizer, QuantizerOutput, perplexity_from_counts


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round to the nearest integer (ties to even), gradient passed straight through."""
    return x + (torch.round(x) - x).detach()


class FSQ(Quantizer):
    """Finite scalar quantizer. Input (B, D, H, W) -> :class:`QuantizerOutput` with (B, H, W) indices.

    Args:
        levels: L_i per quantized dimension, each in [2, 256]; K = prod(levels).
        embedding_dim: D, the encoder's output channels (projected to len(levels) and back).
        eps: widens the bound slightly, so that the shift s is finite for L = 2.
    """

    def __init__(self, levels: tuple[int, ...] | list[int], embedding_dim: int, eps: float = 1e-3) -> None:
        super().__init__()
        if not levels or any(not 2 <= int(v) <= 256 for v in levels) or embedding_dim < 1:
            raise ValueError("levels must be a non-empty list of integers in [2, 256] and embedding_dim >= 1")
        self.levels = tuple(int(v) for v in levels)
        self.embedding_dim = embedding_dim
        self.eps = eps
        d = len(self.levels)
        self.project_in = nn.Conv2d(embedding_dim, d, 1)
        self.project_out = nn.Conv2d(d, embedding_dim, 1)
        lv = torch.tensor(self.levels, dtype=torch.float32)
        basis = torch.cumprod(torch.tensor((1,) + self.levels[:-1], dtype=torch.long), 0)
        # Constants, rebuilt from the levels: not part of the state dict.
        self.register_buffer("_levels", lv, persistent=False)
        self.register_buffer("_half", torch.floor(lv / 2), persistent=False)
        self.register_buffer("_basis", basis, persistent=False)

    @classmethod
    def from_config(cls, q: QuantizerConfig, num_embeddings: int, embedding_dim: int) -> FSQ:
        """The FSQ a config describes: its levels (``auto``: the levels for K = ``num_embeddings``)."""
        return cls(fsq_levels(q.fsq_levels, num_embeddings), embedding_dim)

    @property
    def num_codes(self) -> int:
        return math.prod(self.levels)

    def extra_repr(self) -> str:
        return f"levels={list(self.levels)}, K={self.num_codes}, D={self.embedding_dim}"

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """Squash each channel of z (B, d, H, W) into its level range (see the module docstring)."""
        lv = self._levels.view(1, -1, 1, 1)
        h = (lv - 1) * (1 + self.eps) / 2
        offset = torch.where(lv % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / h)
        return torch.tanh(z + shift) * h - offset

    def _rounded(self, z: torch.Tensor) -> torch.Tensor:
        """Encoder output (B, D, H, W) -> rounded integer levels (B, d, H, W), straight-through gradient."""
        return round_ste(self.bound(self.project_in(z)))

    def digits_to_indices(self, rounded: torch.Tensor) -> torch.Tensor:
        """Integer levels (B, d, H, W) -> (B, H, W) int64 codes in [0, K)."""
        digits = (rounded.detach() + self._half.view(1, -1, 1, 1)).long()
        return (digits * self._basis.view(1, -1, 1, 1)).sum(1)

    def indices_to_digits(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, H, W) int64 codes -> their integer levels (B, d, H, W) float32 (the inverse of the above)."""
        digits = (indices.unsqueeze(1) // self._basis.view(1, -1, 1, 1)) % self._levels.long().view(1, -1, 1, 1)
        return digits.float() - self._half.view(1, -1, 1, 1)

    def _output(self, rounded: torch.Tensor) -> torch.Tensor:
        """Integer levels (B, d, H, W) -> the decoder's input (B, D, H, W)."""
        return self.project_out(rounded / self._half.view(1, -1, 1, 1))

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Code indices without any update. z: (B, D, H, W) -> (B, H, W) int64."""
        with torch.no_grad(), torch.autocast(device_type=z.device.type, enabled=False):
            return self.digits_to_indices(self._rounded(z.float()))

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """The decoder's input for an index map. indices: (B, H, W) int64 -> (B, D, H, W) float32."""
        with torch.autocast(device_type=indices.device.type, enabled=False):
            return self._output(self.indices_to_digits(indices))

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        if z.dim() != 4 or z.shape[1] != self.embedding_dim:
            raise ValueError(f"expected (B, {self.embedding_dim}, H, W), got {tuple(z.shape)}")
        with torch.autocast(device_type=z.device.type, enabled=False):
            rounded = self._rounded(z.float())
            quantized = self._output(rounded)
        indices = self.digits_to_indices(rounded)
        counts = torch.bincount(indices.flatten(), minlength=self.num_codes).float()
        if self.training:
            counts = dist_utils.all_reduce_sum(counts)
        zero = torch.zeros((), device=z.device)
        return QuantizerOutput(quantized=quantized, indices=indices, loss=zero, codebook_loss=zero,
                               commitment_loss=zero, perplexity=perplexity_from_counts(counts), counts=counts)

