"""The same held-out test images run through every setting of a sweep: rows of images for a side-by-side grid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

NUM_IMAGES = 8


def test_image_rows(out: Path, plan_runs: list[dict[str, Any]], num_images: int = NUM_IMAGES
                    ) -> tuple[list[str], list[np.ndarray]]:
    """Labels and image rows ((N, H, W, 3) uint8 each): the model input, then one row per setting (its first
    run in the plan, usually seed 0), then the target. The images are ``num_images`` test images evenly spaced
    over the test split, the same for every setting (the runs' sample grids pick them the same way)."""
    import torch

    from vqlab.data import load_dataset
    from vqlab.eval.metrics import predict_rgb, task_target_rgb
    from vqlab.eval.samples import to_uint8_hwc
    from vqlab.experiments.sweep import RUNS_DIR
    from vqlab.train.device import default_device, resolve_precision
    from vqlab.train.run import load_run

    device = default_device()
    first: dict[str, str] = {}
    for run in plan_runs:
        first.setdefault(run["setting"], run["name"])
    labels: list[str] = []
    rows: list[np.ndarray] = []
    data_cache: dict[tuple, Any] = {}
    head: tuple[np.ndarray, np.ndarray] | None = None
    for setting, name in first.items():
        run = load_run(out / RUNS_DIR / name, device)
        d = run.config.data
        key = (d.dataset, d.root, d.image_size)
        if key not in data_cache:
            data_cache[key] = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
        test = data_cache[key].test
        pick = torch.linspace(0, test.shape[0] - 1, min(num_images, test.shape[0])).long()
        images = test[pick]
        dtype = resolve_precision(run.config.train.precision, device)
        inputs, outputs, _ = predict_rgb(run.model, run.task, images, device, dtype)
        if head is None:
            head = (to_uint8_hwc(inputs), to_uint8_hwc(task_target_rgb(run.task, images)))
        labels.append(setting)
        rows.append(to_uint8_hwc(outputs))
    if head is None:
        return [], []
    return ["input", *labels, "target"], [head[0], *rows, head[1]]
