"""Run configuration: dataclasses, presets, YAML loading, validation and the resolution of ``auto`` choices.
The one place defaults live, and the one place an option is declared.

Every option a user may set is a dataclass field declared with :func:`option`: its default, its command-line
flag, its help text and whether a resumed run may change it. The ``train`` and ``sweep`` commands build their
flags from these declarations (:mod:`vqlab.cli_options`), so adding an option is one field here.

Sections: ``model`` (architecture and likelihood shared by every model), one section per model family's own
options (``quantizer`` for the VQ-VAE's quantizer, ``vae``, ``vimco``), ``data`` and ``train``.

Precedence when a run is configured: dataclass defaults < ``--preset`` < ``--config FILE.yaml`` < CLI flags.
``auto`` values are resolved by :func:`resolve` (a separate step, before a config is saved), never by
:func:`validate`, which only checks.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from vqlab.config_quantizer import check_quantizer, resolve_quantizer
from vqlab.errors import VQLabError

# What validation needs to know of each model (the modules themselves are in vqlab.models.registry):
# pixels_only: the model's training objective needs an 8-bit pixel likelihood (VIMCO's multi-sample bound),
# so it cannot predict continuous chroma.
MODEL_TRAITS: dict[str, dict[str, bool]] = {
    "vqvae": {"pixels_only": False},
    "vae": {"pixels_only": False},
    "vimco": {"pixels_only": True},
}
MODELS = tuple(MODEL_TRAITS)
QUANTIZERS = ("vq", "fsq", "simvq", "rvq")
LIKELIHOOD_NAMES = ("mse", "softmax256", "logistic", "gaussian", "chroma-bins")
# Likelihoods of a colorize run's continuous colour (ycbcr, lab) rather than of 8-bit pixels.
CHROMA_LIKELIHOODS = ("mse", "chroma-bins")
TASKS = ("reconstruct", "colorize")
COLOR_SPACES = ("rgb", "ycbcr", "lab")
PRECISIONS = ("auto", "fp32", "bf16")
SCHEDULES = ("constant", "cosine")
DOWNSAMPLES = (2, 4, 8, 16)
SECTIONS = ("model", "quantizer", "vae", "vimco", "data", "train")


def option(default: Any, flag: str | None, help: str, *, short: str | None = None, resumable: bool = False,
           choices: tuple[str, ...] | None = None, factory: Any = None, list_sep: str = ",") -> Any:
    """A config field with its command-line declaration.

    flag: the long option (``--hidden``), or None for a field set only by presets and YAML. short: an alias
    (``-K``). resumable: a resumed run may change it (it does not alter what was computed up to the saved step).
    choices: allowed values, for the help text and validation. list_sep: what separates the values of a sweep's
    list (``vqlab sweep``), for options whose values contain commas themselves.
    """
    meta = {"flag": flag, "help": help, "short": short, "resumable": resumable, "choices": choices,
            "list_sep": list_sep}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(slots=True)
class ModelConfig:
    """Architecture and output likelihood (paper section 4.1), shared by every model."""

    name: str = option("vqvae", "--model", "vqvae (default), vae (Gaussian VAE) or vimco (discrete, VIMCO)",
                       choices=MODELS)
    hidden: int = option(128, "--hidden", "hidden channels h (paper: 256)")
    num_res_blocks: int = option(2, "--res-blocks", "residual blocks per encoder/decoder (2)")
    downsample: int = option(4, "--downsample", (
        "image size / latent grid size: 4 (the paper's two stride-2 stages), 8 or 16 (more stages: fewer codes "
        "per image, lower rates); 2 also works"))
    num_embeddings: int = option(512, "--num-embeddings", (
        "codebook size K (VIMCO: classes per latent; rvq: codes per codebook; fsq: the product of --fsq-levels)"),
        short="-K")
    embedding_dim: int = option(64, "--embedding-dim", "code dimension D (VAE: latent channels)", short="-D")
    # "mse" trains on plain MSE (the decoder outputs the image); the others are discrete 8-bit likelihoods
    # (models/likelihood.py) trained by their NLL.
    likelihood: str = option("mse", "--likelihood", (
        "output likelihood: mse (default: plain MSE), softmax256 (256-way categorical per sub-pixel), logistic "
        "(discretized logistic mixture), gaussian (discretized Gaussian with fixed --gaussian-sigma); colorize "
        "(ycbcr, lab) only: chroma-bins (colour as classification over --chroma-bins bins, shown as the annealed "
        "mean at --chroma-temperature; Zhang et al. 2016)"),
        choices=LIKELIHOOD_NAMES)
    logistic_mixtures: int = option(5, "--logistic-mixtures", "components of the logistic mixture (5)")
    gaussian_sigma: float = option(0.1, "--gaussian-sigma", "std of the discretized Gaussian (0.1)")
    chroma_bins: int = option(32, "--chroma-bins", "chroma-bins: bins per colour channel over [-0.5, 0.5] (32)")
    chroma_temperature: float = option(0.38, "--chroma-temperature", (
        "chroma-bins: temperature T of the annealed mean shown (1: the mean, towards 0: the mode; 0.38 as in "
        "Zhang et al. 2016); changes the output, not the training"))


@dataclass(slots=True)
class QuantizerConfig:
    """The VQ-VAE's quantizer (paper section 3.2 and appendix A.1), chosen by name from a registry.

    Each quantizer reads the options named for it and ignores the others; FSQ's codebook size comes from its
    levels (see :mod:`vqlab.config_quantizer`, which checks and resolves this section).
    """

    name: str = option("vq", "--quantizer", (
        "quantizer of the VQ-VAE: vq (nearest code, straight-through), fsq (finite scalar quantization, "
        "--fsq-levels), simvq (frozen random codes times one learned linear map), rvq (residual VQ, "
        "--num-codebooks codes per latent)"), choices=QUANTIZERS)
    beta: float = option(0.25, "--beta", "commitment weight (0.25; vq, simvq, rvq)")
    ema: bool = option(True, "--ema", "EMA codebook updates (else the codebook loss; vq, rvq)")
    decay: float = option(0.99, "--decay", "EMA decay (0.99)")
    kmeans_init: bool = option(True, "--kmeans-init", "k-means codebook initialisation on the first batch (vq, rvq)")
    restart_after: int = option(50, "--restart-after", "re-seed codes unused this many steps (0: off; vq, rvq)")
    rotation_trick: bool = option(False, "--rotation-trick", (
        "vq, simvq, rvq: pass the gradient through the rotation and rescaling that take the encoder output onto "
        "its code (Fifty et al. 2025) instead of copying it (straight-through)"))
    cosine_codes: bool = option(False, "--cosine-codes",
                                "vq: l2-normalised codes and inputs for the search and the output (ViT-VQGAN)")
    fsq_levels: str = option("auto", "--fsq-levels", (
        "fsq: quantization levels per dimension, e.g. 8,5,5,5; K becomes their product. auto (default): the FSQ "
        "paper's levels for -K 2^8, 2^10, 2^12, 2^14, 2^16 (other powers of two 2^4..2^16: our table). "
        "In a sweep separate alternatives with '/': 8,5,5,5/7,5,5,5,5"), list_sep="/")
    num_codebooks: int = option(4, "--num-codebooks", "rvq: residual codebooks N, each of K codes (4)")
    quantizer_dropout: float = option(1.0, "--quantizer-dropout", (
        "rvq: fraction of training batches that use only the first n ~ U{1..N} codebooks, so that one model "
        "serves N rates (SoundStream; 1.0 default, 0: always all N)"))


@dataclass(slots=True)
class VAEConfig:
    """The Gaussian VAE baseline's own options."""

    sigma: float = option(0.1, "--vae-sigma", "VAE Gaussian likelihood std (0.1)")


