"""The VQ-VAE: encoder, vector quantizer, decoder (van den Oord et al. 2017)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vqlab.models.layers import Decoder, Encoder
from vqlab.models.likelihood import LikelihoodHead
from vqlab.models.quantize import VectorQuantizer


@dataclass
class VQVAEOutput:
    """Result of :meth:`VQVAE.forward`.

    recon: (B, out_channels, H, W) the image shown (same scale as the target): the decoder output, or with a
        likelihood head the mean of its distribution.
    loss: scalar training loss = recon_loss + vq_loss.
    recon_loss: scalar, mean squared error against the target (float32); with a likelihood head the NLL in nats
        per dimension (mean over sub-pixels of -log p(x|z_q)).
    vq_loss: scalar codebook + beta * commitment loss (EMA codebook: beta * commitment only).
    codebook_loss, commitment_loss: scalars, for logging.
    indices: (B, H/4, W/4) int64 code map.
    perplexity: scalar, exp(entropy) of the batch's code histogram.
    counts: (K,) histogram of the batch's codes.
    mse: scalar mean squared error of ``recon`` against the target (equal to recon_loss without a head).
    nll: (B,) -log p(x|z_q) in nats per image with a likelihood head, else None.
    """

    recon: torch.Tensor
    loss: torch.Tensor
    recon_loss: torch.Tensor
    vq_loss: torch.Tensor
    codebook_loss: torch.Tensor
    commitment_loss: torch.Tensor
    indices: torch.Tensor
    perplexity: torch.Tensor
    counts: torch.Tensor
    mse: torch.Tensor | None = None
    nll: torch.Tensor | None = None


class VQVAE(nn.Module):
    """Vector-quantised VAE. Input (B, in_channels, H, W) with H, W divisible by 4.

    The defaults are the paper's CIFAR-10 model (section 4.1): h=256, two residual blocks, K=512, D=64.
    With a ``likelihood`` head the decoder predicts that head's parameters and trains on its NLL.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        hidden: int = 256,
        num_res_blocks: int = 2,
        num_embeddings: int = 512,
        embedding_dim: int = 64,
        beta: float = 0.25,
        *,
        ema: bool = False,
        decay: float = 0.99,
        kmeans_init: bool = False,
        restart_after: int = 0,
        likelihood: LikelihoodHead | None = None,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(in_channels, hidden, embedding_dim, num_res_blocks)
        self.quantizer = VectorQuantizer(
            num_embeddings, embedding_dim, beta, ema=ema, decay=decay, kmeans_init=kmeans_init,
            restart_after=restart_after,
        )
        self.likelihood = likelihood
        params = out_channels * (likelihood.params_per_channel if likelihood is not None else 1)
        self.decoder = Decoder(embedding_dim, hidden, params, num_res_blocks)

    @property
    def num_embeddings(self) -> int:
        return self.quantizer.num_embeddings

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> VQVAEOutput:
        """Encode, quantize, decode. x: (B, C_in, H, W); target defaults to x."""
        target = x if target is None else target
        q = self.quantizer(self.encoder(x))
        params = self.decoder(q.quantized)
        nll = None
        if self.likelihood is None:
            recon = params
            recon_loss = mse = F.mse_loss(recon.float(), target.float())
        else:
            nll = self.likelihood.nll(params, target)
            recon_loss = nll.mean() / target[0].numel()
            recon = self.likelihood.mean_image(params)
            mse = F.mse_loss(recon.detach(), target.float())
        return VQVAEOutput(
            recon=recon,
            loss=recon_loss + q.loss,
            recon_loss=recon_loss,
            vq_loss=q.loss,
            codebook_loss=q.codebook_loss,
            commitment_loss=q.commitment_loss,
            indices=q.indices,
            perplexity=q.perplexity,
            counts=q.counts,
            mse=mse,
            nll=nll,
        )

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Code map of an image batch. x: (B, C_in, H, W) -> (B, H/4, W/4) int64."""
        return self.quantizer.encode(self.encoder(x))

    def decoder_params(self, indices: torch.Tensor) -> torch.Tensor:
        """Raw decoder output for a code map (the image, or the likelihood head's parameters).

        indices: (B, h, w) -> (B, C_out * P, 4h, 4w).
        """
        return self.decoder(self.quantizer.lookup(indices))

    @torch.no_grad()
    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Image batch from a code map. indices: (B, h, w) -> (B, C_out, 4h, 4w)."""
        params = self.decoder_params(indices)
        return params if self.likelihood is None else self.likelihood.mean_image(params)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder output for x without updating the codebook. (B, C_in, H, W) -> (B, C_out, H, W)."""
        return self.decode(self.encode(x))
