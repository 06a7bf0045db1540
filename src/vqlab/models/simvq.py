"""SimVQ (Zhu et al. 2024, "Addressing Representation Collapse in Vector Quantized Models with One Linear Layer").

The codes are a frozen random basis C (K, D) times one learned linear map W (D, D): code k is C_k W. Every
gradient step on W moves all K codes at once, so none is left behind (the collapse that makes plain VQ use few
of its codes). The loss is VQ's: ||sg[z] - C_k W||^2 (trains W) + beta ||z - sg[C_k W]||^2 (commitment).

C is drawn from N(0, 1/D) by a generator with a fixed seed, so every process (DDP rank) builds the same one; it
is a buffer, stored in checkpoints and never trained.

W starts from the data: at the first training batch it is set to sqrt(D) M^(1/2), M = E[z z^T] the second moment
of the encoder outputs (over every rank's batch), so the codes C W have the second moment of z. Started as the
identity instead, the codes have norm about 1 while a fresh encoder's outputs are smaller (0.53 on photos), so
the few smallest codes are nearest to every latent (5 of 512 used in the first batch) and W must first shrink
the codebook before usage can grow. A checkpoint written before this start (no ``initialized`` flag) is loaded
as initialised: its W is trained already.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vqlab.config import QuantizerConfig
from vqlab.models import dist_utils
from vqlab.models.quantize import Quantizer, QuantizerOutput, _VQLoss, nearest_codes, perplexity_from_counts
from vqlab.models.rotation import to_codes


class SimVQ(Quantizer):
    """K codes C W of dimension D. Input (B, D, H, W) -> :class:`QuantizerOutput` with (B, H, W) indices.

    Args:
        num_embeddings: K. embedding_dim: D. beta: commitment weight.
        rotation_trick: gradient to the encoder by the rotation trick instead of straight through.
        seed: seed of the frozen basis (the same on every rank).
        max_chunk_elements: bound on the distance matrix kept in memory during the search.
        data_init: set W from the first training batch (see the module notes); False keeps the identity.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, beta: float = 0.25, *, rotation_trick: bool = False,
                 seed: int = 0, max_chunk_elements: int = 1 << 24, data_init: bool = True) -> None:
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError("num_embeddings and embedding_dim must be >= 1")
        self.num_embeddings, self.embedding_dim, self.beta = num_embeddings, embedding_dim, beta
        self.rotation_trick = rotation_trick
        self.max_chunk_elements = max_chunk_elements
        gen = torch.Generator().manual_seed(seed)
        self.register_buffer("basis", torch.randn(num_embeddings, embedding_dim, generator=gen) / embedding_dim**0.5)
        self.weight = nn.Parameter(torch.eye(embedding_dim))
        self.register_buffer("initialized", torch.tensor(not data_init))

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Checkpoints written before the data-dependent start carry no flag: their W is trained, keep it.
        state_dict.setdefault(prefix + "initialized", torch.tensor(True))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def _init_from(self, flat: torch.Tensor) -> None:
        """W = sqrt(D) M^(1/2), M the second moment of ``flat`` (N, D) float32, the same on every rank."""
        second = flat.T @ flat / max(flat.shape[0], 1)
        evals, evecs = torch.linalg.eigh(second.double())
        root = (evecs * evals.clamp_min(0).sqrt()) @ evecs.T
        self.weight.copy_(dist_utils.broadcast((root * self.embedding_dim**0.5).float().contiguous()))
        self.initialized.fill_(True)

    @classmethod
    def from_config(cls, q: QuantizerConfig, num_embeddings: int, embedding_dim: int) -> SimVQ:
        """The SimVQ a config's ``quantizer`` section describes, with K codes of dimension D."""
        return cls(num_embeddings, embedding_dim, q.beta, rotation_trick=q.rotation_trick)

    @property
    def num_codes(self) -> int:
        return self.num_embeddings

    def extra_repr(self) -> str:
        return f"K={self.num_embeddings}, D={self.embedding_dim}, beta={self.beta}, rotation_trick={self.rotation_trick}"

    def codebook(self) -> torch.Tensor:
        """All K codes, C W: (K, D) float32 (with a gradient to W)."""
        return self.basis @ self.weight

    def _codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors of an index tensor (...) -> (..., D), computed only for the rows asked for."""
        return F.embedding(indices, self.basis) @ self.weight

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest-code indices. z: (B, D, H, W) -> (B, H, W) int64."""
        b, d, h, w = z.shape
        flat = z.detach().float().permute(0, 2, 3, 1).reshape(-1, d)
        with torch.autocast(device_type=z.device.type, enabled=False):
            return nearest_codes(flat, self.codebook().detach(), self.max_chunk_elements).view(b, h, w)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors for an index map. indices: (B, H, W) int64 -> (B, D, H, W) float32."""
        with torch.autocast(device_type=indices.device.type, enabled=False):
            return self._codes(indices).permute(0, 3, 1, 2).contiguous()

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        if z.dim() != 4 or z.shape[1] != self.embedding_dim:
            raise ValueError(f"expected (B, {self.embedding_dim}, H, W), got {tuple(z.shape)}")
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float()
            b, d, h, w = z.shape
            flat = z.permute(0, 2, 3, 1).reshape(-1, d)
            if self.training and not bool(self.initialized):
                self._init_from(dist_utils.all_gather_cat(flat.detach()))
            with torch.no_grad():
                indices = nearest_codes(flat, self.codebook(), self.max_chunk_elements)
            codes = self._codes(indices)  # (N, D), gradient to W only
            loss, mse, _ = _VQLoss.apply(flat, codes, 1.0, self.beta)
            quantized = codes.detach().view(b, h, w, d).permute(0, 3, 1, 2)
            out = to_codes(z, quantized, self.rotation_trick)
        counts = torch.bincount(indices, minlength=self.num_embeddings).float()
        if self.training:
            counts = dist_utils.all_reduce_sum(counts)
        return QuantizerOutput(quantized=out, indices=indices.view(b, h, w), loss=loss, codebook_loss=mse,
                               commitment_loss=mse, perplexity=perplexity_from_counts(counts), counts=counts)