@dataclass(slots=True)
class VIMCOConfig:
    """The VIMCO baseline's own options (Mnih & Rezende 2016)."""

    samples: int = option(50, "--vimco-samples", "VIMCO samples per image (50, as the paper)")


@dataclass(slots=True)
class DataConfig:
    """Dataset and task. ``image_size`` None keeps the dataset's native size."""

    dataset: str = option(
        "photos", "--data", "photos (default), photos-wide, cifar10, mnist, fashion-mnist, folder:PATH"
    )
    task: str = option("reconstruct", "--task", "reconstruct (default) or colorize", choices=TASKS)
    color_space: str = option("auto", "--color-space", (
        "colorize target: auto (default: ycbcr with --likelihood mse, else rgb), ycbcr or lab (predict the "
        "colour, keep the input's luma or lightness), rgb (predict all three channels)"))
    image_size: int | None = option(None, "--image-size", "resize images to this size (a multiple of 4, at least 8)")
    root: str | None = option(None, "--data-root", "folder of cifar10 / mnist / fashion-mnist files; for "
                               "photos-wide a photo list file (JSON) that pins its photos")
    download: bool = option(False, "--download", "download CIFAR-10 if missing", resumable=True)
    # Mirror a random half of each training batch left-right (seeded by step: resumable, DDP-exact).
    hflip: bool = option(False, "--hflip", "mirror a random half of each training batch left-right")
    # Scale jitter (data/augment.py): each training image becomes a random square sub-crop whose side is a
    # log-uniform fraction in [random_crop, 1] of the image's, resized back; seeded by step like --hflip.
    random_crop: float = option(1.0, "--random-crop", (
        "smallest side of a random sub-crop, as a fraction of the image (e.g. 0.5): each training image is cut "
        "to a random square of that to full size and resized back (scale jitter, seeded per step); 1: off"))
    # Post-hoc shrinkage of the predicted colour towards gray by one gain fitted on the validation split
    # (eval/chroma.py); it changes what the run outputs and how its best checkpoint is chosen, not its training.
    chroma_shrink: bool = option(False, "--chroma-shrink", (
        "colorize (ycbcr/lab): scale the predicted colour by a gain in [0, 1] fitted on the validation split "
        "to minimise its error, stored with each checkpoint and applied at inference"))


