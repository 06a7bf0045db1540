"""Run configuration: dataclasses, presets, YAML loading and validation. The one place defaults live.

Precedence when a run is configured: dataclass defaults < ``--preset`` < ``--config FILE.yaml`` < CLI flags.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vqlab.errors import VQLabError

MODELS = ("vqvae", "vae", "vimco")
LIKELIHOOD_NAMES = ("mse", "softmax256", "logistic", "gaussian")
TASKS = ("reconstruct", "colorize")
COLOR_SPACES = ("rgb", "ycbcr", "lab")
# "auto" colour space: colorize keeps the input's luma and predicts chroma (ycbcr) where the likelihood is a
# plain MSE; the 8-bit likelihood heads and VIMCO model RGB sub-pixels, so they get rgb. Reconstruct: rgb.
PRECISIONS = ("auto", "fp32", "bf16")
SCHEDULES = ("constant", "cosine")


@dataclass
class ModelConfig:
    """Architecture and quantizer settings (paper section 4.1 and appendix A.1)."""

    name: str = "vqvae"
    hidden: int = 128
    num_res_blocks: int = 2
    num_embeddings: int = 512
    embedding_dim: int = 64
    beta: float = 0.25
    ema: bool = True
    decay: float = 0.99
    kmeans_init: bool = True
    restart_after: int = 50
    vae_sigma: float = 0.1
    # Output likelihood: "mse" trains on plain MSE (the decoder outputs the image); the others are discrete
    # 8-bit likelihoods (models/likelihood.py) trained by their NLL.
    likelihood: str = "mse"
    logistic_mixtures: int = 5
    gaussian_sigma: float = 0.1
    # VIMCO baseline: samples per image of the multi-sample objective (Mnih & Rezende 2016; the paper used 50).
    vimco_samples: int = 50


@dataclass
class DataConfig:
    """Dataset and task. ``image_size`` None keeps the dataset's native size."""

    dataset: str = "photos"
    task: str = "reconstruct"
    color_space: str = "auto"
    image_size: int | None = None
    root: str | None = None
    download: bool = False
    # Mirror a random half of each training batch left-right (seeded by step: resumable, DDP-exact).
    hflip: bool = False


@dataclass
class TrainConfig:
    """Optimisation, logging and checkpointing."""

    # CPU-friendly defaults, tuned for test PSNR per wall-clock minute on `photos` (docs/performance.md):
    # smaller batches and a higher rate than the paper's 128 and 2e-4 (see the "paper" preset).
    steps: int = 3000
    batch_size: int = 32
    lr: float = 1e-3
    # "constant" or "cosine" (train/schedule.py); a time-budgeted run anneals over --max-minutes.
    lr_schedule: str = "cosine"
    warmup_steps: int = 0
    seed: int = 0
    precision: str = "auto"
    compile: bool = False
    log_every: int = 10
    eval_every: int = 1000
    checkpoint_every: int = 1000
    eval_batch_size: int = 256
    keep_checkpoints: int = 2
    max_minutes: float | None = None


@dataclass
class Config:
    """A whole run: model, data, train."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Small and CPU-friendly: the default when only --out is given.
    "default": {},
    # The paper's CIFAR-10 settings (section 4.1): loss-based codebook, no restarts, 250k steps.
    "paper": {
        "model": {"hidden": 256, "num_embeddings": 512, "embedding_dim": 64, "ema": False, "kmeans_init": False,
                  "restart_after": 0},
        "train": {"batch_size": 128, "lr": 2e-4, "lr_schedule": "constant", "steps": 250_000, "eval_every": 5000,
                  "checkpoint_every": 5000},
    },
    # Seconds-long runs for smoke tests and CI.
    "tiny": {
        "model": {"hidden": 16, "num_embeddings": 32, "embedding_dim": 8, "restart_after": 20},
        "train": {"steps": 40, "batch_size": 16, "eval_every": 20, "checkpoint_every": 20, "log_every": 5},
    },
}


def _section_fields(section: Any) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(section)}


def apply_overrides(cfg: Config, overrides: dict[str, Any], source: str) -> Config:
    """Apply a nested ``{section: {field: value}}`` mapping onto ``cfg`` in place; unknown keys are errors."""
    if not isinstance(overrides, dict):
        raise VQLabError(f"{source}: expected a mapping with sections model/data/train")
    for section_name, values in overrides.items():
        section = getattr(cfg, section_name, None) if section_name in ("model", "data", "train") else None
        if section is None:
            raise VQLabError(f"{source}: unknown section {section_name!r} (expected model, data, train)")
        if not isinstance(values, dict):
            raise VQLabError(f"{source}: section {section_name!r} must be a mapping")
        fields = _section_fields(section)
        for key, value in values.items():
            if key not in fields:
                raise VQLabError(f"{source}: unknown option {section_name}.{key}")
            setattr(section, key, value)
    return cfg


def preset(name: str) -> Config:
    """A fresh config for a named preset."""
    if name not in PRESETS:
        raise VQLabError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return apply_overrides(Config(), json.loads(json.dumps(PRESETS[name])), f"preset {name}")


def load_yaml(path: str | Path, cfg: Config) -> Config:
    """Apply a YAML file of ``model:/data:/train:`` sections onto ``cfg``."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise VQLabError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise VQLabError(f"config file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return apply_overrides(cfg, data, str(path))


