"""The one interface every vqlab model offers its callers (evaluation, sampling, mixing, the API).

Callers ask a model what it can do instead of testing its type:

- ``discrete``: latents are integer code maps (B, h, w) (VQ-VAE, VIMCO) rather than continuous (B, D, h, w);
  ``num_codes`` is then K. ``num_codebooks`` N > 1 (residual VQ): N code maps per image, (B, N, h, w).
- ``prior``: ``"learned"`` when sampling needs a prior trained on the model's codes (the VQ-VAE's PixelCNN,
  ``vqlab prior``), ``"fixed"`` when the model samples from its own prior (:meth:`sample_prior`).
- ``downsample``: the ratio of image size to latent grid size (inputs must be multiples of it).
- :meth:`encode` / :meth:`decode`: image <-> latents; :meth:`interpolate` and :meth:`mix`: new latents from two
  images' latents; :meth:`bound_terms`: the per-image terms of the model's bound on -log p(x), and
  :meth:`bound_names` what they are.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from vqlab.models.likelihood import LikelihoodHead


def sample_chunks(total: int, batch: int, max_decode: int) -> list[int]:
    """Split ``total`` samples per image into chunks so one decoder pass sees at most ``max_decode`` images."""
    per = max(1, max_decode // max(batch, 1))
    return [min(per, total - s) for s in range(0, total, per)]


class LatentModel(nn.Module):
    """Base class of vqlab's models. Subclasses set the class attributes and implement the methods below."""

    discrete: ClassVar[bool] = False
    prior: ClassVar[str] = "fixed"
    #: A model whose objective is a bound with several samples (IWAE, VIMCO) reports its ELBO beside it.
    multi_sample_bound: ClassVar[bool] = False
    downsample: int = 4
    likelihood: LikelihoodHead | None

    @property
    def num_codes(self) -> int | None:
        """K for discrete latents, None for continuous ones."""
        return None

    @property
    def num_codebooks(self) -> int:
        """N, the code maps per image of a discrete model: latents are (B, h, w) for 1, (B, N, h, w) beyond."""
        return 1

    def latent_grid(self, image_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the latent grid of an (H, W) image."""
        return image_hw[0] // self.downsample, image_hw[1] // self.downsample

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latents of an image batch, deterministic: (B, C_in, H, W) -> (B, h, w) int64 codes for discrete
        models, the posterior mean (B, D, h, w) for continuous ones."""
        raise NotImplementedError

    def decoder_params(self, latents: torch.Tensor) -> torch.Tensor:
        """Raw decoder output for latents: the image, or the likelihood head's parameters."""
        raise NotImplementedError

    @torch.no_grad()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Image batch shown for latents: (B, h, w) or (B, D, h, w) -> (B, C_out, H, W)."""
        params = self.decoder_params(latents)
        return params if self.likelihood is None else self.likelihood.mean_image(params)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """decode(encode(x)): (B, C_in, H, W) -> (B, C_out, H, W), no training-time side effects."""
        return self.decode(self.encode(x))

    def posterior_decoder_params(self, x: torch.Tensor) -> torch.Tensor:
        """Decoder output for a latent drawn from q(z|x) (its mode where the posterior is deterministic)."""
        return self.decoder_params(self.encode(x))

    def sample_prior(self, n: int, grid: tuple[int, int], *, temperature: float = 1.0,
                     generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` latents of the (h, w) grid drawn from the model's own prior (``prior == "fixed"``), on the CPU."""
        raise NotImplementedError(f"{type(self).__name__} samples through a learned prior")

    @torch.no_grad()
    def mix(self, latents_a: torch.Tensor, latents_b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """A's latents where ``mask`` (h, w) is True and B's elsewhere (same shapes as :meth:`encode`)."""
        mask = mask.to(latents_a.device)
        return torch.where(mask if self.discrete else mask.unsqueeze(0), latents_a, latents_b)

    def interpolate(self, xa: torch.Tensor, xb: torch.Tensor, ts: torch.Tensor) -> torch.Tensor:
        """Latents at fractions ``ts`` (S,) of the way from image A's (t=0) to B's (t=1). x: (1, C, H, W)."""
        raise NotImplementedError

    def bound_terms(self, inputs: torch.Tensor, targets: torch.Tensor, head: LikelihoodHead, iw_samples: int,
                    max_decode: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-image terms of the bound on -log p(targets), in nats, each (B,): the reconstruction term
        E_q[-log p(x|z)], the rate KL(q(z|x) || p(z)), and the bound reported (the negative ELBO, or a tighter
        multi-sample bound with ``iw_samples`` samples). ``head`` scores the decoder's output."""
        raise NotImplementedError

    def bound_names(self, iw_samples: int) -> dict[str, str]:
        """What :meth:`bound_terms` computes: ``{"bound": ...}`` and, for multi-sample bounds, ``"elbo_bound"``."""
        raise NotImplementedError
