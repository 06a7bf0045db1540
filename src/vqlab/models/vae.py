"""Continuous Gaussian VAE baseline with the same encoder and decoder as the VQ-VAE."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from vqlab.models.base import LatentModel, sample_chunks
from vqlab.models.layers import Decoder, Encoder
from vqlab.models.likelihood import LikelihoodHead

LOG_2PI = math.log(2.0 * math.pi)


@dataclass
class VAEOutput:
    """Result of :meth:`GaussianVAE.forward`.

    recon: (B, out_channels, H, W) image shown for the sampled latent (the mean latent in eval mode).
    loss: scalar training loss. Without a likelihood head: recon_loss + 2 sigma^2 * kl / dims, i.e. the negative
        ELBO of a Gaussian likelihood with fixed standard deviation sigma, rescaled by 2 sigma^2 / dims and
        without its constant. With a head: the one-sample negative ELBO in nats per dimension, recon_loss + kl/dims.
    recon_loss: scalar mean squared error against the target; with a head, -log p(x|z) in nats per dimension.
    kl: scalar, KL(q(z|x) || N(0, I)) in nats per image, batch mean.
    nelbo: scalar, negative ELBO in nats per dimension: under the Gaussian density without a head, under the
        discrete head's likelihood with one.
    mu, logvar: (B, D, H/4, W/4) posterior parameters.
    """

    recon: torch.Tensor
    loss: torch.Tensor
    recon_loss: torch.Tensor
    kl: torch.Tensor
    nelbo: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    mse: torch.Tensor | None = None


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) summed over all but the batch dim. (B, ...) -> (B,) nats."""
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)
    return kl.flatten(1).sum(1)


