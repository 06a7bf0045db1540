"""Discrete-latent baseline trained with VIMCO (Mnih & Rezende 2016), as compared in the VQ-VAE paper (4.1).

Each latent position (the encoder's (H/4, W/4) grid) holds one of K classes. The posterior q(z|x) is a factorised
categorical given by the encoder's K logits per position, the prior is the independent uniform categorical, and
a learned (K, D) embedding table turns a class map into the decoder's input, as for the VQ-VAE.

Training maximises the S-sample bound L_S = log (1/S) sum_s w_s, w_s = p(x|z_s) p(z_s) / q(z_s|x), z_s ~ q.
Decoder and embedding gradients flow through sum_s w~_s grad log p(x|z_s) (w~ = normalised weights); the
encoder gets the VIMCO estimator sum_s (L - L_{-s}) grad log q(z_s|x) - sum_s w~_s grad log q(z_s|x), where the
leave-one-out baseline L_{-s} replaces w_s by the geometric mean of the other weights. :func:`vimco_surrogate`
builds a loss whose gradient is exactly that estimate. One step costs S decoder passes per image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from vqlab.models.base import LatentModel, sample_chunks
from vqlab.models.layers import Decoder, Encoder
from vqlab.models.likelihood import LikelihoodHead
from vqlab.models.quantize import perplexity_from_counts


@dataclass
class VIMCOOutput:
    """Result of :meth:`VIMCO.forward`.

    recon: (B, C_out, H, W) image shown for the first sample (the posterior mode in eval mode).
    loss: scalar surrogate loss (divided by dims); its gradient is the VIMCO estimate of -grad L_S / dims.
    recon_loss: scalar, -log p(x|z) in nats per dimension averaged over the samples.
    bound: scalar, -L_S in nats per dimension (batch mean): the multi-sample bound on -log p(x).
    kl: scalar, KL(q(z|x) || uniform) in nats per image, batch mean (exact in eval mode; in training the
        S-sample Monte Carlo estimate mean_s [log q(z_s|x) - log p(z_s)]).
    indices: (B, h, w) int64 class map of the first sample (the mode in eval mode).
    perplexity: scalar, exp(entropy) of the batch's class histogram (over all samples).
    counts: (K,) histogram of the sampled classes.
    mse: scalar mean squared error of ``recon`` against the target.
    """

    recon: torch.Tensor
    loss: torch.Tensor
    recon_loss: torch.Tensor
    bound: torch.Tensor
    kl: torch.Tensor
    indices: torch.Tensor
    perplexity: torch.Tensor
    counts: torch.Tensor
    mse: torch.Tensor


def vimco_surrogate(log_px: torch.Tensor, log_q: torch.Tensor, log_prior: torch.Tensor | float = 0.0
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Surrogate loss of the VIMCO estimator and the multi-sample bound, per item.

    log_px: (B, S) log p(x|z_s), differentiable in the decoder; log_q: (B, S) log q(z_s|x), differentiable in the
    encoder; log_prior: log p(z_s) (constant for a uniform prior). Returns (surrogate (B,), bound L_S (B,)): the
    gradient of ``surrogate.sum()`` is minus the VIMCO estimate of grad L_S, and ``bound`` carries no gradient.
    All in float32.
    """
    log_px, log_q = log_px.float(), log_q.float()
    s = log_px.shape[1]
    if s < 2:
        raise ValueError("VIMCO needs at least two samples")
    log_w = log_px + log_prior - log_q  # (B, S)
    lw = log_w.detach()
    bound = torch.logsumexp(lw, dim=1) - math.log(s)
    # Leave-one-out: replace log w_s by the mean of the other log-weights (the geometric mean of the others).
    loo_mean = (lw.sum(1, keepdim=True) - lw) / (s - 1)  # (B, S)
    eye = torch.eye(s, dtype=torch.bool, device=lw.device)
    replaced = torch.where(eye.unsqueeze(0), loo_mean.unsqueeze(2), lw.unsqueeze(1))  # (B, S, S): row s = L_{-s}
    loo_bound = torch.logsumexp(replaced, dim=2) - math.log(s)
    signal = bound.unsqueeze(1) - loo_bound  # (B, S)
    w_norm = torch.softmax(lw, dim=1)
    surrogate = -((signal * log_q).sum(1) + (w_norm * log_w).sum(1))
    return surrogate, bound


