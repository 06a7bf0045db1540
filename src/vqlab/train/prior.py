"""A PixelCNN prior over a trained VQ-VAE's code maps, stored in the run directory.

Layout::

    RUN/prior/config.json            architecture, training options, the VQ-VAE fingerprint and step it belongs to
    RUN/prior/model.safetensors      PixelCNN weights and ``code_counts`` (K,), the training split's code histogram
    RUN/prior/metrics.jsonl          training rows and the final test row
    RUN/prior/codes_<step>_<fp>_{train,test}.npy   the encoded splits (cache, uint16/int32 code maps)

The fingerprint (:func:`vqlab.train.checkpoint.fingerprint`) ties the prior to the exact VQ-VAE weights: a prior
trained for other weights is refused when loaded.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from vqlab.data.base import write_atomic_npy
from vqlab.errors import VQLabError
from vqlab.eval.metrics import autocast_context
from vqlab.fileio import atomic_write, atomic_write_json
from vqlab.models.base import LatentModel
from vqlab.models.pixelcnn import GatedPixelCNN
from vqlab.train.checkpoint import fingerprint
from vqlab.train.fit import fit_steps
from vqlab.train.run import LoadedRun, run_fingerprint  # the fingerprint of the weights a run was loaded with

PRIOR_DIR = "prior"
PRIOR_FORMAT = "vqlab-prior-1"
LN2 = math.log(2.0)


@dataclass
class PriorConfig:
    """PixelCNN size and training options (``vqlab prior`` flags)."""

    dim: int = 64
    layers: int = 8
    kernel: int = 3
    steps: int = 2000
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0
    log_every: int = 50
    max_minutes: float | None = None

    def validate(self) -> PriorConfig:
        for name in ("dim", "layers", "steps", "batch_size", "log_every"):
            if getattr(self, name) < 1:
                raise VQLabError(f"--{name.replace('_', '-')} must be >= 1")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise VQLabError("--kernel must be an odd number >= 1")
        if not self.lr > 0:
            raise VQLabError("--lr must be > 0")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise VQLabError("--max-minutes must be > 0")
        return self


@dataclass
class LoadedPrior:
    """A trained prior: the network (eval mode), its code histogram, its config and its own fingerprint."""

    model: GatedPixelCNN
    code_counts: torch.Tensor
    config: dict[str, Any]
    fingerprint: bytes


def require_vqvae(run: LoadedRun, what: str) -> LatentModel:
    """The run's model, if its codes take a learned prior (the VQ-VAE's) and are one code map per image (the
    PixelCNN prior, its code caches and the .vqz format hold one (h, w) map per image; a residual quantizer's N
    maps are not supported yet)."""
    if not (run.model.discrete and run.model.prior == "learned"):
        raise VQLabError(f"{what} needs a VQ-VAE run; {run.run_dir} is a {run.config.model.name} run")
    if run.model.num_codebooks > 1:
        raise VQLabError(f"{what} works on one code map per image; {run.run_dir} uses --quantizer "
                         f"{run.config.quantizer.name} with {run.model.num_codebooks} code maps per image, which "
                         "the PixelCNN prior and the .vqz format do not support yet")
    return run.model


@torch.no_grad()
def encode_images(run: LoadedRun, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Code maps of uint8 images (N, C, H, W) -> (N, H/4, W/4) int64 numpy array.

    Encoded in float32, as :func:`vqlab.eval.bits.bits_per_dim` does, so both terms of the bound see the same codes.
    """
    model = require_vqvae(run, "encoding")
    device = next(model.parameters()).device
    out = []
    for start in range(0, images.shape[0], batch_size):
        inputs, _ = run.task.prepare(images[start:start + batch_size])
        out.append(model.encode(inputs.to(device)).cpu())
    return torch.cat(out).numpy()