class GaussianVAE(LatentModel):
    """VAE with a diagonal Gaussian posterior per latent position and a N(0, I) prior.

    The encoder predicts 2D channels (mean and log-variance of D latent channels) on the (H/4, W/4) grid;
    ``sigma`` is the fixed standard deviation of the Gaussian likelihood on the target's scale.
    """

    multi_sample_bound = True

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        hidden: int = 256,
        num_res_blocks: int = 2,
        latent_dim: int = 64,
        sigma: float = 0.1,
        likelihood: LikelihoodHead | None = None,
        downsample: int = 4,
    ) -> None:
        super().__init__()
        self.downsample = downsample
        self.latent_dim = latent_dim
        self.sigma = sigma
        self.likelihood = likelihood
        params = out_channels * (likelihood.params_per_channel if likelihood is not None else 1)
        self.encoder = Encoder(in_channels, hidden, 2 * latent_dim, num_res_blocks, downsample)
        self.decoder = Decoder(latent_dim, hidden, params, num_res_blocks, downsample)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z|x), float32. x: (B, C_in, H, W) -> 2 x (B, D, H/4, W/4)."""
        mu, logvar = self.encoder(x).float().chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def forward(self, x: torch.Tensor, target: torch.Tensor | None = None) -> VAEOutput:
        """Encode, sample z (the mean in eval mode), decode. x: (B, C_in, H, W); target defaults to x."""
        target = x if target is None else target
        mu, logvar = self.posterior(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        params = self.decoder(z)
        kl = gaussian_kl(mu, logvar)
        dims = target[0].numel()
        if self.likelihood is not None:
            nll = self.likelihood.nll(params, target)
            recon = self.likelihood.mean_image(params)
            recon_loss = nll.mean() / dims
            nelbo = (nll + kl).mean() / dims
            mse = (recon.detach() - target.float()).pow(2).mean()
            return VAEOutput(recon=recon, loss=nelbo, recon_loss=recon_loss, kl=kl.mean(), nelbo=nelbo, mu=mu,
                             logvar=logvar, mse=mse)
        recon = params
        sq_err = (recon.float() - target.float()).pow(2)
        recon_loss = sq_err.mean()
        var = self.sigma**2
        nelbo = (sq_err.flatten(1).sum(1) / (2 * var) + kl).mean() / dims + 0.5 * math.log(2 * math.pi * var)
        loss = recon_loss + 2 * var * kl.mean() / dims
        return VAEOutput(recon=recon, loss=loss, recon_loss=recon_loss, kl=kl.mean(), nelbo=nelbo, mu=mu, logvar=logvar,
                         mse=recon_loss)

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Posterior mean. (B, C_in, H, W) -> (B, D, H/4, W/4) float32."""
        return self.posterior(x)[0]

    def decoder_params(self, z: torch.Tensor) -> torch.Tensor:
        """Raw decoder output (the image, or the head's parameters). z: (B, D, h, w) -> (B, C_out*P, 4h, 4w)."""
        return self.decoder(z)

    def posterior_decoder_params(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder output for z ~ q(z|x) (as in the ELBO)."""
        mu, logvar = self.posterior(x)
        return self.decoder_params(mu + torch.randn_like(mu) * (0.5 * logvar).exp())

    def sample_prior(self, n: int, grid: tuple[int, int], *, temperature: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """z ~ N(0, temperature^2 I): (n, D, h, w) on the CPU."""
        return torch.randn(n, self.latent_dim, *grid, generator=generator) * temperature

    @torch.no_grad()
    def interpolate(self, xa: torch.Tensor, xb: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        """Points between the posterior means of A and B: ts (S,) -> (S, D, h, w)."""
        ts = ts.to(xa.device).view(-1, 1, 1, 1)
        ma, mb = self.encode(xa), self.encode(xb)
        return (1 - ts) * ma + ts * mb

    def bound_terms(self, inputs: torch.Tensor, targets: torch.Tensor, head: LikelihoodHead, iw_samples: int,
                    max_decode: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction term and analytic KL of the ELBO, and the importance-weighted bound
        -log (1/k) sum_i p(x, z_i) / q(z_i|x) (Burda et al. 2016) with k = ``iw_samples``."""
        mu, logvar = self.posterior(inputs)  # the encoder runs once per batch
        rate = gaussian_kl(mu, logvar)
        log_w, nlls = [], []
        for s in sample_chunks(iw_samples, targets.shape[0], max_decode):
            lw, nl = self._log_weights(head, mu, logvar, targets, s)
            log_w.append(lw)
            nlls.append(nl)
        log_w_all = torch.cat(log_w, 1).float()
        bound = -(torch.logsumexp(log_w_all, 1) - math.log(iw_samples))
        return torch.cat(nlls, 1).float().mean(1), rate, bound

    def bound_names(self, iw_samples: int) -> dict[str, str]:
        return {"bound": f"vae: IWAE k={iw_samples}", "elbo_bound": "vae: negative ELBO"}

    def _log_weights(self, head: LikelihoodHead, mu: torch.Tensor, logvar: torch.Tensor, targets: torch.Tensor,
                     samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        """log p(x, z_i) - log q(z_i|x) and -log p(x|z_i), both (B, samples), for z_i ~ q(z|x)."""
        std = (0.5 * logvar).exp()
        b = mu.shape[0]
        eps = torch.randn(b, samples, *mu.shape[1:], device=mu.device)
        z = mu.unsqueeze(1) + eps * std.unsqueeze(1)  # (B, S, D, h, w)
        params = self.decoder_params(z.flatten(0, 1).contiguous(memory_format=torch.channels_last))
        rep = targets.unsqueeze(1).expand(-1, samples, *targets.shape[1:]).flatten(0, 1)
        nll = head.nll(params, rep).view(b, samples)
        log_prior = (-0.5 * (z.pow(2) + LOG_2PI)).flatten(2).sum(2)
        log_q = (-0.5 * (eps.pow(2) + LOG_2PI) - 0.5 * logvar.unsqueeze(1)).flatten(2).sum(2)
        return -nll + log_prior - log_q, nll
