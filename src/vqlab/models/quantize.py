"""Vector quantization: nearest-code search, straight-through gradient, codebook and commitment losses.

Two ways of learning the codebook (paper section 3.2 and appendix A.1):

- loss-based: the codebook is a parameter trained by ||sg[z] - e||^2;
- EMA: the codebook is a buffer updated by exponential moving averages of assigned encoder outputs.

Both support k-means initialisation from the first training batch and restarting codes that went unused for a
number of steps (re-seeded from the current encoder outputs). Distances and losses are always computed in
float32, also under autocast. Options beyond the paper: the rotation trick for the encoder's gradient
(:mod:`vqlab.models.rotation`) and cosine codes (inputs and codes l2-normalised for the search and the output,
as in ViT-VQGAN). Other quantizers: fsq.py, simvq.py, rvq.py, registered in registry.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vqlab.config import QuantizerConfig
from vqlab.models import dist_utils
from vqlab.models.rotation import to_codes


@dataclass
class QuantizerOutput:
    """Result of a :class:`Quantizer`'s forward.

    quantized: (B, D, H, W) float32 code vectors with a gradient to the input (straight-through or rotation).
    indices: (B, H, W) int64 code indices; (B, N, H, W) for a quantizer with N codebooks (residual VQ).
    loss: scalar, codebook loss + beta * commitment loss (EMA: beta * commitment loss only; FSQ: 0).
    codebook_loss, commitment_loss: scalars, mean squared distance between codes and encoder outputs.
    perplexity: scalar, exp(entropy) of this batch's code histogram (K for uniform use, 1 for a single code);
        with N codebooks the mean over the codebooks used in this batch.
    counts: (K,) float32 histogram of the batch's code assignments (in training under torch.distributed: of
        the global batch, summed over ranks); (N, K) with N codebooks, one row each.
    """

    quantized: torch.Tensor
    indices: torch.Tensor
    loss: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    perplexity: torch.Tensor
    counts: torch.Tensor


class Quantizer(nn.Module):
    """The interface every quantizer offers the VQ-VAE (built from the config by name in
    :mod:`vqlab.models.registry` and handed to the model).

    forward: (B, D, H, W) encoder output -> :class:`QuantizerOutput` (training statistics and updates happen here);
    encode: nearest-code indices without any update; lookup: code vectors of an index map; num_codes: K, the
    codes each index chooses from; num_codebooks: N, the indices per latent position (1 but for residual VQ,
    whose index maps are (B, N, H, W)).
    """

    embedding_dim: int
    num_codebooks: int = 1

    @property
    def num_codes(self) -> int:
        raise NotImplementedError

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, D, H, W) -> (B, H, W) int64 ((B, N, H, W) with N codebooks)."""
        raise NotImplementedError

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, H, W) int64 ((B, N, H, W) with N codebooks) -> (B, D, H, W) float32."""
        raise NotImplementedError


@torch.no_grad()
def nearest_codes(z: torch.Tensor, codebook: torch.Tensor, max_chunk_elements: int = 1 << 24) -> torch.Tensor:
    """Index of the nearest code (squared Euclidean distance) for every row of ``z``.

    z: (N, D), codebook: (K, D) -> (N,) int64. Uses argmin_k ||e_k||^2 - 2 z.e_k as one matrix product per
    chunk of rows, so at most ``max_chunk_elements`` distances (float32) exist at once whatever K is.
    ``min(1).indices`` rather than ``argmin(1)``: the same first-minimum index, about twice as fast on CPU.
    """
    # Autocast would run addmm in bf16 even on float32 operands: the search turns it off (float32 always).
    with torch.autocast(device_type=z.device.type, enabled=False):
        z = z.float()
        codebook = codebook.float()
        n, k = z.shape[0], codebook.shape[0]
        e_sq = codebook.pow(2).sum(1)
        rows = max(1, max_chunk_elements // max(k, 1))
        if rows >= n:
            return torch.addmm(e_sq, z, codebook.t(), alpha=-2.0).min(1).indices
        out = torch.empty(n, dtype=torch.long, device=z.device)
        cb_t = codebook.t()
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            out[start:stop] = torch.addmm(e_sq, z[start:stop], cb_t, alpha=-2.0).min(1).indices
        return out


class _VQLoss(torch.autograd.Function):
    """The VQ objective in one pass: codebook_weight * ||sg[z] - e||^2 + beta * ||z - sg[e]||^2 (means).

    Both terms have the same value, mean((e - z)^2); they differ only in where the gradient goes: the codebook
    term sends 2 (e - z) / M to e, the commitment term 2 beta (z - e) / M to z. Computing the difference once and
    writing both gradients by hand saves two of the four elementwise passes two ``mse_loss`` calls make.
    Inputs z, e: same shape, float32. Returns (loss, mse, e - z); only ``loss`` carries a gradient.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, e: torch.Tensor, codebook_weight: float, beta: float):  # type: ignore[override]
        diff = e - z
        mse = diff.pow(2).mean()
        ctx.save_for_backward(diff)
        ctx.codebook_weight, ctx.beta = codebook_weight, beta
        mse_out = mse.detach().clone()
        ctx.mark_non_differentiable(mse_out, diff)
        return (codebook_weight + beta) * mse, mse_out, diff

    @staticmethod
    def backward(ctx, grad_loss: torch.Tensor, _grad_mse: torch.Tensor, _grad_diff: torch.Tensor):  # type: ignore[override]
        (diff,) = ctx.saved_tensors
        scale = 2.0 * grad_loss / diff.numel()
        grad_z = diff * (-ctx.beta * scale) if ctx.needs_input_grad[0] else None
        grad_e = diff * (ctx.codebook_weight * scale) if ctx.needs_input_grad[1] else None
        return grad_z, grad_e, None, None


