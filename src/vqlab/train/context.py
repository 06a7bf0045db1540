"""The wavefront context model of the codec (:mod:`vqlab.models.context`), trained on a run's codes and stored in
the run directory.

Layout::

    RUN/context/config.json          architecture, training options, the VQ-VAE fingerprint and step it belongs to
    RUN/context/model.safetensors    the model's weights and ``code_counts`` (K,), the training codes' histogram
    RUN/context/metrics.jsonl        training rows and the final test row
    RUN/context/maps_<step>_<fp>_<key>_{train,test}.npz   the encoded code maps (cache)

Training data: the code maps of the **whole** training photographs for ``photos`` and ``photos-wide`` (each at
``max_side`` and half of it), since the codec codes whole pictures and a crop's small map is mostly border;
for other datasets the code maps of the training split. The test row is measured the same way on the test
split. Like the prior, the model is tied to the exact VQ-VAE weights by their fingerprint.
"""

from __future__ import annotations

import hashlib
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

from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write, atomic_write_json
from vqlab.models.context import WavefrontContextModel, all_contexts
from vqlab.train.checkpoint import fingerprint
from vqlab.train.fit import fit_steps
from vqlab.train.prior import require_vqvae
from vqlab.train.run import LoadedRun, run_fingerprint

CONTEXT_DIR = "context"
CONTEXT_FORMAT = "vqlab-context-1"
LN2 = math.log(2.0)
MAX_POSITIONS = 4_000_000  # training positions kept (evenly spaced) when the maps hold more