@dataclass(slots=True)
class TrainConfig:
    """Optimisation, logging and checkpointing."""

    # CPU-friendly defaults, tuned for test PSNR per wall-clock minute on `photos` (docs/performance.md):
    # smaller batches and a higher rate than the paper's 128 and 2e-4 (see the "paper" preset).
    steps: int = option(3000, "--steps", "optimizer steps", resumable=True)
    batch_size: int = option(32, "--batch-size", "images per step")
    lr: float = option(1e-3, "--lr", "Adam learning rate (1e-3; paper preset 2e-4)")
    weight_decay: float = option(0.0, "--weight-decay", (
        "decoupled weight decay of the convolution weights (AdamW) when > 0; 0 (default): plain Adam"))
    lr_schedule: str = option("cosine", "--lr-schedule", (
        "cosine (default: anneal to 0 over --steps, or over --max-minutes if that runs out first) or constant"),
        choices=SCHEDULES)
    warmup_steps: int = option(0, "--warmup-steps", "linear learning-rate warm-up steps (0)")
    seed: int = option(0, "--seed", "random seed")
    precision: str = option("auto", "--precision", "auto (default: bf16 where the hardware is fast), fp32, bf16",
                            choices=PRECISIONS)
    compile: bool = option(False, "--compile", "torch.compile the model")
    log_every: int = option(10, "--log-every", "steps between metrics rows", resumable=True)
    eval_every: int = option(1000, "--eval-every", "steps between test evaluations and sample grids", resumable=True)
    checkpoint_every: int = option(1000, "--checkpoint-every", "steps between checkpoints", resumable=True)
    val_images: int = option(2048, "--val-images", (
        "validation images scored at each evaluation when the data has a val split (a fixed, evenly spaced "
        "subset; the best checkpoint is chosen on their PSNR); 0: no validation"))
    eval_batch_size: int = option(256, None, "images per evaluation batch", resumable=True)
    keep_checkpoints: int = option(2, None, "checkpoints kept in the run directory", resumable=True)
    max_minutes: float | None = option(None, "--max-minutes",
                                       "also stop (evaluate, checkpoint) once this much training wall time is spent",
                                       resumable=True)