def from_dict(data: dict[str, Any], source: str = "config") -> Config:
    """Rebuild a config saved with :meth:`Config.to_dict` (unknown keys are errors)."""
    return validate(apply_overrides(Config(), data, source))


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise VQLabError(message)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate(cfg: Config) -> Config:
    """Check types and ranges and resolve ``auto`` choices in place; raise VQLabError naming the first bad
    option."""
    m, d, t = cfg.model, cfg.data, cfg.train
    _check(m.name in MODELS, f"unknown model {m.name!r} (choose from {', '.join(MODELS)})")
    for name in ("hidden", "num_res_blocks", "num_embeddings", "embedding_dim", "restart_after", "logistic_mixtures",
                 "vimco_samples"):
        _check(_is_int(getattr(m, name)), f"model.{name} must be an integer")
    _check(m.hidden >= 1, "--hidden must be >= 1")
    _check(m.num_res_blocks >= 0, "model.num_res_blocks must be >= 0")
    _check(m.num_embeddings >= 1, "--num-embeddings (K) must be >= 1")
    _check(m.embedding_dim >= 1, "--embedding-dim (D) must be >= 1")
    _check(m.restart_after >= 0, "--restart-after must be >= 0 (0 disables restarts)")
    _check(_is_num(m.beta) and m.beta >= 0, "--beta must be a number >= 0")
    _check(_is_num(m.decay) and 0 < m.decay < 1, "model.decay must be in (0, 1)")
    _check(_is_num(m.vae_sigma) and m.vae_sigma > 0, "model.vae_sigma must be > 0")
    _check(m.likelihood in LIKELIHOOD_NAMES,
           f"unknown likelihood {m.likelihood!r} (choose from {', '.join(LIKELIHOOD_NAMES)})")
    _check(m.logistic_mixtures >= 1, "--logistic-mixtures must be >= 1")
    _check(_is_num(m.gaussian_sigma) and m.gaussian_sigma > 0, "--gaussian-sigma must be > 0")
    _check(m.vimco_samples >= 2, "--vimco-samples must be >= 2 (the leave-one-out baseline needs two)")
    for name in ("ema", "kmeans_init"):
        _check(isinstance(getattr(m, name), bool), f"model.{name} must be true or false")
    _check(isinstance(d.hflip, bool), "data.hflip must be true or false")
    _check(isinstance(d.dataset, str) and d.dataset != "", "data.dataset must be a dataset name")
    _check(d.task in TASKS, f"unknown task {d.task!r} (choose from {', '.join(TASKS)})")
    if d.color_space == "auto":
        chroma = d.task == "colorize" and m.likelihood == "mse" and m.name != "vimco"
        d.color_space = "ycbcr" if chroma else "rgb"
    _check(d.color_space in COLOR_SPACES,
           f"unknown color space {d.color_space!r} (choose from auto, {', '.join(COLOR_SPACES)})")
    _check(m.likelihood == "mse" or d.task == "reconstruct" or d.color_space == "rgb",
           f"--likelihood {m.likelihood} models 8-bit pixels; colorize with --color-space {d.color_space} "
           "needs --likelihood mse")
    _check(m.name != "vimco" or d.task == "reconstruct" or d.color_space == "rgb",
           "--model vimco models 8-bit RGB sub-pixels; colorize with it needs --color-space rgb")
    if d.image_size is not None:
        # 8 is the smallest size that works end to end: SSIM's 11x11 window pads by 5, which needs at least 6.
        _check(_is_int(d.image_size) and d.image_size >= 8 and d.image_size % 4 == 0,
               f"--image-size must be a multiple of 4 and at least 8 (SSIM's 11x11 window needs 6 pixels), "
               f"got {d.image_size}")
    for name in ("steps", "warmup_steps", "batch_size", "log_every", "eval_every", "checkpoint_every", "eval_batch_size",
                 "keep_checkpoints", "seed"):
        _check(_is_int(getattr(t, name)), f"train.{name} must be an integer")
    _check(t.steps >= 1, "--steps must be >= 1")
    _check(t.batch_size >= 1, "--batch-size must be >= 1")
    _check(_is_num(t.lr) and t.lr > 0, "--lr must be > 0")
    _check(t.lr_schedule in SCHEDULES, f"--lr-schedule must be one of {', '.join(SCHEDULES)}")
    _check(t.warmup_steps >= 0, "--warmup-steps must be >= 0")
    _check(t.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}")
    _check(t.log_every >= 1 and t.eval_every >= 1 and t.checkpoint_every >= 1 and t.eval_batch_size >= 1,
           "log/eval/checkpoint intervals and eval batch size must be >= 1")
    _check(t.keep_checkpoints >= 1, "train.keep_checkpoints must be >= 1")
    _check(t.max_minutes is None or (_is_num(t.max_minutes) and t.max_minutes > 0), "--max-minutes must be > 0")
    _check(isinstance(t.compile, bool), "train.compile must be true or false")
    return cfg
