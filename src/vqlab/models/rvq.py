"""Residual vector quantization (Zeghidour et al. 2021, SoundStream; "RVQ").

N vector quantizers of K codes each: the first quantizes the encoder output z, each next one the residual
z - (sum of the codes chosen so far); the decoder's input is the sum of the N codes. A latent position thus has
N indices, and an index map is (B, N, H, W) (``num_codebooks`` = N, ``num_codes`` = K per codebook); its rate is
N log K per position. Decoding the first n <= N maps alone gives a coarser reconstruction: with quantizer
dropout (a random number n ~ U{1..N} of codebooks for a fraction of the training batches, the same on every
rank) one model serves all N rates (:meth:`ResidualVQ.lookup` takes (B, n, H, W)).

Each level is a :class:`~vqlab.models.quantize.VectorQuantizer` with the config's codebook options (EMA,
k-means initialisation, dead-code restarts); the losses are the sums of the levels' losses. The gradient to the
encoder goes once from the sum of the codes to z (straight-through, or the rotation trick onto the sum).
"""

from __future__ import annotations

import torch
from torch import nn

from vqlab.config import QuantizerConfig
from vqlab.models.quantize import Quantizer, QuantizerOutput, VectorQuantizer
from vqlab.models.rotation import to_codes


class ResidualVQ(Quantizer):
    """N residual codebooks of K codes of dimension D. Input (B, D, H, W) -> :class:`QuantizerOutput` with
    (B, n, H, W) indices (n = N, or the depth drawn by quantizer dropout in training) and (N, K) counts.

    Args:
        num_embeddings: K, codes per codebook. embedding_dim: D. num_codebooks: N >= 2.
        beta: commitment weight of every level.
        dropout: fraction of training batches that use only the first n ~ U{1..N} codebooks (0: never).
        rotation_trick: gradient to the encoder by the rotation trick onto the sum of the codes.
        vq_options: keyword options of each level's :class:`VectorQuantizer` (ema, decay, kmeans_init, ...).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, num_codebooks: int, beta: float = 0.25, *,
                 dropout: float = 1.0, rotation_trick: bool = False, **vq_options) -> None:
        super().__init__()
        if num_codebooks < 2:
            raise ValueError("num_codebooks must be >= 2 (one codebook is a VectorQuantizer)")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError("dropout must be in [0, 1]")
        self.num_embeddings, self.embedding_dim, self.num_codebooks = num_embeddings, embedding_dim, num_codebooks
        self.dropout, self.rotation_trick = dropout, rotation_trick
        self.levels = nn.ModuleList(VectorQuantizer(num_embeddings, embedding_dim, beta, **vq_options)
                                    for _ in range(num_codebooks))
        # The depth of training batch t is drawn from (dropout_seed, t): identical on every rank, and a resumed
        # run continues the sequence (both are buffers, stored in checkpoints).
        self.register_buffer("dropout_seed", torch.randint(0, 2**62, ()))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @classmethod
    def from_config(cls, q: QuantizerConfig, num_embeddings: int, embedding_dim: int) -> ResidualVQ:
        """The residual quantizer a config's ``quantizer`` section describes, with K codes of dimension D."""
        return cls(num_embeddings, embedding_dim, q.num_codebooks, q.beta, dropout=q.quantizer_dropout,
                   rotation_trick=q.rotation_trick, ema=q.ema, decay=q.decay, kmeans_init=q.kmeans_init,
                   restart_after=q.restart_after)

    @property
    def num_codes(self) -> int:
        return self.num_embeddings

    def extra_repr(self) -> str:
        return f"N={self.num_codebooks}, dropout={self.dropout}, rotation_trick={self.rotation_trick}"

    def draw_depth(self) -> int:
        """The number of codebooks the next training batch uses (advances the step counter)."""
        n = self.num_codebooks
        step = int(self.steps)
        self.steps.add_(1)
        if self.dropout <= 0 or n == 1:
            return n
        g = torch.Generator().manual_seed((int(self.dropout_seed) + 1_000_003 * step) % (2**63))
        drop = bool(torch.rand((), generator=g) < self.dropout)
        return int(torch.randint(1, n + 1, (), generator=g)) if drop else n

    @torch.no_grad()
    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Indices of all N codebooks, without any update. z: (B, D, H, W) -> (B, N, H, W) int64."""
        residual = z.float()
        out = []
        with torch.autocast(device_type=z.device.type, enabled=False):
            for level in self.levels:
                idx = level.encode(residual)
                residual = residual - level.lookup(idx)
                out.append(idx)
        return torch.stack(out, dim=1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Sum of the code vectors of the first n codebooks. indices: (B, n, H, W), 1 <= n <= N ->
        (B, D, H, W) float32."""
        if indices.dim() != 4 or not 1 <= indices.shape[1] <= self.num_codebooks:
            raise ValueError(f"expected (B, n, H, W) indices with 1 <= n <= {self.num_codebooks}, "
                             f"got {tuple(indices.shape)}")
        with torch.autocast(device_type=indices.device.type, enabled=False):
            return sum(level.lookup(indices[:, i]) for i, level in enumerate(self.levels[:indices.shape[1]]))

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        if z.dim() != 4 or z.shape[1] != self.embedding_dim:
            raise ValueError(f"expected (B, {self.embedding_dim}, H, W), got {tuple(z.shape)}")
        depth = self.draw_depth() if self.training else self.num_codebooks
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float()
            residual, total = z, torch.zeros_like(z)
            zero = torch.zeros((), device=z.device)
            loss, codebook_loss, commitment_loss = zero, zero, zero
            indices, perplexities = [], []
            counts = torch.zeros(self.num_codebooks, self.num_embeddings, device=z.device)
            for i, level in enumerate(self.levels):
                if i >= depth:
                    if level.codebook.requires_grad:  # unused this batch: a zero gradient keeps DDP's reducer happy
                        loss = loss + 0.0 * level.codebook.sum()
                    continue
                out = level(residual)
                code = out.quantized.detach()
                total, residual = total + code, residual - code
                loss = loss + out.loss
                codebook_loss, commitment_loss = codebook_loss + out.codebook_loss, commitment_loss + out.commitment_loss
                indices.append(out.indices)
                perplexities.append(out.perplexity)
                counts[i] = out.counts
            quantized = to_codes(z, total, self.rotation_trick)
        return QuantizerOutput(quantized=quantized, indices=torch.stack(indices, dim=1), loss=loss,
                               codebook_loss=codebook_loss, commitment_loss=commitment_loss,
                               perplexity=torch.stack(perplexities).mean(), counts=counts)
