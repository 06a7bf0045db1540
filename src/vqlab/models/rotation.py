"""Gradients from the decoder to the encoder across a quantizer: straight-through copy or the rotation trick.

The rotation trick (Fifty et al., "Restructuring Vector Quantization with the Rotation Trick", ICLR 2025): the
output equals the code q exactly, and the gradient reaches the encoder output e through the linear map

    lambda R,  R = I - 2 r r^T + 2 q_hat e_hat^T,  r = (e_hat + q_hat) / ||e_hat + q_hat||,  lambda = ||q|| / ||e||

(e_hat, q_hat: unit vectors), held constant. R is the rotation taking e_hat to q_hat in the plane they span
(two Householder reflections, written out), so lambda R e = q. Applying it to a vector costs two dot products:
no D x D matrix is formed. The gradient w.r.t. e is then lambda R^T g instead of g itself.
"""

from __future__ import annotations

import torch


def straight_through(e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Value ``q`` exactly, gradient copied to ``e`` unchanged. e, q: same shape (q's own gradient is dropped)."""
    return q.detach() + (e - e.detach())


def rotate_to_codes(e: torch.Tensor, q: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Value ``q`` exactly, gradient lambda R^T g to ``e`` (see the module docstring). e, q: (N, D) float32.

    A zero input has no direction to rotate: its rows fall back to the straight-through gradient. A zero code
    gets lambda = 0 (no gradient), as the formula says.
    """
    q = q.detach()
    e_const = e.detach()
    e_norm = e_const.norm(dim=1, keepdim=True)
    q_norm = q.norm(dim=1, keepdim=True)
    zero = e_norm <= eps
    e_hat = torch.where(zero, 0.0, e_const / e_norm.clamp_min(eps))
    q_hat = torch.where(zero, 0.0, q / q_norm.clamp_min(eps))
    r = e_hat + q_hat
    r = r / r.norm(dim=1, keepdim=True).clamp_min(eps)
    scale = torch.where(zero, 1.0, q_norm / e_norm.clamp_min(eps))
    rotated = scale * (e - 2.0 * r * (r * e).sum(1, keepdim=True) + 2.0 * q_hat * (e_hat * e).sum(1, keepdim=True))
    return q + (rotated - rotated.detach())


def to_codes(e: torch.Tensor, q: torch.Tensor, rotation_trick: bool) -> torch.Tensor:
    """The quantizer output for inputs e and their codes q, (B, D, H, W) each: value q exactly, gradient to e by
    the rotation trick or straight through."""
    if not rotation_trick:
        return straight_through(e, q)
    b, d, h, w = e.shape
    flat_e = e.permute(0, 2, 3, 1).reshape(-1, d)
    flat_q = q.permute(0, 2, 3, 1).reshape(-1, d)
    return rotate_to_codes(flat_e, flat_q).view(b, h, w, d).permute(0, 3, 1, 2)
