import pytest
import torch

from vqlab.data.tasks import Task, luminance, to_unit
from vqlab.errors import VQLabError


def _batch(seed=0, c=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (2, c, 8, 8), generator=g, dtype=torch.uint8)


def test_reconstruct_round_trips_to_the_image():
    task = Task("reconstruct", 3)
    batch = _batch()
    inputs, targets = task.prepare(batch)
    assert torch.equal(inputs, targets) and inputs.min() >= -0.5 and inputs.max() <= 0.5
    assert torch.allclose(task.output_to_rgb(targets, inputs), to_unit(batch), atol=1e-6)


def test_colorize_rgb_input_is_luminance_and_target_is_colour():
    task = Task("colorize", 3)
    assert (task.in_channels, task.out_channels) == (1, 3)
    batch = _batch()
    inputs, targets = task.prepare(batch)
    assert inputs.shape == (2, 1, 8, 8) and targets.shape == (2, 3, 8, 8)
    assert torch.allclose(inputs + 0.5, luminance(to_unit(batch)))
    # a gray pixel's luminance is its own value (weights sum to 1, as PIL's convert("L"))
    gray = torch.full((1, 3, 1, 1), 0.4)
    assert torch.allclose(luminance(gray), torch.tensor(0.4))


def test_colorize_lab_targets_rebuild_the_colours():
    task = Task("colorize", 3, "lab")
    assert (task.in_channels, task.out_channels) == (1, 2)
    batch = torch.full((1, 3, 4, 4), 128, dtype=torch.uint8)
    batch[:, 0] = 200  # a reddish patch
    inputs, targets = task.prepare(batch)
    assert targets[0, 0].mean() > 0.05  # a* > 0: red
    rgb = task.output_to_rgb(targets, inputs)
    # lightness comes from the gray input, so the rebuilt colour is close but not identical
    assert (rgb - to_unit(batch)).abs().max() < 0.08
    assert rgb[:, 0].mean() > rgb[:, 1].mean()


def test_colorize_ycbcr_rebuilds_the_image_exactly_with_the_input_luma():
    task = Task("colorize", 3, "ycbcr")
    assert (task.in_channels, task.out_channels) == (1, 2)
    batch = _batch(seed=3)
    inputs, targets = task.prepare(batch)
    assert targets.shape == (2, 2, 8, 8) and targets.abs().max() <= 0.5
    # JPEG's full-range chroma of pure red: Cb = -0.1687, Cr = 0.5
    red = torch.zeros(1, 3, 1, 1, dtype=torch.uint8)
    red[:, 0] = 255
    assert torch.allclose(task.prepare(red)[1].flatten(), torch.tensor([-0.168736, 0.5]), atol=1e-5)
    assert torch.allclose(task.output_to_rgb(targets, inputs), to_unit(batch), atol=1e-5)
    # zero chroma is the gray baseline: the input's luma in all three channels
    gray = task.output_to_rgb(torch.zeros_like(targets), inputs)
    assert torch.allclose(gray, (inputs + 0.5).expand(-1, 3, -1, -1), atol=1e-6)
    # whatever chroma is predicted, the output's luma is the input's (unless clipping to [0, 1] bites)
    out = task.output_to_rgb(0.05 * torch.randn_like(targets), inputs)
    inside = ((out > 0) & (out < 1)).all(1, keepdim=True)
    assert torch.allclose(luminance(out)[inside], (inputs + 0.5)[inside], atol=1e-5)


def test_colorize_needs_colour_data_and_known_options():
    with pytest.raises(VQLabError, match="colour"):
        Task("colorize", 1)
    with pytest.raises(VQLabError):
        Task("paint", 3)
    with pytest.raises(VQLabError):
        Task("colorize", 3, "hsv")
    t = Task("reconstruct", 1)
    assert (t.in_channels, t.out_channels) == (1, 1)
    assert t.output_to_rgb(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)).shape == (1, 3, 2, 2)
