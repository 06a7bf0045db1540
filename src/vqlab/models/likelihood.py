"""Discrete output likelihoods p(x|z) for 8-bit images: the decoder predicts a head's parameters.

Targets are on the model's float scale t = v / 255 - 0.5 (v in 0..255); every head converts them to integer
bins exactly, v = round((t + 0.5) * 255), and returns -log p(x|z) in nats per image. All NLL maths runs in
float32 (parameters are cast with ``.float()``, so bf16 autocast upstream is fine).

Decoder output layout: (B, C * P, H, W) where P = ``params_per_channel``; the P parameters of image channel c are
the channels ``c*P .. c*P + P - 1``.

- ``softmax256``: a 256-way categorical per sub-pixel (the paper's CIFAR-10 likelihood). Shown image: the mean.
- ``logistic``: a discretized mixture of logistics per sub-pixel (PixelCNN++, Salimans et al. 2017, with its edge
  bins: bin 0 takes the CDF's lower tail and bin 255 the upper tail). Each channel has its own mixture; the RGB
  coupling of PixelCNN++ (channel means depending on earlier channels) is NOT used. Shown image: the mixture mean.
- ``gaussian``: a Gaussian of fixed standard deviation sigma (on the float scale) discretized to the 8-bit bins,
  edge bins open-ended. Its NLL is MSE / (2 sigma^2) up to the bin normalisation. Shown image: the mean.

One head is not for 8-bit pixels but for the continuous colour of a colorize run (``--color-space ycbcr`` or
``lab``, targets in [-0.5, 0.5]):

- ``chroma-bins``: colorization as classification (Zhang, Isola and Efros 2016, "Colorful Image Colorization"): a
  categorical over Q equal bins of [-0.5, 0.5] per colour channel (Cb and Cr, or a* and b*), trained by cross
  entropy against a soft target (a Gaussian of one bin's width around the true value, so near bins share the
  credit). Shown image: the *annealed mean* of the paper, sum_q c_q softmax(logits / T)_q. T = 1 is the mean
  (what MSE regression aims for: safe but grayish where the colour is uncertain), T -> 0 the mode (vivid but
  riskier); the paper uses T = 0.38. Unlike the paper it models Cb and Cr as two marginals, not their joint
  distribution, and does not reweight rare colours. Its "NLL" is a cross entropy against a smoothed target, not
  a likelihood of 8-bit pixels: no bits/dim is reported for it.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

BINS = 256
HALF_BIN = 0.5 / 255.0
# The logistic head's log-scale is the decoder output plus this offset (a freshly initialised decoder then
# starts at scale e^-3, about 13 intensity levels, instead of the whole range), clamped below at LOG_SCALE_MIN
# (PixelCNN++ clamps at -7 on its [-1, 1] scale; ours is half as wide).
LOG_SCALE_OFFSET = -3.0
LOG_SCALE_MIN = -8.0


def to_bins(target: torch.Tensor) -> torch.Tensor:
    """Float-scale target (v / 255 - 0.5) -> int64 bins 0..255, same shape."""
    return torch.round((target.float() + 0.5) * 255.0).clamp(0, 255).long()


def bin_centers(bins: torch.Tensor) -> torch.Tensor:
    """int64 bins -> float32 bin centres on the model's scale."""
    return bins.float() / 255.0 - 0.5


def log_sigmoid_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(sigmoid(a) - sigmoid(b)) for a > b, stable everywhere.

    Uses sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - exp(b - a)).
    """
    return F.logsigmoid(a) + F.logsigmoid(-b) + torch.log(-torch.expm1((b - a).clamp(max=-1e-12)))


def log_ndtr_diff(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(Phi(a) - Phi(b)) for a > b (standard normal CDF), stable in both tails."""
    upper = b > 0  # both in the upper tail: use Phi(a) - Phi(b) = Phi(-b) - Phi(-a)
    hi = torch.where(upper, -b, a)
    lo = torch.where(upper, -a, b)
    log_hi, log_lo = torch.special.log_ndtr(hi), torch.special.log_ndtr(lo)
    return log_hi + torch.log(-torch.expm1((log_lo - log_hi).clamp(max=-1e-12)))