def cached_codes(run: LoadedRun, split: str, images: torch.Tensor) -> np.ndarray:
    """The code maps of a data split, encoded once and cached under ``RUN/prior`` keyed by step and fingerprint."""
    folder = run.run_dir / PRIOR_DIR
    key = f"codes_{run.step:08d}_{run_fingerprint(run).hex()[:12]}_{split}.npy"
    path = folder / key
    if path.is_file():
        try:
            codes = np.load(path, allow_pickle=False)
            if codes.shape[0] == images.shape[0]:
                return codes.astype(np.int64)
        except (OSError, ValueError):
            pass
    for stale in folder.glob(f"codes_*_{split}.npy"):
        stale.unlink(missing_ok=True)
    codes = encode_images(run, images)
    write_atomic_npy(path, codes.astype(np.uint16 if run.model.num_codes <= 65536 else np.int32))
    return codes


@torch.no_grad()
def prior_nll(prior: GatedPixelCNN, codes: np.ndarray, batch_size: int = 256) -> float:
    """Total NLL in nats of code maps (N, h, w) under the prior (float32, eval mode)."""
    device = prior.embedding.weight.device
    prior.eval()
    total = 0.0
    for start in range(0, codes.shape[0], batch_size):
        idx = torch.from_numpy(codes[start:start + batch_size]).long().to(device)
        total += prior(idx, idx).nll.double().sum().item()
    return total


def train_prior(run: LoadedRun, train_codes: np.ndarray, test_codes: np.ndarray, pcfg: PriorConfig, *,
                progress: bool = True) -> tuple[LoadedPrior, dict[str, Any]]:
    """Train a PixelCNN on the training code maps, store it in ``RUN/prior``, return it with its test metrics."""
    from vqlab.train.device import resolve_precision

    pcfg.validate()
    model = require_vqvae(run, "a PixelCNN prior")
    k = model.num_codes
    device = next(model.parameters()).device
    dtype = resolve_precision(run.config.train.precision, device)
    torch.manual_seed(pcfg.seed)
    prior = GatedPixelCNN(k, pcfg.dim, pcfg.layers, pcfg.kernel).to(device)
    opt = torch.optim.Adam(prior.parameters(), lr=pcfg.lr)
    data = torch.from_numpy(train_codes).long()
    gen = torch.Generator().manual_seed(pcfg.seed)
    folder = run.run_dir / PRIOR_DIR
    folder.mkdir(parents=True, exist_ok=True)
    metrics_path = folder / "metrics.jsonl"

    def step_loss() -> torch.Tensor:
        batch = data[torch.randint(0, data.shape[0], (pcfg.batch_size,), generator=gen)].to(device)
        with autocast_context(device, dtype):
            return prior(batch, batch).loss

    prior.train()
    step, start = fit_steps(step_loss, opt, steps=pcfg.steps, log_every=pcfg.log_every,
                            max_minutes=pcfg.max_minutes, metrics_path=metrics_path,
                            metric="nll_bits_per_latent", desc="prior", progress=progress)
    prior.eval()
    test_nll = prior_nll(prior, test_codes)
    n_latents = int(np.prod(test_codes.shape))
    result = {"split": "test", "step": step, "wall_time": round(time.perf_counter() - start, 3),
              "nll_bits_per_latent": test_nll / max(n_latents, 1) / LN2,
              "uniform_bits_per_latent": math.log2(k), "num_maps": int(test_codes.shape[0])}
    with open(metrics_path, "a") as f:
        f.write(json.dumps(result) + "\n")
    counts = torch.from_numpy(np.bincount(train_codes.reshape(-1), minlength=k)).long()
    _save_prior(run, prior, counts, pcfg, step, tuple(train_codes.shape[1:]))
    return load_prior(run), {**result, "test_nll_nats": test_nll}


def _save_prior(run: LoadedRun, prior: GatedPixelCNN, counts: torch.Tensor, pcfg: PriorConfig, step: int,
                grid: tuple[int, ...]) -> None:
    folder = run.run_dir / PRIOR_DIR
    weights = {k: v.detach().cpu().contiguous() for k, v in prior.state_dict().items()}
    weights["code_counts"] = counts
    atomic_write(folder / "model.safetensors", lambda p: save_file(weights, str(p), metadata={"format": PRIOR_FORMAT}))
    atomic_write_json(folder / "config.json", {
        "format": PRIOR_FORMAT, "vqvae_fingerprint": run_fingerprint(run).hex(), "vqvae_step": run.step,
        "num_embeddings": run.model.num_codes, "grid": list(grid), "trained_steps": step, **asdict(pcfg),
    })