@dataclass(slots=True)
class Config:
    """A whole run: model, its family's options, data, train."""

    model: ModelConfig = field(default_factory=ModelConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)
    vimco: VIMCOConfig = field(default_factory=VIMCOConfig)
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
        "model": {"hidden": 256, "num_embeddings": 512, "embedding_dim": 64},
        "quantizer": {"ema": False, "kmeans_init": False, "restart_after": 0},
        "train": {"batch_size": 128, "lr": 2e-4, "lr_schedule": "constant", "steps": 250_000, "eval_every": 5000,
                  "checkpoint_every": 5000},
    },
    # Seconds-long runs for smoke tests and CI.
    "tiny": {
        "model": {"hidden": 16, "num_embeddings": 32, "embedding_dim": 8},
        "quantizer": {"restart_after": 20},
        "train": {"steps": 40, "batch_size": 16, "eval_every": 20, "checkpoint_every": 20, "log_every": 5},
    },
}

# Configs written before the model families had sections of their own kept these in ``model``.
LEGACY_KEYS = {("model", "beta"): ("quantizer", "beta"), ("model", "ema"): ("quantizer", "ema"),
               ("model", "decay"): ("quantizer", "decay"), ("model", "kmeans_init"): ("quantizer", "kmeans_init"),
               ("model", "restart_after"): ("quantizer", "restart_after"), ("model", "vae_sigma"): ("vae", "sigma"),
               ("model", "vimco_samples"): ("vimco", "samples")}


def fields_of(section: Any) -> dict[str, dataclasses.Field]:
    """The fields of a config section, by name."""
    return {f.name: f for f in dataclasses.fields(section)}


def options() -> list[tuple[str, dataclasses.Field]]:
    """Every declared option as (section name, field), in declaration order."""
    cfg = Config()
    return [(s, f) for s in SECTIONS for f in dataclasses.fields(getattr(cfg, s))]


def is_resumable(section: str, name: str) -> bool:
    """Whether a resumed run may change ``section.name``."""
    return bool(fields_of(getattr(Config(), section))[name].metadata.get("resumable"))


def apply_overrides(cfg: Config, overrides: dict[str, Any], source: str) -> Config:
    """Apply a nested ``{section: {field: value}}`` mapping onto ``cfg`` in place; unknown keys are errors.

    Keys of configs written before the model families had sections (``model.beta``, ``model.vae_sigma``, ...)
    are accepted and moved to their section.
    """
    for section_name, name, value in flatten(overrides, source):
        setattr(getattr(cfg, section_name), name, value)
    return cfg


def flatten(overrides: dict[str, Any], source: str) -> list[tuple[str, str, Any]]:
    """``{section: {field: value}}`` as checked (section, field, value) triples, legacy keys moved."""
    if not isinstance(overrides, dict):
        raise VQLabError(f"{source}: expected a mapping with sections {', '.join(SECTIONS)}")
    out = []
    for section_name, values in overrides.items():
        if section_name not in SECTIONS:
            raise VQLabError(f"{source}: unknown section {section_name!r} (expected {', '.join(SECTIONS)})")
        if not isinstance(values, dict):
            raise VQLabError(f"{source}: section {section_name!r} must be a mapping")
        fields = fields_of(getattr(Config(), section_name))
        for key, value in values.items():
            section, name = LEGACY_KEYS.get((section_name, key), (section_name, key))
            if section == section_name and name not in fields:
                raise VQLabError(f"{source}: unknown option {section_name}.{key}")
            out.append((section, name, value))
    return out


def preset_overrides(name: str) -> dict[str, dict[str, Any]]:
    """The settings a named preset makes (a copy)."""
    if name not in PRESETS:
        raise VQLabError(f"unknown preset {name!r} (choose from {', '.join(PRESETS)})")
    return copy.deepcopy(PRESETS[name])


def preset(name: str) -> Config:
    """A fresh config for a named preset."""
    return apply_overrides(Config(), preset_overrides(name), f"preset {name}")


def read_yaml(path: str | Path) -> dict[str, Any]:
    """The ``{section: {field: value}}`` mapping of a YAML config file."""
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
    flatten(data, str(path))  # check it now, naming the file
    return data


def load_yaml(path: str | Path, cfg: Config) -> Config:
    """Apply a YAML file of ``model:/quantizer:/.../train:`` sections onto ``cfg``."""
    return apply_overrides(cfg, read_yaml(path), str(path))


def from_dict(data: dict[str, Any], source: str = "config") -> Config:
    """Rebuild a saved config (:meth:`Config.to_dict`; unknown keys are errors, legacy keys are moved)."""
    return validate(apply_overrides(Config(), data, source))