@dataclass
class ContextConfig:
    """Context model size and training options (``vqlab context-model`` flags)."""

    radius: int = 2
    embed_dim: int = 32
    hidden: int = 256
    layers: int = 2
    dropout: float = 0.3
    steps: int = 3000
    batch_size: int = 1024
    lr: float = 2e-3
    seed: int = 0
    max_side: int = 768
    log_every: int = 100
    max_minutes: float | None = None

    def validate(self) -> ContextConfig:
        for name in ("radius", "embed_dim", "hidden", "layers", "steps", "batch_size", "log_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise VQLabError(f"--{name.replace('_', '-')} must be an integer >= 1")
        if self.radius > 8:
            raise VQLabError("--radius must be at most 8")
        if self.max_side < 16:
            raise VQLabError("--max-side must be at least 16")
        if not self.lr > 0:
            raise VQLabError("--lr must be > 0")
        if not 0.0 <= self.dropout < 1.0:
            raise VQLabError("--dropout must be in [0, 1)")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise VQLabError("--max-minutes must be > 0")
        return self


@dataclass
class LoadedContext:
    """A trained context model (eval mode), its training code histogram, its config and its own fingerprint."""

    model: WavefrontContextModel
    code_counts: torch.Tensor
    config: dict[str, Any]
    fingerprint: bytes


def _encode_photos(run: LoadedRun, names: list[str], max_side: int) -> list[np.ndarray]:
    from vqlab.compression import image_codes
    from vqlab.data.whole import load_whole_photo, shrink

    maps = []
    for name in names:
        image = load_whole_photo(run.config.data.dataset, name, max_side)
        maps.append(image_codes(run, image))
        maps.append(image_codes(run, shrink(image, max(image.shape[:2]) // 2)))
    return maps


def code_maps(run: LoadedRun, split: str, max_side: int) -> list[np.ndarray]:
    """The code maps the context model trains (``train``) or is measured (``test``) on, cached (see module notes)."""
    from vqlab.data.whole import WHOLE_PHOTO_DATASETS, photo_names

    d = run.config.data
    names = photo_names(d.dataset, split) if d.dataset in WHOLE_PHOTO_DATASETS else None
    key = hashlib.sha256(json.dumps([d.dataset, d.image_size, names, max_side]).encode()).hexdigest()[:8]
    folder = run.run_dir / CONTEXT_DIR
    path = folder / f"maps_{run.step:08d}_{run_fingerprint(run).hex()[:12]}_{key}_{split}.npz"
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                flat, shapes = z["flat"].astype(np.int64), z["shapes"].astype(np.int64)
            ends = np.cumsum(shapes.prod(axis=1))
            if len(shapes) and ends[-1] == flat.size:
                return [m.reshape(s) for m, s in zip(np.split(flat, ends[:-1]), shapes)]
        except (OSError, ValueError, KeyError):
            pass
    if names is not None:
        maps = _encode_photos(run, names, max_side)
    else:
        from vqlab.data import load_dataset
        from vqlab.train.prior import cached_codes

        data = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
        maps = list(cached_codes(run, split, getattr(data, split)))
    if not maps:
        raise VQLabError(f"no {split} images to train the context model of {run.run_dir} on")
    for stale in folder.glob(f"maps_*_{split}.npz"):
        stale.unlink(missing_ok=True)
    flat = np.concatenate([m.reshape(-1) for m in maps]).astype(np.int32)
    shapes = np.array([m.shape for m in maps], dtype=np.int64)
    atomic_write(path, lambda p: p.write_bytes(_npz_bytes(flat=flat, shapes=shapes)))
    return maps


def _npz_bytes(**arrays: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def training_pairs(maps: list[np.ndarray], model: WavefrontContextModel,
                   limit: int = MAX_POSITIONS) -> tuple[torch.Tensor, torch.Tensor]:
    """(contexts (N, n) int64, targets (N,) int64) of every position of ``maps`` (evenly thinned to ``limit``)."""
    offsets, outside = model.offsets_array(), model.outside
    ctx = np.concatenate([all_contexts(m, offsets, outside) for m in maps])
    tgt = np.concatenate([m.reshape(-1) for m in maps]).astype(np.int64)
    if len(tgt) > limit:
        keep = np.linspace(0, len(tgt) - 1, limit).round().astype(np.int64)
        ctx, tgt = ctx[keep], tgt[keep]
    return torch.from_numpy(ctx), torch.from_numpy(tgt)


@torch.no_grad()
def context_nll(model: WavefrontContextModel, contexts: torch.Tensor, targets: torch.Tensor,
                batch_size: int = 8192) -> float:
    """Total NLL in nats of ``targets`` given ``contexts`` (float32, eval mode)."""
    model.eval()
    total = 0.0
    for s in range(0, len(targets), batch_size):
        logits = model(contexts[s:s + batch_size]).logits.float()
        total += torch.nn.functional.cross_entropy(logits, targets[s:s + batch_size], reduction="sum").item()
    return total


def train_context(run: LoadedRun, train_maps: list[np.ndarray], test_maps: list[np.ndarray], ccfg: ContextConfig,
                  *, progress: bool = True) -> dict[str, Any]:
    """Train the context model on ``train_maps``, store it in ``RUN/context``, return its metrics."""
    ccfg.validate()
    k = require_vqvae(run, "a context model").num_codes
    torch.manual_seed(ccfg.seed)
    model = WavefrontContextModel(k, ccfg.radius, ccfg.embed_dim, ccfg.hidden, ccfg.layers, ccfg.dropout)
    x, y = training_pairs(train_maps, model)
    tx, ty = training_pairs(test_maps, model)
    opt = torch.optim.Adam(model.parameters(), lr=ccfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / ccfg.steps)))
    gen = torch.Generator().manual_seed(ccfg.seed)
    folder = run.run_dir / CONTEXT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    metrics_path = folder / "metrics.jsonl"

    def step_loss() -> torch.Tensor:
        idx = torch.randint(0, len(y), (ccfg.batch_size,), generator=gen)
        return model(x[idx], y[idx]).loss

    model.train()
    step, start = fit_steps(step_loss, opt, steps=ccfg.steps, log_every=ccfg.log_every,
                            max_minutes=ccfg.max_minutes, metrics_path=metrics_path,
                            metric="nll_bits_per_code", desc="context model", progress=progress,
                            after_step=sched.step)
    model.eval()
    counts = torch.from_numpy(np.bincount(y.numpy(), minlength=k)).long()
    freq = (counts.double() + 1) / (counts.double() + 1).sum()
    result = {"split": "test", "step": step, "wall_time": round(time.perf_counter() - start, 3),
              "nll_bits_per_code": context_nll(model, tx, ty) / max(len(ty), 1) / LN2,
              "freq_bits_per_code": float(-freq[ty].log2().mean()) if len(ty) else math.nan,
              "uniform_bits_per_code": math.log2(k), "test_codes": len(ty), "train_codes": len(y),
              "test_maps": len(test_maps), "train_maps": len(train_maps)}
    with open(metrics_path, "a") as f:
        f.write(json.dumps(result) + "\n")
    weights = {n: v.detach().cpu().contiguous() for n, v in model.state_dict().items()}
    weights["code_counts"] = counts
    atomic_write(folder / "model.safetensors",
                 lambda p: save_file(weights, str(p), metadata={"format": CONTEXT_FORMAT}))
    atomic_write_json(folder / "config.json", {
        "format": CONTEXT_FORMAT, "vqvae_fingerprint": run_fingerprint(run).hex(), "vqvae_step": run.step,
        "num_embeddings": k, "downsample": int(run.model.downsample), "trained_steps": step,
        "test_bits_per_code": result["nll_bits_per_code"], **asdict(ccfg),
    })
    return result


def load_context(run: LoadedRun) -> LoadedContext:
    """The run's trained context model in eval mode on the CPU; refused if it belongs to other VQ-VAE weights."""
    folder = run.run_dir / CONTEXT_DIR
    cfg_path, weights_path = folder / "config.json", folder / "model.safetensors"
    if not cfg_path.is_file() or not weights_path.is_file():
        raise VQLabError(f"run {run.run_dir} has no context model yet (train one with 'vqlab context-model "
                         f"{run.run_dir}')")
    try:
        cfg = json.loads(cfg_path.read_text())
        if not isinstance(cfg, dict) or cfg.get("format") != CONTEXT_FORMAT:
            raise VQLabError(f"{cfg_path} is not a {CONTEXT_FORMAT} config")
        if cfg.get("vqvae_fingerprint") != run_fingerprint(run).hex():
            raise VQLabError(f"the context model in {folder} was trained for other VQ-VAE weights (step "
                             f"{cfg.get('vqvae_step')}); retrain it with 'vqlab context-model {run.run_dir}'")
        weights = load_file(str(weights_path))
        counts = weights.pop("code_counts")
        model = WavefrontContextModel(int(cfg["num_embeddings"]), int(cfg["radius"]), int(cfg["embed_dim"]),
                                      int(cfg["hidden"]), int(cfg["layers"]))
        model.load_state_dict(weights, strict=True)
    except VQLabError:
        raise
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, SafetensorError) as exc:
        raise VQLabError(f"cannot load the context model in {folder}: "
                         f"{str(exc).splitlines()[0] if str(exc) else exc}") from None
    return LoadedContext(model.eval(), counts, cfg, fingerprint(folder))


def fit_context(run_dir: str | Path, ccfg: ContextConfig, *, progress: bool = True) -> dict[str, Any]:
    """``vqlab context-model``: encode the training and test pictures (cached), train and store the model."""
    from vqlab.train.device import default_device
    from vqlab.train.run import load_run

    ccfg.validate()
    run = load_run(run_dir, default_device())
    require_vqvae(run, "a context model")
    if run.model.num_codebooks != 1:
        raise VQLabError("the context model codes one code map per image; this run has several (residual VQ)")
    train_maps = code_maps(run, "train", ccfg.max_side)
    test_maps = code_maps(run, "test", ccfg.max_side)
    return train_context(run, train_maps, test_maps, ccfg, progress=progress)
