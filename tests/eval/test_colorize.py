import math

import pytest
import torch

from vqlab.data.tasks import Task
from vqlab.eval.colorize import ColorizationMeter, colorfulness
from vqlab.eval.metrics import evaluate_model, psnr_from_mse
from vqlab.models.base import LatentModel

# CIELAB (D65) of sRGB pure red: a* = 80.109, b* = 67.220, so its a*b* distance to any gray is 104.576.
RED_AB = math.hypot(80.109, 67.220)


def _image():
    """A 2x2 RGB image in [0, 1]: three gray pixels and one pure red. (1, 3, 2, 2)."""
    img = torch.full((1, 3, 2, 2), 0.5)
    img[0, :, 0, 0] = torch.tensor([1.0, 0.0, 0.0])
    return img


def test_colorfulness_by_hand():
    # rg = [255, 0, 0, 0], yb = [127.5, 0, 0, 0] on the 0..255 scale
    rg, yb = [255.0, 0, 0, 0], [127.5, 0, 0, 0]

    def std(v):
        m = sum(v) / 4
        return math.sqrt(sum((a - m) ** 2 for a in v) / 4)

    expected = math.sqrt(std(rg) ** 2 + std(yb) ** 2) + 0.3 * math.hypot(sum(rg) / 4, sum(yb) / 4)
    assert colorfulness(_image()).item() == pytest.approx(expected, rel=1e-5)
    assert colorfulness(torch.full((1, 3, 2, 2), 0.3)).item() == pytest.approx(0.0, abs=1e-4)


def test_gray_baseline_metrics_match_a_hand_computation_on_a_2x2_image():
    target = _image()
    luma = 0.299 * target[:, 0:1] + 0.587 * target[:, 1:2] + 0.114 * target[:, 2:3]
    gray = luma.expand(-1, 3, -1, -1)
    meter = ColorizationMeter()
    meter.update(gray, target, gray)
    r = meter.result()
    # Gray pixels have a*b* error 0 (counted at every threshold 0..150); red has 104.576 (counted at 105..150).
    expected_auc = (3 * 151 + 46) / (4 * 151)
    assert r["gray_auc_ab"] == pytest.approx(expected_auc, abs=1e-9)
    assert r["auc_ab"] == r["gray_auc_ab"]
    assert r["gray_colorfulness"] == pytest.approx(0.0, abs=1e-4)
    # PSNR of the gray baseline: only the red pixel differs, by (1 - 0.299, 0.299, 0.299).
    mse = ((1 - 0.299) ** 2 + 2 * 0.299**2) / 12
    assert (gray - target).pow(2).mean().item() == pytest.approx(mse, rel=1e-5)
    assert psnr_from_mse(mse) == pytest.approx(10 * math.log10(1 / mse))
    assert 104 < RED_AB < 105


class _Identity(LatentModel):
    """A 'model' whose output is its gray input repeated: evaluate_model must score it like the gray baseline."""

    likelihood = None

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def encode(self, x):
        return x

    def decoder_params(self, latents):
        return latents.expand(-1, 3, -1, -1)


def test_evaluate_model_reports_colorization_metrics_with_their_gray_floor():
    torch.manual_seed(0)
    images = (torch.rand(4, 3, 16, 16) * 255).to(torch.uint8)
    m = evaluate_model(_Identity(), Task("colorize", 3), images, batch_size=3)
    for key in ("colorfulness", "colorfulness_target", "auc_ab", "gray_psnr", "gray_ssim", "gray_colorfulness",
                "gray_auc_ab", "nmse"):
        assert key in m
    assert m["psnr"] == pytest.approx(m["gray_psnr"], rel=1e-6)
    assert m["auc_ab"] == pytest.approx(m["gray_auc_ab"])
    assert m["colorfulness_target"] > m["colorfulness"]


def test_photo_scores_against_the_gray_baseline():
    from vqlab.data.tasks import luminance
    from vqlab.eval.colorize import photo_scores

    g = torch.Generator().manual_seed(0)
    true = torch.rand(3, 20, 30, generator=g)
    perfect = photo_scores(true, true)
    assert perfect["psnr"] == float("inf") and perfect["colorfulness_ratio"] == pytest.approx(1.0)
    gray = ((luminance(true.unsqueeze(0)) * 255).round() / 255)[0].expand(3, -1, -1)
    scores = photo_scores(gray, true)  # leaving the photo gray gains nothing and has no colour
    assert scores["gain"] == pytest.approx(0.0) and scores["psnr"] == pytest.approx(scores["gray_psnr"])
    assert scores["colorfulness"] == pytest.approx(0.0, abs=1e-3) and scores["colorfulness_target"] > 10
    worse = photo_scores((true + 0.2).clamp(0, 1), true)
    assert worse["psnr"] < perfect["psnr"] and worse["gain"] == pytest.approx(worse["psnr"] - worse["gray_psnr"])
