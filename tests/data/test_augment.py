import torch

from vqlab.data.augment import flip_mask, hflip


def test_flip_mask_depends_only_on_seed_and_step():
    a = flip_mask(0, 5, 256)
    assert torch.equal(a, flip_mask(0, 5, 256))
    assert not torch.equal(a, flip_mask(0, 6, 256)) and not torch.equal(a, flip_mask(1, 5, 256))
    assert 0.35 < a.float().mean() < 0.65


def test_hflip_mirrors_only_the_selected_images():
    images = torch.arange(2 * 1 * 2 * 3, dtype=torch.uint8).view(2, 1, 2, 3)
    out = hflip(images, torch.tensor([True, False]))
    assert torch.equal(out[0], images[0].flip(-1)) and torch.equal(out[1], images[1])
    assert out.dtype == torch.uint8