def resolve(cfg: Config) -> Config:
    """Resolve ``auto`` choices in place and return ``cfg``; a saved config is a resolved one.

    Colour space ``auto``: colorize keeps the input's luma and predicts chroma (ycbcr) where the likelihood is a
    plain MSE and the model can predict continuous values; the 8-bit likelihood heads and pixel-only models
    (VIMCO) model RGB sub-pixels, so they get rgb. Reconstruct: rgb. FSQ levels ``auto``: the levels for K, and
    K becomes their product (:func:`vqlab.config_quantizer.resolve_quantizer`).
    """
    cfg.data.color_space = resolved_color_space(cfg)
    resolve_quantizer(cfg)
    return cfg


def resolved_color_space(cfg: Config) -> str:
    """The colour space ``cfg`` trains with once ``auto`` is resolved (see :func:`resolve`); ``cfg`` unchanged."""
    m, d = cfg.model, cfg.data
    if d.color_space != "auto":
        return d.color_space
    pixels_only = MODEL_TRAITS.get(m.name, {}).get("pixels_only", False)
    chroma = d.task == "colorize" and m.likelihood in CHROMA_LIKELIHOODS and not pixels_only
    return "ycbcr" if chroma else "rgb"


def diff(old: Config, new: Config) -> list[tuple[str, str, Any, Any]]:
    """(section, field, old value, new value) for every option that differs."""
    a, b = old.to_dict(), new.to_dict()
    return [(s, k, a[s][k], b[s][k]) for s in SECTIONS for k in a[s] if a[s][k] != b[s][k]]


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise VQLabError(message)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate(cfg: Config) -> Config:
    """Check types and ranges (``auto`` values are allowed; see :func:`resolve`); raise VQLabError naming the
    first bad option. Returns ``cfg`` unchanged."""
    m, q, d, t = cfg.model, cfg.quantizer, cfg.data, cfg.train
    _check(m.name in MODELS, f"unknown model {m.name!r} (choose from {', '.join(MODELS)})")
    for name in ("hidden", "num_res_blocks", "num_embeddings", "embedding_dim", "logistic_mixtures", "downsample"):
        _check(_is_int(getattr(m, name)), f"model.{name} must be an integer")
    _check(_is_int(q.restart_after), "quantizer.restart_after must be an integer")
    _check(_is_int(cfg.vimco.samples), "vimco.samples must be an integer")
    _check(m.hidden >= 1, "--hidden must be >= 1")
    _check(m.downsample in DOWNSAMPLES, f"--downsample must be one of {', '.join(map(str, DOWNSAMPLES))}")
    _check(m.num_res_blocks >= 0, "model.num_res_blocks must be >= 0")
    _check(m.num_embeddings >= 1, "--num-embeddings (K) must be >= 1")
    _check(m.embedding_dim >= 1, "--embedding-dim (D) must be >= 1")
    _check(q.name in QUANTIZERS, f"unknown quantizer {q.name!r} (choose from {', '.join(QUANTIZERS)})")
    _check(q.restart_after >= 0, "--restart-after must be >= 0 (0 disables restarts)")
    _check(_is_num(q.beta) and q.beta >= 0, "--beta must be a number >= 0")
    _check(_is_num(q.decay) and 0 < q.decay < 1, "quantizer.decay must be in (0, 1)")
    check_quantizer(cfg)
    _check(_is_num(cfg.vae.sigma) and cfg.vae.sigma > 0, "--vae-sigma must be > 0")
    _check(m.likelihood in LIKELIHOOD_NAMES,
           f"unknown likelihood {m.likelihood!r} (choose from {', '.join(LIKELIHOOD_NAMES)})")
    _check(m.logistic_mixtures >= 1, "--logistic-mixtures must be >= 1")
    _check(_is_num(m.gaussian_sigma) and m.gaussian_sigma > 0, "--gaussian-sigma must be > 0")
    _check(_is_int(m.chroma_bins) and m.chroma_bins >= 2, "--chroma-bins must be an integer >= 2")
    _check(_is_num(m.chroma_temperature) and m.chroma_temperature > 0, "--chroma-temperature must be > 0")
    if m.likelihood == "chroma-bins":
        _check(d.task == "colorize" and m.name == "vqvae",
               "--likelihood chroma-bins classifies the colour of a colorize run: it needs --task colorize and "
               "--model vqvae")
    _check(cfg.vimco.samples >= 2, "--vimco-samples must be >= 2 (the leave-one-out baseline needs two)")
    for name in ("ema", "kmeans_init"):
        _check(isinstance(getattr(q, name), bool), f"quantizer.{name} must be true or false")
    _check(isinstance(d.hflip, bool), "data.hflip must be true or false")
    _check(_is_num(d.random_crop) and 0 < d.random_crop <= 1, "--random-crop must be in (0, 1] (1: off)")
    _check(isinstance(d.chroma_shrink, bool), "data.chroma_shrink must be true or false")
    _check(isinstance(d.dataset, str) and d.dataset != "", "data.dataset must be a dataset name")
    _check(d.task in TASKS, f"unknown task {d.task!r} (choose from {', '.join(TASKS)})")
    _check(d.color_space == "auto" or d.color_space in COLOR_SPACES,
           f"unknown color space {d.color_space!r} (choose from auto, {', '.join(COLOR_SPACES)})")
    if d.color_space != "auto":
        _check(m.likelihood in CHROMA_LIKELIHOODS or d.task == "reconstruct" or d.color_space == "rgb",
               f"--likelihood {m.likelihood} models 8-bit pixels; colorize with --color-space {d.color_space} "
               "needs --likelihood mse or chroma-bins")
        _check(m.likelihood != "chroma-bins" or d.color_space != "rgb",
               "--likelihood chroma-bins predicts the colour only: it needs --color-space ycbcr or lab (or auto)")
        _check(not MODEL_TRAITS[m.name]["pixels_only"] or d.task == "reconstruct" or d.color_space == "rgb",
               f"--model {m.name} models 8-bit RGB sub-pixels; colorize with it needs --color-space rgb")
    if d.chroma_shrink and d.task in TASKS and d.color_space in ("auto", *COLOR_SPACES):
        _check(d.task == "colorize" and resolved_color_space(cfg) != "rgb",
               "--chroma-shrink scales a predicted colour: it needs --task colorize with --color-space ycbcr or lab")
    if d.image_size is not None:
        # 8 is the smallest size that works end to end: SSIM's 11x11 window pads by 5, which needs at least 6.
        _check(_is_int(d.image_size) and d.image_size >= 8 and d.image_size % max(m.downsample, 4) == 0,
               f"--image-size must be a multiple of {max(m.downsample, 4)} and at least 8 (SSIM's 11x11 window "
               f"needs 6 pixels), got {d.image_size}")
    for name in ("steps", "warmup_steps", "batch_size", "log_every", "eval_every", "checkpoint_every", "eval_batch_size",
                 "keep_checkpoints", "seed", "val_images"):
        _check(_is_int(getattr(t, name)), f"train.{name} must be an integer")
    _check(t.steps >= 1, "--steps must be >= 1")
    _check(t.batch_size >= 1, "--batch-size must be >= 1")
    _check(_is_num(t.lr) and t.lr > 0, "--lr must be > 0")
    _check(_is_num(t.weight_decay) and t.weight_decay >= 0, "--weight-decay must be >= 0")
    _check(t.val_images >= 0, "--val-images must be >= 0 (0: no validation)")
    _check(t.lr_schedule in SCHEDULES, f"--lr-schedule must be one of {', '.join(SCHEDULES)}")
    _check(t.warmup_steps >= 0, "--warmup-steps must be >= 0")
    _check(t.precision in PRECISIONS, f"--precision must be one of {', '.join(PRECISIONS)}")
    _check(t.log_every >= 1 and t.eval_every >= 1 and t.checkpoint_every >= 1 and t.eval_batch_size >= 1,
           "log/eval/checkpoint intervals and eval batch size must be >= 1")
    _check(t.keep_checkpoints >= 1, "train.keep_checkpoints must be >= 1")
    _check(t.max_minutes is None or (_is_num(t.max_minutes) and t.max_minutes > 0), "--max-minutes must be > 0")
    _check(isinstance(t.compile, bool), "train.compile must be true or false")
    return cfg