def load_prior(run: LoadedRun) -> LoadedPrior:
    """The run's trained prior in eval mode on the run's device; refused if it belongs to other VQ-VAE weights."""
    require_vqvae(run, "a PixelCNN prior")
    folder = run.run_dir / PRIOR_DIR
    cfg_path, weights_path = folder / "config.json", folder / "model.safetensors"
    if not cfg_path.is_file() or not weights_path.is_file():
        raise VQLabError(f"run {run.run_dir} has no PixelCNN prior yet (train one with 'vqlab prior {run.run_dir}')")
    try:
        cfg = json.loads(cfg_path.read_text())
        if cfg.get("format") != PRIOR_FORMAT:
            raise VQLabError(f"{cfg_path} is not a {PRIOR_FORMAT} config")
        if cfg.get("vqvae_fingerprint") != run_fingerprint(run).hex():
            raise VQLabError(f"the prior in {folder} was trained for other VQ-VAE weights (step "
                             f"{cfg.get('vqvae_step')}); retrain it with 'vqlab prior {run.run_dir}'")
        weights = load_file(str(weights_path))
        counts = weights.pop("code_counts")
        prior = GatedPixelCNN(int(cfg["num_embeddings"]), int(cfg["dim"]), int(cfg["layers"]), int(cfg["kernel"]))
        prior.load_state_dict(weights, strict=True)
    except VQLabError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        raise VQLabError(f"cannot load the prior in {folder}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    device = next(run.model.parameters()).device
    return LoadedPrior(model=prior.to(device).eval(), code_counts=counts, config=cfg,
                       fingerprint=fingerprint(folder))


def fit_prior(run_dir: str | Path, pcfg: PriorConfig, *, progress: bool = True) -> dict[str, Any]:
    """``vqlab prior``: encode the splits (cached), train and store the prior, and compare bits/dim.

    The VQ-VAE's bits/dim with the learned prior is [-log p(x|z_q) - log p_prior(z_q)] / (dims ln 2) on the test
    split; with the uniform prior the second term is n_latents log K (:func:`vqlab.eval.bits.bits_per_dim`).
    """
    from vqlab.data import load_dataset
    from vqlab.eval.bits import bits_per_dim
    from vqlab.train.device import default_device
    from vqlab.train.run import load_run

    pcfg.validate()
    run = load_run(run_dir, default_device())
    require_vqvae(run, "a PixelCNN prior")
    d = run.config.data
    data = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
    train_codes = cached_codes(run, "train", data.train)
    test_codes = cached_codes(run, "test", data.test)
    _, metrics = train_prior(run, train_codes, test_codes, pcfg, progress=progress)
    bits = bits_per_dim(run.model, run.task, data.test, train_images=data.train, iw_samples=1)
    dims = run.task.prepare(data.test[:1])[1][0].numel()
    prior_rate = metrics["test_nll_nats"] / (data.test.shape[0] * dims * LN2)
    result = {
        "prior_steps": metrics["step"], "prior_nll_bits_per_latent": metrics["nll_bits_per_latent"],
        "uniform_bits_per_latent": metrics["uniform_bits_per_latent"],
        "recon_bits_per_dim": bits["recon_bits_per_dim"],
        "uniform_rate_bits_per_dim": bits["rate_bits_per_dim"], "prior_rate_bits_per_dim": prior_rate,
        "bits_per_dim_uniform": bits["bits_per_dim"], "bits_per_dim_prior": bits["recon_bits_per_dim"] + prior_rate,
        "bound": bits["bound"],
    }
    atomic_write_json(run.run_dir / PRIOR_DIR / "evaluation.json", result)
    return result
