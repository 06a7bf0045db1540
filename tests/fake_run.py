"""Run directories made in milliseconds: an untrained tiny model saved the way ``vqlab train`` saves one."""

from __future__ import annotations

from pathlib import Path

import torch

from vqlab import config as cfgmod
from vqlab.data.tasks import Task
from vqlab.models.registry import build_model
from vqlab.train.checkpoint import save_checkpoint
from vqlab.train.run import write_config


def make_run(run_dir: Path, *, model: str = "vqvae", task: str = "reconstruct", channels: int = 3,
             image_size: tuple[int, int] | None = (16, 16), color_space: str = "auto", step: int = 7,
             downsample: int = 4) -> Path:
    """Write config.json and one checkpoint of a freshly initialised tiny model (h=8, K=13, D=4)."""
    cfg = cfgmod.Config()
    cfg.model.name, cfg.model.hidden, cfg.model.num_embeddings, cfg.model.embedding_dim = model, 8, 13, 4
    cfg.model.downsample = downsample
    cfg.model.num_res_blocks, cfg.vimco.samples = 1, 2
    cfg.data.dataset, cfg.data.task, cfg.data.color_space = "photos", task, color_space
    cfg.train.precision = "fp32"
    cfgmod.resolve(cfgmod.validate(cfg))
    t = Task(cfg.data.task, channels, cfg.data.color_space)
    torch.manual_seed(0)
    net = build_model(cfg, t.in_channels, t.out_channels)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_config(run_dir, cfg, channels, image_size)
    save_checkpoint(run_dir, step, net, torch.optim.Adam(net.parameters()), {"wall_time": 0.0})
    return run_dir
