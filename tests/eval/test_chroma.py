"""Chroma shrinkage: the fitted gain is the least-squares one and never increases the error it minimises."""

import pytest
import torch

from vqlab.data.tasks import Task, to_unit
from vqlab.errors import VQLabError
from vqlab.eval.chroma import chroma_rgb_offset, fit_chroma_scale, shrink_gain


class FixedColour(torch.nn.Module):
    """A 'model' that predicts the same chroma map (1, 2, H, W) whatever its input."""

    def __init__(self, chroma: torch.Tensor) -> None:
        super().__init__()
        self.chroma = torch.nn.Parameter(chroma)

    def encode(self, x):
        return x

    def decode(self, z):
        return self.chroma.expand(z.shape[0], -1, -1, -1)


def _images(n: int = 6) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randint(60, 196, (n, 3, 8, 8), generator=g, dtype=torch.uint8)  # no clipping in the rebuild


def test_offsets_rebuild_the_rgb_of_a_chroma_change():
    from vqlab.data.tasks import rgb_to_chroma, ycbcr_to_rgb

    rgb = to_unit(_images(2))
    y = (rgb * torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)
    assert torch.allclose(y + chroma_rgb_offset(rgb_to_chroma(rgb)), ycbcr_to_rgb(y, rgb_to_chroma(rgb)), atol=1e-6)


def test_gain_formula_and_its_limits():
    assert shrink_gain(2.0, 4.0) == 0.5
    assert shrink_gain(-1.0, 4.0) == 0.0 and shrink_gain(9.0, 4.0) == 1.0  # clipped to [0, 1]
    assert shrink_gain(0.0, 0.0) == 1.0  # an all-gray prediction: nothing to scale


@pytest.mark.parametrize("space", ["ycbcr", "lab"])
def test_fitted_gain_minimises_the_validation_error(space):
    task = Task("colorize", 3, space)
    images = _images()
    _, targets = task.prepare(images)
    g = torch.Generator().manual_seed(1)
    guess = targets.mean(0, keepdim=True) * 1.8 + 0.02 * torch.randn(1, 2, 8, 8, generator=g)  # too colourful
    model = FixedColour(guess)
    s = fit_chroma_scale(model, task, images, batch_size=4)
    assert 0 < s < 1

    def error(scale: float) -> float:
        pred = guess.expand_as(targets) * scale
        if space == "ycbcr":  # the RGB error, where PSNR is measured
            return float((chroma_rgb_offset(pred) - chroma_rgb_offset(targets)).pow(2).mean())
        return float((pred - targets).pow(2).mean())

    grid = [i / 200 for i in range(201)]
    best = min(grid, key=error)
    assert abs(s - best) <= 0.005 + 1e-9 and error(s) <= min(error(0.0), error(1.0))
    if space == "ycbcr":  # and the rebuilt pictures agree: lower RGB error than unscaled and than gray
        inputs, _ = task.prepare(images)
        truth = to_unit(images)

        def rgb_mse(scale: float) -> float:
            shrunk = Task("colorize", 3, space, chroma_scale=scale)
            return float((shrunk.output_to_rgb(guess.expand_as(targets), inputs) - truth).pow(2).mean())

        assert rgb_mse(s) < rgb_mse(1.0) and rgb_mse(s) < rgb_mse(0.0)


def test_only_colour_predicting_tasks_can_be_shrunk():
    with pytest.raises(VQLabError, match="ycbcr or lab"):
        fit_chroma_scale(FixedColour(torch.zeros(1, 3, 8, 8)), Task("colorize", 3, "rgb"), _images())
    with pytest.raises(VQLabError, match="chroma_scale"):
        Task("reconstruct", 3, chroma_scale=0.5)
    with pytest.raises(VQLabError, match=r"\[0, 1\]"):
        Task("colorize", 3, "ycbcr", chroma_scale=1.5)


def test_a_zero_scale_gives_the_gray_input_back():
    task = Task("colorize", 3, "ycbcr", chroma_scale=0.0)
    inputs, targets = task.prepare(_images(2))
    out = task.output_to_rgb(targets, inputs)
    assert torch.allclose(out, (inputs + 0.5).expand(-1, 3, -1, -1), atol=1e-6)
