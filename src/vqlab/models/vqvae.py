"""The VQ-VAE: encoder, vector quantizer, decoder (van den Oord et al. 2017)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vqlab.models.base import LatentModel
from vqlab.models.layers import Decoder, Encoder
from vqlab.models.likelihood import LikelihoodHead
from vqlab.models.quantize import Quantizer, VectorQuantizer


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
    indices: (B, H/4, W/4) int64 code map ((B, n, H/4, W/4) for a quantizer with several codebooks).
    perplexity: scalar, exp(entropy) of the batch's code histogram.
    counts: (K,) histogram of the batch's codes ((N, K) with N codebooks).
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


class VQVAE(LatentModel):
    """Vector-quantised VAE. Input (B, in_channels, H, W) with H, W divisible by 4.

    The defaults are the paper's CIFAR-10 model (section 4.1): h=256, two residual blocks, K=512, D=64.
    ``quantizer`` is any :class:`~vqlab.models.quantize.Quantizer` whose ``embedding_dim`` is D, or a function
    that makes one (the registry hands over a function built from the config, called after the encoder exists so
    that parameters are initialised in the same order as always); without one, a :class:`VectorQuantizer` is
    made from ``num_embeddings``, ``embedding_dim``, ``beta`` and the keyword options. With a ``likelihood`` head the decoder predicts that
    head's parameters and trains on its NLL.
    """

    discrete = True
    prior = "learned"

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
        quantizer: Quantizer | Callable[[], Quantizer] | None = None,
        downsample: int = 4,
    ) -> None:
        super().__init__()
        self.downsample = downsample
        if isinstance(quantizer, Quantizer):
            embedding_dim = quantizer.embedding_dim
        self.encoder = Encoder(in_channels, hidden, embedding_dim, num_res_blocks, downsample)
        if quantizer is None:
            quantizer = VectorQuantizer(num_embeddings, embedding_dim, beta, ema=ema, decay=decay,
                                        kmeans_init=kmeans_init, restart_after=restart_after)
        elif not isinstance(quantizer, Quantizer):
            quantizer = quantizer()
        if quantizer.embedding_dim != embedding_dim:
            raise ValueError(f"the quantizer's codes have D={quantizer.embedding_dim}, the encoder makes {embedding_dim}")
        self.quantizer = quantizer
        self.likelihood = likelihood
        params = out_channels * (likelihood.params_per_channel if likelihood is not None else 1)
        self.decoder = Decoder(embedding_dim, hidden, params, num_res_blocks, downsample)

    @property
    def num_codes(self) -> int:
        return self.quantizer.num_codes

    @property
    def num_embeddings(self) -> int:
        return self.quantizer.num_codes

    @property
    def num_codebooks(self) -> int:
        return self.quantizer.num_codebooks

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
        """Code map of an image batch. x: (B, C_in, H, W) -> (B, H/4, W/4) int64 ((B, N, H/4, W/4) with N
        codebooks)."""
        return self.quantizer.encode(self.encoder(x))

    def decoder_params(self, indices: torch.Tensor) -> torch.Tensor:
        """Raw decoder output for a code map (the image, or the likelihood head's parameters).

        indices: (B, h, w) (with N codebooks (B, n, h, w), n <= N) -> (B, C_out * P, 4h, 4w).
        """
        return self.decoder(self.quantizer.lookup(indices))

    @torch.no_grad()
    def interpolate(self, xa: torch.Tensor, xb: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        """Codes of points between A's and B's encoder outputs (before quantization), each quantized to its
        nearest codes. x: (1, C, H, W), ts: (S,) -> (S, h, w)."""
        ts = ts.to(xa.device).view(-1, 1, 1, 1)
        za, zb = self.encoder(xa).float(), self.encoder(xb).float()
        return self.quantizer.encode((1 - ts) * za + ts * zb)

    def bound_terms(self, inputs: torch.Tensor, targets: torch.Tensor, head: LikelihoodHead, iw_samples: int,
                    max_decode: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The deterministic one-hot posterior has KL = log K per latent to the uniform prior over codes, so
        -log p(x|z_q) + n_latents log K is the negative ELBO exactly (paper section 4.1). With N codebooks every
        position has N latents."""
        idx = self.encode(inputs)
        nll = head.nll(self.decoder_params(idx), targets)
        rate = torch.full_like(nll, idx[0].numel() * math.log(self.num_codes))
        return nll, rate, nll + rate

    def bound_names(self, iw_samples: int) -> dict[str, str]:
        return {"bound": "vq: -log p(x|z_q) + latents*log K, uniform prior"}
