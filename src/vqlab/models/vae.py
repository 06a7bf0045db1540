"""Continuous Gaussian VAE baseline with the same encoder and decoder as the VQ-VAE."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from vqlab.models.layers import Decoder, Encoder
from vqlab.models.likelihood import LikelihoodHead


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


class GaussianVAE(nn.Module):
    """VAE with a diagonal Gaussian posterior per latent position and a N(0, I) prior.

    The encoder predicts 2D channels (mean and log-variance of D latent channels) on the (H/4, W/4) grid;
    ``sigma`` is the fixed standard deviation of the Gaussian likelihood on the target's scale.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        hidden: int = 256,
        num_res_blocks: int = 2,
        latent_dim: int = 64,
        sigma: float = 0.1,
        likelihood: LikelihoodHead | None = None,
    ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.sigma = sigma
        self.likelihood = likelihood
        params = out_channels * (likelihood.params_per_channel if likelihood is not None else 1)
        self.encoder = Encoder(in_channels, hidden, 2 * latent_dim, num_res_blocks)
        self.decoder = Decoder(latent_dim, hidden, params, num_res_blocks)

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
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Image shown at the posterior mean. (B, C_in, H, W) -> (B, C_out, H, W)."""
        return self.decode(self.posterior(x)[0])

    def decoder_params(self, z: torch.Tensor) -> torch.Tensor:
        """Raw decoder output (the image, or the head's parameters). z: (B, D, h, w) -> (B, C_out*P, 4h, 4w)."""
        return self.decoder(z)

    @torch.no_grad()
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Image batch from latents. z: (B, D, h, w) -> (B, C_out, 4h, 4w)."""
        params = self.decoder(z)
        return params if self.likelihood is None else self.likelihood.mean_image(params)