def perplexity_from_counts(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of a code histogram. counts: (K,) -> scalar float32."""
    counts = counts.float()
    p = counts / counts.sum().clamp_min(1e-12)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return entropy.exp()


class VectorQuantizer(Quantizer):
    """K codes of dimension D. Input (B, D, H, W) -> :class:`QuantizerOutput`.

    Args:
        num_embeddings: K, the number of codes.
        embedding_dim: D, the dimension of each code (must equal the encoder's output channels).
        beta: weight of the commitment loss (paper: 0.25).
        ema: learn the codebook by exponential moving averages instead of the codebook loss.
        decay: EMA decay (paper appendix A.1: 0.99).
        epsilon: Laplace smoothing of the EMA cluster sizes.
        kmeans_init: initialise the codebook by k-means on the first training batch.
        restart_after: re-seed a code from current encoder outputs once it went unused for this many training
            steps; 0 disables restarts.
        max_chunk_elements: bound on the distance matrix kept in memory during the search.
        rotation_trick: the encoder's gradient goes through the rotation of its output onto the code
            (:func:`vqlab.models.rotation.rotate_to_codes`) instead of straight through.
        cosine_codes: inputs and codes are l2-normalised for the search, the losses and the output.
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        beta: float = 0.25,
        *,
        ema: bool = False,
        decay: float = 0.99,
        epsilon: float = 1e-5,
        kmeans_init: bool = False,
        restart_after: int = 0,
        max_chunk_elements: int = 1 << 24,
        rotation_trick: bool = False,
        cosine_codes: bool = False,
    ) -> None:
        super().__init__()
        if num_embeddings < 1 or embedding_dim < 1:
            raise ValueError("num_embeddings and embedding_dim must be >= 1")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.beta = beta
        self.ema = ema
        self.decay = decay
        self.epsilon = epsilon
        self.kmeans_init = kmeans_init
        self.restart_after = restart_after
        self.max_chunk_elements = max_chunk_elements
        self.rotation_trick = rotation_trick
        self.cosine_codes = cosine_codes
        init = torch.empty(num_embeddings, embedding_dim).uniform_(-1.0 / num_embeddings, 1.0 / num_embeddings)
        if ema:
            self.register_buffer("codebook", init)
            self.register_buffer("ema_count", torch.ones(num_embeddings))
            self.register_buffer("ema_weight", init.clone())
        else:
            self.codebook = nn.Parameter(init)
        self.register_buffer("initialized", torch.tensor(not kmeans_init))
        self.register_buffer("unused_steps", torch.zeros(num_embeddings, dtype=torch.long))

    @classmethod
    def from_config(cls, q: QuantizerConfig, num_embeddings: int, embedding_dim: int) -> VectorQuantizer:
        """The quantizer a config's ``quantizer`` section describes, with K codes of dimension D."""
        return cls(num_embeddings, embedding_dim, q.beta, ema=q.ema, decay=q.decay, kmeans_init=q.kmeans_init,
                   restart_after=q.restart_after, rotation_trick=q.rotation_trick, cosine_codes=q.cosine_codes)

    @property
    def num_codes(self) -> int:
        return self.num_embeddings

    def extra_repr(self) -> str:
        return (
            f"K={self.num_embeddings}, D={self.embedding_dim}, beta={self.beta}, ema={self.ema}, "
            f"kmeans_init={self.kmeans_init}, restart_after={self.restart_after}"
            + (", rotation_trick=True" if self.rotation_trick else "") + (", cosine_codes=True" if self.cosine_codes else "")
        )

    def _codes(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors of any index tensor (...) -> (..., D), unit length with cosine codes."""
        codes = F.embedding(indices, self.codebook)
        return F.normalize(codes, dim=-1) if self.cosine_codes else codes

    def _search_codebook(self) -> torch.Tensor:
        codebook = self.codebook.detach()
        return F.normalize(codebook, dim=1) if self.cosine_codes else codebook

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code vectors for an index map. indices: (B, H, W) int64 -> (B, D, H, W) float32."""
        return self._codes(indices).permute(0, 3, 1, 2).contiguous()

    def encode(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest-code indices without any update. z: (B, D, H, W) -> (B, H, W) int64."""
        b, d, h, w = z.shape
        flat = z.detach().float().permute(0, 2, 3, 1).reshape(-1, d)
        if self.cosine_codes:
            flat = F.normalize(flat, dim=1)
        return nearest_codes(flat, self._search_codebook(), self.max_chunk_elements).view(b, h, w)

    def forward(self, z: torch.Tensor) -> QuantizerOutput:
        if z.dim() != 4 or z.shape[1] != self.embedding_dim:
            raise ValueError(f"expected (B, {self.embedding_dim}, H, W), got {tuple(z.shape)}")
        with torch.autocast(device_type=z.device.type, enabled=False):
            return self._quantize(z.float())

    def _quantize(self, z: torch.Tensor) -> QuantizerOutput:
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(-1, d)
        if self.cosine_codes:
            flat = F.normalize(flat, dim=1)
            z = flat.view(b, h, w, d).permute(0, 3, 1, 2)
        if self.training and not bool(self.initialized):
            self._kmeans(dist_utils.all_gather_cat(flat.detach()))
        indices = nearest_codes(flat.detach(), self._search_codebook(), self.max_chunk_elements)
        quantized = self._codes(indices).view(b, h, w, d).permute(0, 3, 1, 2)
        counts = torch.bincount(indices, minlength=self.num_embeddings).float()

        # One pass for both loss terms (their values are equal; only their gradients differ), see _VQLoss.
        codebook_weight = 0.0 if self.ema else 1.0
        loss, mse, diff = _VQLoss.apply(z, quantized.detach() if self.ema else quantized, codebook_weight, self.beta)
        codebook_loss = commitment_loss = mse

        batch_counts = counts
        if self.training:
            # Under torch.distributed every rank sees the statistics of the global batch, so the codebooks
            # stay identical across ranks and equal to a one-process run on the same global batch.
            batch_counts = dist_utils.all_reduce_sum(counts.clone())
            if self.ema:
                self._ema_update(flat.detach(), indices, batch_counts)
            if self.restart_after > 0:
                self._restart_dead(flat.detach(), batch_counts)

        quantized_st = to_codes(z, quantized.detach(), True) if self.rotation_trick else z + diff.detach()
        return QuantizerOutput(
            quantized=quantized_st,
            indices=indices.view(b, h, w),
            loss=loss,
            codebook_loss=codebook_loss,
            commitment_loss=commitment_loss,
            perplexity=perplexity_from_counts(batch_counts),
            counts=batch_counts,
        )

    @torch.no_grad()
    def _ema_update(self, flat: torch.Tensor, indices: torch.Tensor, counts: torch.Tensor) -> None:
        """EMA of cluster sizes and sums with Laplace smoothing; counts are already summed over ranks."""
        dw = torch.zeros_like(self.ema_weight).index_add_(0, indices, flat)
        dw = dist_utils.all_reduce_sum(dw)
        self.ema_count.mul_(self.decay).add_(counts, alpha=1.0 - self.decay)
        self.ema_weight.mul_(self.decay).add_(dw, alpha=1.0 - self.decay)
        n = self.ema_count.sum()
        smoothed = (self.ema_count + self.epsilon) / (n + self.num_embeddings * self.epsilon) * n
        self.codebook.copy_(self.ema_weight / smoothed.unsqueeze(1))

    @torch.no_grad()
    def _restart_dead(self, flat: torch.Tensor, counts: torch.Tensor) -> None:
        """Re-seed codes unused for ``restart_after`` steps with random current encoder outputs."""
        self.unused_steps.add_(1)
        self.unused_steps[counts > 0] = 0
        dead = (self.unused_steps >= self.restart_after).nonzero().flatten()
        if dead.numel() == 0:
            return
        flat = dist_utils.all_gather_cat(flat)
        pick = torch.randint(0, flat.shape[0], (dead.numel(),), device=flat.device)
        fresh = dist_utils.broadcast(flat[pick].contiguous())
        self.codebook.data[dead] = fresh
        if self.ema:
            self.ema_count[dead] = 1.0
            self.ema_weight[dead] = fresh
        self.unused_steps[dead] = 0

    @torch.no_grad()
    def _kmeans(self, flat: torch.Tensor, iters: int = 10, max_points: int = 1 << 15) -> None:
        """Initialise the codebook by k-means (Lloyd) on encoder outputs. flat: (N, D)."""
        k = self.num_embeddings
        if flat.shape[0] > max_points:
            flat = flat[torch.randperm(flat.shape[0], device=flat.device)[:max_points]]
        if flat.shape[0] >= k:
            centers = flat[torch.randperm(flat.shape[0], device=flat.device)[:k]].clone()
        else:
            pick = torch.randint(0, flat.shape[0], (k,), device=flat.device)
            centers = flat[pick] + 1e-3 * flat.std().clamp_min(1e-6) * torch.randn(k, flat.shape[1], device=flat.device)
        counts = torch.zeros(k, device=flat.device)
        for _ in range(iters):
            assign = nearest_codes(flat, centers, self.max_chunk_elements)
            counts = torch.bincount(assign, minlength=k).float()
            sums = torch.zeros_like(centers).index_add_(0, assign, flat)
            used = counts > 0
            centers[used] = sums[used] / counts[used].unsqueeze(1)
        centers = dist_utils.broadcast(centers.contiguous())
        counts = dist_utils.broadcast(counts.contiguous())
        self.codebook.data.copy_(centers)
        if self.ema:
            self.ema_count.copy_(counts.clamp_min(1.0))
            self.ema_weight.copy_(centers * self.ema_count.unsqueeze(1))
        self.initialized.fill_(True)
