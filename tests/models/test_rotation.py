import torch

from vqlab.models.rotation import rotate_to_codes, straight_through, to_codes


def rotation_matrix(e: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """The D x D rotation taking e's direction to q's in the plane they span, built independently of the
    Householder form (Rodrigues: cos/sin of the angle between them), float64."""
    e_hat, q_hat = e.double() / e.double().norm(), q.double() / q.double().norm()
    cos = e_hat @ q_hat
    u = q_hat - cos * e_hat
    sin = u.norm()
    u = u / sin
    eye = torch.eye(e.numel(), dtype=torch.float64)
    return eye + (cos - 1) * (torch.outer(e_hat, e_hat) + torch.outer(u, u)) + sin * (
        torch.outer(u, e_hat) - torch.outer(e_hat, u))


def test_hand_built_rotation_is_a_rotation_onto_q():
    g = torch.Generator().manual_seed(0)
    e, q = torch.randn(5, generator=g), torch.randn(5, generator=g)
    r = rotation_matrix(e, q)
    assert torch.allclose(r @ r.T, torch.eye(5, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(torch.linalg.det(r), torch.tensor(1.0, dtype=torch.float64))
    assert torch.allclose(r @ e.double() * q.double().norm() / e.double().norm(), q.double(), atol=1e-12)


def test_rotation_trick_value_is_the_code_and_gradient_is_scaled_rotation_transposed():
    g = torch.Generator().manual_seed(1)
    e = torch.randn(6, 4, generator=g, requires_grad=True)
    q = torch.randn(6, 4, generator=g)
    upstream = torch.randn(6, 4, generator=g)
    out = rotate_to_codes(e, q)
    assert torch.equal(out, q)  # exactly the code
    (out * upstream).sum().backward()
    for i in range(6):
        scale = q[i].double().norm() / e[i].double().norm()
        expected = scale * rotation_matrix(e[i].detach(), q[i]).T @ upstream[i].double()
        assert torch.allclose(e.grad[i].double(), expected, atol=1e-5), i


def test_rotation_trick_keeps_the_gradient_of_a_vector_already_on_its_code():
    e = torch.tensor([[1.0, 2.0, -1.0]], requires_grad=True)
    q = e.detach() * 3.0  # same direction: R = I, lambda = 3
    rotate_to_codes(e, q).sum().backward()
    assert torch.allclose(e.grad, torch.full((1, 3), 3.0))


def test_zero_input_falls_back_to_straight_through():
    e = torch.zeros(2, 3, requires_grad=True)
    q = torch.tensor([[1.0, 0.0, 0.0], [0.0, -2.0, 1.0]])
    up = torch.tensor([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]])
    (rotate_to_codes(e, q) * up).sum().backward()
    assert torch.isfinite(e.grad).all() and torch.allclose(e.grad, up)


def test_straight_through_value_is_exact_and_gradient_is_copied():
    e = torch.randn(2, 3, 2, 2, requires_grad=True)
    q = torch.randn(2, 3, 2, 2)
    up = torch.randn(2, 3, 2, 2)
    out = straight_through(e, q)
    assert torch.equal(out, q)
    (out * up).sum().backward()
    assert torch.equal(e.grad, up)


def test_to_codes_on_feature_maps_matches_the_flat_form():
    g = torch.Generator().manual_seed(2)
    e = torch.randn(2, 4, 3, 5, generator=g, requires_grad=True)
    q = torch.randn(2, 4, 3, 5, generator=g)
    up = torch.randn(2, 4, 3, 5, generator=g)
    out = to_codes(e, q, rotation_trick=True)
    assert torch.equal(out, q)
    (out * up).sum().backward()
    flat_e = e.detach().permute(0, 2, 3, 1).reshape(-1, 4).requires_grad_(True)
    flat = rotate_to_codes(flat_e, q.permute(0, 2, 3, 1).reshape(-1, 4))
    (flat * up.permute(0, 2, 3, 1).reshape(-1, 4)).sum().backward()
    assert torch.allclose(e.grad.permute(0, 2, 3, 1).reshape(-1, 4), flat_e.grad)