class VIMCO(LatentModel):
    """Factorised categorical latents with a uniform prior, trained by VIMCO with ``samples`` samples per image.

    Shapes: input (B, C_in, H, W), H and W divisible by 4; the latent grid is (H/4, W/4) with K classes each.
    The likelihood head is required (the multi-sample bound needs a normalised p(x|z)).
    """

    discrete = True
    multi_sample_bound = True

    def __init__(self, in_channels: int, out_channels: int, hidden: int, num_res_blocks: int, num_embeddings: int,
                 embedding_dim: int, likelihood: LikelihoodHead, samples: int = 50, downsample: int = 4) -> None:
        super().__init__()
        self.downsample = downsample
        self.num_embeddings = num_embeddings
        self.samples = samples
        self.likelihood = likelihood
        self.encoder = Encoder(in_channels, hidden, num_embeddings, num_res_blocks, downsample)
        self.embedding = nn.Embedding(num_embeddings, embedding_dim)
        self.decoder = Decoder(embedding_dim, hidden, out_channels * likelihood.params_per_channel, num_res_blocks,
                               downsample)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of q(z|x), float32. (B, C_in, H, W) -> (B, h, w, K) (normalised over K)."""
        return F.log_softmax(self.encoder(x).float().permute(0, 2, 3, 1), dim=-1)

    def decoder_params(self, indices: torch.Tensor) -> torch.Tensor:
        """Decoder output (the head's parameters) for class maps. (N, h, w) -> (N, C_out * P, 4h, 4w)."""
        return self.decoder(self.embedding(indices).permute(0, 3, 1, 2).contiguous())

    def sample(self, log_q: torch.Tensor, samples: int) -> torch.Tensor:
        """Samples from q. log_q: (B, h, w, K) -> (B, S, h, w) int64."""
        b, h, w, k = log_q.shape
        flat = torch.multinomial(log_q.detach().exp().reshape(-1, k), samples, replacement=True)  # (B*h*w, S)
        return flat.view(b, h, w, samples).permute(0, 3, 1, 2).contiguous()

    def log_weights(self, x: torch.Tensor, target: torch.Tensor, samples: int,
                    log_q_all: torch.Tensor | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample S class maps per image and score them.

        Returns log p(x|z_s) (B, S), log q(z_s|x) (B, S), the samples (B, S, h, w) and the decoder output of
        every sample (B*S, C_out*P, H, W). The prior term is :meth:`log_prior`. ``log_q_all`` (:meth:`logits`
        of x) may be passed to skip the encoder.
        """
        log_q_all = self.logits(x) if log_q_all is None else log_q_all
        z = self.sample(log_q_all, samples)  # (B, S, h, w)
        b = z.shape[0]
        log_q = log_q_all.unsqueeze(1).expand(-1, samples, -1, -1, -1).gather(-1, z.unsqueeze(-1)).squeeze(-1)
        params = self.decoder_params(z.flatten(0, 1))
        rep_target = target.unsqueeze(1).expand(-1, samples, *target.shape[1:]).flatten(0, 1)
        log_px = -self.likelihood.nll(params, rep_target).view(b, samples)
        return log_px, log_q.flatten(2).sum(2), z, params

    def log_prior(self, latent_hw: tuple[int, int]) -> float:
        """log p(z) of any class map under the uniform prior: -(h w) log K."""
        return -latent_hw[0] * latent_hw[1] * math.log(self.num_embeddings)

    def kl(self, log_q_all: torch.Tensor) -> torch.Tensor:
        """KL(q(z|x) || uniform) = n log K - H(q), nats per image. (B, h, w, K) -> (B,)."""
        n = log_q_all.shape[1] * log_q_all.shape[2]
        entropy = -(log_q_all.exp() * log_q_all).flatten(1).sum(1)
        return n * math.log(self.num_embeddings) - entropy

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> VIMCOOutput:
        """Training: S-sample VIMCO surrogate. Eval mode: the posterior mode, no sampling for ``recon``."""
        target = x if target is None else target
        dims = target[0].numel()
        if not self.training:
            log_q_all = self.logits(x)
            indices = log_q_all.argmax(-1)
            params = self.decoder_params(indices)
            nll = self.likelihood.nll(params, target)
            recon = self.likelihood.mean_image(params)
            counts = torch.bincount(indices.flatten(), minlength=self.num_embeddings).float()
            kl = self.kl(log_q_all)
            zero = torch.zeros((), device=x.device)
            return VIMCOOutput(recon=recon, loss=zero, recon_loss=nll.mean() / dims, bound=(nll + kl).mean() / dims,
                               kl=kl.mean(), indices=indices, perplexity=perplexity_from_counts(counts),
                               counts=counts, mse=F.mse_loss(recon, target.float()))
        log_px, log_q, z, params = self.log_weights(x, target, self.samples)
        surrogate, bound = vimco_surrogate(log_px, log_q, self.log_prior(z.shape[-2:]))
        first = params.view(z.shape[0], self.samples, *params.shape[1:])[:, 0]
        recon = self.likelihood.mean_image(first.detach())
        counts = torch.bincount(z.flatten(), minlength=self.num_embeddings).float()
        return VIMCOOutput(
            recon=recon, loss=surrogate.mean() / dims, recon_loss=-log_px.detach().mean() / dims,
            bound=-bound.mean() / dims, kl=(log_q.detach() - self.log_prior(z.shape[-2:])).mean(),
            indices=z[:, 0], perplexity=perplexity_from_counts(counts), counts=counts,
            mse=F.mse_loss(recon, target.float()),
        )

    @property
    def num_codes(self) -> int:
        return self.num_embeddings

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior mode. (B, C_in, H, W) -> (B, H/4, W/4) int64."""
        return self.logits(x).argmax(-1)

    def sample_prior(self, n: int, grid: tuple[int, int], *, temperature: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """Class maps from the uniform prior (the temperature does not change a uniform distribution)."""
        return torch.randint(0, self.num_embeddings, (n, *grid), generator=generator)

    @torch.no_grad()
    def interpolate(self, xa: torch.Tensor, xb: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        """The mode of the posterior log-probabilities interpolated between A's and B's: ts (S,) -> (S, h, w)."""
        ts = ts.to(xa.device).view(-1, 1, 1, 1)
        la, lb = self.logits(xa), self.logits(xb)  # (1, h, w, K)
        return ((1 - ts) * la + ts * lb).argmax(-1)

    def bound_terms(self, inputs: torch.Tensor, targets: torch.Tensor, head: LikelihoodHead, iw_samples: int,
                    max_decode: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction term and KL of the ELBO, and the k-sample bound with the categorical posterior and the
        uniform prior (what VIMCO optimises) with k = ``iw_samples``. ``head`` is the model's own."""
        log_q_all = self.logits(inputs)
        rate = self.kl(log_q_all)
        log_w, nlls = [], []
        for s in sample_chunks(iw_samples, targets.shape[0], max_decode):
            log_px, log_q, z, _ = self.log_weights(inputs, targets, s, log_q_all)
            log_w.append(log_px + self.log_prior(z.shape[-2:]) - log_q)
            nlls.append(-log_px)
        log_w_all = torch.cat(log_w, 1).float()
        bound = -(torch.logsumexp(log_w_all, 1) - math.log(iw_samples))
        return torch.cat(nlls, 1).float().mean(1), rate, bound

    def bound_names(self, iw_samples: int) -> dict[str, str]:
        return {"bound": f"vimco: multi-sample bound k={iw_samples}", "elbo_bound": "vimco: negative ELBO"}