class LikelihoodHead(nn.Module):
    """Base class of the heads; no learnable parameters (the decoder predicts them all)."""

    name = ""
    params_per_channel = 1

    def split(self, params: torch.Tensor) -> torch.Tensor:
        """(B, C*P, H, W) -> (B, C, P, H, W) float32."""
        b, cp, h, w = params.shape
        p = self.params_per_channel
        if cp % p:
            raise ValueError(f"{self.name}: decoder gave {cp} channels, not a multiple of {p}")
        return params.float().view(b, cp // p, p, h, w)

    def nll(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """-log p(target | params) in nats per image. params (B, C*P, H, W), target (B, C, H, W) -> (B,)."""
        raise NotImplementedError

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        """The image shown for ``params``: (B, C*P, H, W) -> (B, C, H, W) on the float scale."""
        raise NotImplementedError


class Softmax256(LikelihoodHead):
    """256-way categorical per sub-pixel; P = 256 logits."""

    name = "softmax256"
    params_per_channel = BINS

    def nll(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = self.split(params)  # (B, C, 256, H, W)
        b, k = logits.shape[0], logits.shape[2]
        flat = logits.permute(0, 1, 3, 4, 2).reshape(-1, k)
        nll = F.cross_entropy(flat, to_bins(target).reshape(-1), reduction="none")
        return nll.view(b, -1).sum(1)

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        probs = self.split(params).softmax(dim=2)
        values = bin_centers(torch.arange(BINS, device=params.device)).view(1, 1, BINS, 1, 1)
        return (probs * values).sum(2)


class DiscretizedLogistic(LikelihoodHead):
    """Mixture of ``mixtures`` discretized logistics per sub-pixel; P = 3 * mixtures (logit, mean, log-scale
    before the offset ``LOG_SCALE_OFFSET``)."""

    name = "logistic"

    def __init__(self, mixtures: int = 5) -> None:
        super().__init__()
        self.mixtures = mixtures
        self.params_per_channel = 3 * mixtures

    def extra_repr(self) -> str:
        return f"mixtures={self.mixtures}"

    def _parts(self, params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        p = self.split(params)  # (B, C, 3M, H, W)
        m = self.mixtures
        return p[:, :, :m], p[:, :, m:2 * m], (p[:, :, 2 * m:] + LOG_SCALE_OFFSET).clamp(min=LOG_SCALE_MIN)

    def nll(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logit_pi, mean, log_s = self._parts(params)
        bins = to_bins(target).unsqueeze(2)  # (B, C, 1, H, W)
        x = bin_centers(bins)
        inv_s = torch.exp(-log_s)
        plus = (x - mean + HALF_BIN) * inv_s
        minus = (x - mean - HALF_BIN) * inv_s
        log_mid = log_sigmoid_diff(plus, minus)
        log_prob = torch.where(bins == 0, F.logsigmoid(plus),
                               torch.where(bins == BINS - 1, F.logsigmoid(-minus), log_mid))
        log_mix = torch.logsumexp(F.log_softmax(logit_pi, dim=2) + log_prob, dim=2)
        return -log_mix.flatten(1).sum(1)

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        logit_pi, mean, _ = self._parts(params)
        return (logit_pi.softmax(dim=2) * mean).sum(2).clamp(-0.5, 0.5)


class DiscretizedGaussian(LikelihoodHead):
    """Gaussian with fixed ``sigma`` (float scale) discretized to the 8-bit bins; P = 1 (the mean)."""

    name = "gaussian"
    params_per_channel = 1

    def __init__(self, sigma: float = 0.1) -> None:
        super().__init__()
        if not sigma > 0:
            raise ValueError("sigma must be > 0")
        self.sigma = float(sigma)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma:.6g}"

    def nll(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mean = params.float()
        bins = to_bins(target)
        x = bin_centers(bins)
        upper = (x + HALF_BIN - mean) / self.sigma
        lower = (x - HALF_BIN - mean) / self.sigma
        log_prob = torch.where(bins == 0, torch.special.log_ndtr(upper),
                               torch.where(bins == BINS - 1, torch.special.log_ndtr(-lower),
                                           log_ndtr_diff(upper, lower)))
        return -log_prob.flatten(1).sum(1)

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        return params.float()


class ChromaBins(LikelihoodHead):
    """A categorical over ``bins`` equal bins of [-0.5, 0.5] per colour channel, shown as the annealed mean at
    ``temperature``; P = ``bins`` logits (see the module notes)."""

    name = "chroma-bins"

    def __init__(self, bins: int = 32, temperature: float = 0.38) -> None:
        super().__init__()
        if bins < 2:
            raise ValueError("chroma-bins needs at least 2 bins")
        if not temperature > 0:
            raise ValueError("the annealed mean's temperature must be > 0")
        self.params_per_channel = int(bins)
        self.temperature = float(temperature)
        self.register_buffer("centers", torch.linspace(-0.5, 0.5, int(bins)), persistent=False)

    def extra_repr(self) -> str:
        return f"bins={self.params_per_channel}, temperature={self.temperature:g}"

    @property
    def width(self) -> float:
        return 1.0 / (self.params_per_channel - 1)

    def soft_target(self, target: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) values -> (B, C, Q, H, W) weights summing to 1 over the bins: a Gaussian of one bin's
        width around each value."""
        d = (target.float().clamp(-0.5, 0.5).unsqueeze(2) - self.centers.view(1, 1, -1, 1, 1)) / self.width
        return torch.softmax(-0.5 * d * d, dim=2)

    def nll(self, params: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(self.split(params), dim=2)
        return -(self.soft_target(target) * logp).flatten(1).sum(1)

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(self.split(params) / self.temperature, dim=2)
        return (probs * self.centers.view(1, 1, -1, 1, 1)).sum(2)


LIKELIHOODS: dict[str, Callable[..., LikelihoodHead]] = {
    "softmax256": lambda mixtures=5, sigma=0.1, bins=32, temperature=0.38: Softmax256(),
    "logistic": lambda mixtures=5, sigma=0.1, bins=32, temperature=0.38: DiscretizedLogistic(mixtures),
    "gaussian": lambda mixtures=5, sigma=0.1, bins=32, temperature=0.38: DiscretizedGaussian(sigma),
    "chroma-bins": lambda mixtures=5, sigma=0.1, bins=32, temperature=0.38: ChromaBins(bins, temperature),
}
# Heads of a colorize run's continuous colour (ycbcr, lab), not of 8-bit pixels.
CHROMA_HEADS = ("chroma-bins",)


def build_likelihood(name: str, mixtures: int = 5, sigma: float = 0.1, bins: int = 32,
                     temperature: float = 0.38) -> LikelihoodHead | None:
    """The head for a CLI name; None for ``mse`` (the decoder outputs the image and trains on plain MSE)."""
    if name == "mse":
        return None
    return LIKELIHOODS[name](mixtures=mixtures, sigma=sigma, bins=bins, temperature=temperature)


def nats_to_bits_per_dim(nats: torch.Tensor | float, dims: int) -> torch.Tensor | float:
    """Nats per image -> bits per dimension."""
    return nats / (dims * math.log(2.0))
