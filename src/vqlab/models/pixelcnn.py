"""Gated PixelCNN prior over code maps (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN
Decoders"), as the VQ-VAE paper uses in section 3.3.

The input is a (B, H, W) map of code indices, embedded to ``dim`` channels. Two stacks remove the blind spot of
the original PixelCNN:

- the vertical stack sees every row strictly above the current one (its kernel covers ``k//2`` rows above and
  ``k//2`` columns either side per layer; the type-A first layer masks out the current row),
- the horizontal stack sees the current row strictly left of the current position (type A) or up to it
  (type B, whose inputs are already causal), and receives the vertical stack through a 1x1 convolution.

Each layer gates ``tanh(a) * sigmoid(b)``; the horizontal stack is residual after the first layer. The output is
K logits per position, ``(B, K, H, W)``: logits at position p depend only on codes before p in raster order.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class PixelCNNOutput:
    """Result of :meth:`GatedPixelCNN.forward`.

    logits: (B, K, H, W) unnormalised log-probabilities of the code at each position given the codes before it.
    loss: scalar mean NLL in nats per latent (float32), when targets were given, else None.
    nll: (B,) NLL in nats per code map, when targets were given, else None.
    """

    logits: torch.Tensor
    loss: torch.Tensor | None = None
    nll: torch.Tensor | None = None


def _gate(x: torch.Tensor) -> torch.Tensor:
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class GatedLayer(nn.Module):
    """One gated layer with a vertical and a horizontal stack. ``mask_type`` "A" (first layer) or "B"."""

    def __init__(self, dim: int, kernel: int, mask_type: str) -> None:
        super().__init__()
        if mask_type not in ("A", "B"):
            raise ValueError("mask_type must be 'A' or 'B'")
        if kernel < 1 or kernel % 2 == 0:
            raise ValueError("kernel must be odd")
        self.mask_type = mask_type
        self.half = kernel // 2
        self.vertical = nn.Conv2d(dim, 2 * dim, (self.half + 1, kernel))
        self.horizontal = nn.Conv2d(dim, 2 * dim, (1, self.half + 1))
        self.v_to_h = nn.Conv2d(2 * dim, 2 * dim, 1)
        self.h_out = nn.Conv2d(dim, dim, 1)
        v_mask = torch.ones_like(self.vertical.weight)
        h_mask = torch.ones_like(self.horizontal.weight)
        if mask_type == "A":
            v_mask[:, :, -1] = 0.0  # the current row
            h_mask[:, :, :, -1] = 0.0  # the current position
        self.register_buffer("v_mask", v_mask, persistent=False)
        self.register_buffer("h_mask", h_mask, persistent=False)

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """v, h: (B, dim, H, W) -> new (v, h), same shapes."""
        k = self.half
        # Vertical: output row i sees input rows i-k..i (row i masked in layer A), columns j-k..j+k.
        v_pre = F.conv2d(F.pad(v, (k, k, k, 0)), self.vertical.weight * self.v_mask, self.vertical.bias)
        # Horizontal: output column j sees input columns j-k..j of the same row (j masked in layer A).
        h_pre = F.conv2d(F.pad(h, (k, 0, 0, 0)), self.horizontal.weight * self.h_mask, self.horizontal.bias)
        h_new = self.h_out(_gate(h_pre + self.v_to_h(v_pre)))
        if self.mask_type == "B":
            h_new = h_new + h
        return _gate(v_pre), h_new


class GatedPixelCNN(nn.Module):
    """Autoregressive prior p(z) = prod_p p(z_p | z_<p) over (B, H, W) code maps with K codes.

    Args:
        num_embeddings: K, the number of codes.
        dim: channels of the embedding and of both stacks.
        layers: gated layers (the first is type A).
        kernel: odd kernel size of the stacks.
    """

    def __init__(self, num_embeddings: int, dim: int = 64, layers: int = 8, kernel: int = 3) -> None:
        super().__init__()
        if num_embeddings < 1 or dim < 1 or layers < 1:
            raise ValueError("num_embeddings, dim and layers must be >= 1")
        self.num_embeddings = num_embeddings
        self.embedding = nn.Embedding(num_embeddings, dim)
        self.layers = nn.ModuleList(GatedLayer(dim, kernel, "A" if i == 0 else "B") for i in range(layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(dim, 4 * dim, 1), nn.ReLU(), nn.Conv2d(4 * dim, num_embeddings, 1))

    def embed(self, indices: torch.Tensor) -> torch.Tensor:
        """(B, H, W) int64 -> (B, dim, H, W) float."""
        return self.embedding(indices).permute(0, 3, 1, 2).contiguous()

    def logits_from_embedding(self, x: torch.Tensor) -> torch.Tensor:
        """(B, dim, H, W) embedded codes -> (B, K, H, W) logits (causal in raster order)."""
        v, h = x, x
        for layer in self.layers:
            v, h = layer(v, h)
        return self.head(h)

    def forward(self, indices: torch.Tensor, targets: torch.Tensor | None = None) -> PixelCNNOutput:
        """indices: (B, H, W) int64. ``targets`` (usually ``indices`` itself) adds the NLL."""
        logits = self.logits_from_embedding(self.embed(indices))
        if targets is None:
            return PixelCNNOutput(logits=logits)
        nll_map = F.cross_entropy(logits.float(), targets, reduction="none")  # (B, H, W) nats
        return PixelCNNOutput(logits=logits, loss=nll_map.mean(), nll=nll_map.flatten(1).sum(1))

    @torch.no_grad()
    def sample(self, n: int, shape: tuple[int, int], *, temperature: float = 1.0,
               generator: torch.Generator | None = None, device: torch.device | str | None = None) -> torch.Tensor:
        """Ancestral sampling of ``n`` code maps of ``shape`` (H, W): one network pass per position.

        ``temperature`` divides the logits (1: the model's distribution; lower: more probable codes).
        Returns (n, H, W) int64. Reproducible for a seeded ``generator`` on the same device.
        """
        if temperature <= 0:
            raise ValueError("temperature must be > 0")
        device = device or self.embedding.weight.device
        h, w = shape
        codes = torch.zeros(n, h, w, dtype=torch.long, device=device)
        for i in range(h):
            for j in range(w):
                logits = self(codes).logits[:, :, i, j].float() / temperature
                probs = torch.softmax(logits, dim=1)
                codes[:, i, j] = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(1).to(device)
        return codes
