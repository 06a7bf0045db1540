"""The optimizer of a training run: Adam, or AdamW with decoupled weight decay (``--weight-decay``)."""

from __future__ import annotations

import torch
from torch import nn

DECAYED = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear)


def decayed_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters weight decay applies to: the weights of the convolutions and linear layers outside the
    quantizer. Biases, embeddings and everything of a quantizer (codebooks, their maps, FSQ's projections) are
    left alone: decay there pulls the codes, or what makes them, towards the origin instead of regularising the
    encoder's and decoder's mappings."""
    from vqlab.models.quantize import Quantizer

    inside = {id(p) for m in model.modules() if isinstance(m, Quantizer) for p in m.parameters()}
    return [m.weight for m in model.modules()
            if isinstance(m, DECAYED) and m.weight.requires_grad and id(m.weight) not in inside]


def make_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.0) -> torch.optim.Optimizer:
    """Adam over every parameter when ``weight_decay`` is 0 (the run is then exactly what it was before the option
    existed); otherwise AdamW with two groups: the :func:`decayed_parameters` with ``weight_decay``, the rest
    without."""
    if weight_decay == 0:
        return torch.optim.Adam(model.parameters(), lr=lr)
    decayed = {id(p) for p in decayed_parameters(model)}
    params = list(model.parameters())
    groups = [{"params": [p for p in params if id(p) in decayed], "weight_decay": weight_decay},
              {"params": [p for p in params if id(p) not in decayed], "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)
