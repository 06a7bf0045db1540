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


def test_crop_boxes_depend_only_on_seed_and_step_and_stay_in_range():
    from vqlab.data.augment import crop_boxes

    a = crop_boxes(0, 5, 512, 0.25)
    assert a.shape == (512, 3) and torch.equal(a, crop_boxes(0, 5, 512, 0.25))
    assert not torch.equal(a, crop_boxes(0, 6, 512, 0.25)) and not torch.equal(a, crop_boxes(1, 5, 512, 0.25))
    assert a[:, 0].min() >= 0.25 and a[:, 0].max() <= 1 and a[:, 1:].abs().max() <= 1
    # log-uniform side: half the boxes below the geometric middle sqrt(0.25) = 0.5
    assert 0.4 < (a[:, 0] < 0.5).float().mean() < 0.6
    assert torch.equal(crop_boxes(0, 5, 8, 1.0)[:, 0], torch.ones(8))


def test_random_crop_cuts_the_box_and_resizes_it_back():
    import torch.nn.functional as F

    from vqlab.data.augment import random_crop

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (3, 3, 16, 12), generator=g, dtype=torch.uint8)
    whole = torch.tensor([[1.0, 0.3, -0.6]] * 3)  # fraction 1: the position does not matter
    assert torch.equal(random_crop(images, whole), images)
    out = random_crop(images, torch.tensor([[0.5, -1.0, 1.0]] * 3))  # bottom-left quarter, zoomed 2x
    assert out.dtype == torch.uint8 and out.shape == images.shape
    ref = F.interpolate(images[:, :, 8:, :6].float(), size=(16, 12), mode="bilinear", align_corners=False)
    # equal inside (up to rounding); along the box's inner edges the crop also blends in the pixels just outside
    assert (out.float() - ref)[:, :, 1:, :-1].abs().max() <= 0.5 + 1e-3
