#!/usr/bin/env python3
"""Pack trained runs into the models shipped inside the package (src/vqlab/shipped/NAME), or rebuild them all.

    python experiments/ship_models.py pack RUN NAME --command "vqlab train ..." --description "..."
    python experiments/ship_models.py rebuild --root ship-build     # train every shipped model from scratch,
                                                                    # pack it, compare with the shipped card

``pack`` writes NAME/config.json, one checkpoint with float16 weights (loaded into float32), the run's PixelCNN
prior if it has one (also float16, re-bound to the packed weights), and NAME/card.json with test metrics measured
on the first SUBSET test images with exactly the packed weights. Those images are written to
tests/shipped/NAME.safetensors so the test suite can check the card without the data set on the machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "src" / "vqlab" / "shipped"
SUBSETS = ROOT / "tests" / "shipped"
SUBSET = 256

# What `rebuild` trains: name -> (train arguments, prior arguments or None, description)
RECIPES = {
    "photos": (["--data", "photos"], None,
               "VQ-VAE (h=128, K=512, D=64) reconstructing 32x32 colour photo crops; any image size"),
    # The colorize study's choice (docs/colorize.md): its stage `corpus` (on the photos that photos-wide had then,
    # pinned by the study's photo list), shipped at the chroma gain its stage `calibrate` chose (the card's).
    "colorize": (["--data", "photos-wide", "--data-root", str(ROOT / "experiments" / "results" / "colorize" / "corpus"
                                                              / "corpus.json"),
                  "--task", "colorize", "--image-size", "32", "--weight-decay", "1", "--steps", "10000",
                  "--max-minutes", "120", "--eval-every", "500", "--checkpoint-every", "500"], None,
                 ("colorizer: grayscale in, colour out (keeps the input's luma, predicts YCbCr chroma scaled by a "
                  "gain chosen on whole validation photos); the colorize study's choice (docs/colorize.md), trained "
                  "on 223 photographs; any image size")),
    "fashion": (["--data", "fashion-mnist", "--steps", "6000"],
                ["--dim", "128", "--layers", "12", "--batch-size", "64", "--steps", "4000"],
                "VQ-VAE (h=128, K=512, D=64) on Fashion-MNIST with a PixelCNN prior over its 7x7 codes: sample, mix"),
}


def _half(weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()}


KEEP = ("mse", "psnr", "ssim", "perplexity", "codebook_usage", "gray_psnr", "colorfulness", "colorfulness_target")


def measure_run(run_dir: Path, images: torch.Tensor | None = None, checkpoint: str = "latest",
                chroma_scale: float | None = None) -> tuple[dict[str, float], torch.Tensor]:
    """Test metrics of a run (or packed model) on ``images``, by default the first SUBSET test images."""
    from vqlab.data import load_dataset
    from vqlab.eval.metrics import evaluate_model
    from vqlab.train.run import load_run

    run = load_run(run_dir, "cpu", checkpoint=checkpoint, chroma_scale=chroma_scale)
    if images is None:
        d = run.config.data
        images = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False).test[:SUBSET].clone()
    metrics = evaluate_model(run.model, run.task, images, batch_size=64, device=torch.device("cpu"))
    return {k: float(metrics[k]) for k in KEEP if k in metrics}, images


def pack(run_dir: Path, name: str, command: str, description: str, checkpoint: str = "latest",
         chroma_scale: float | None = None, extra: dict | None = None,
         chroma_temperature: float | None = None) -> dict:
    """Copy RUN's checkpoint ``checkpoint`` (latest or best; float16) and prior into SHIPPED/NAME and write its card.

    ``chroma_scale`` (colorizers): ship with this gain on the predicted colour (as ``--chroma-shrink`` would have
    fitted it); ``chroma_temperature`` (``--likelihood chroma-bins`` colorizers): ship with this temperature of the
    annealed mean; ``extra``: more fields for the card (e.g. whole-photo validation scores)."""
    from vqlab.train.checkpoint import find_checkpoint, fingerprint
    from vqlab.train.prior import PRIOR_DIR

    ckpt = find_checkpoint(run_dir, checkpoint)
    if chroma_temperature is not None and \
            json.loads((run_dir / "config.json").read_text())["model"].get("likelihood") != "chroma-bins":
        raise SystemExit("error: --chroma-temperature applies to --likelihood chroma-bins runs")
    dest = SHIPPED / name
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "checkpoints" / ckpt.name).mkdir(parents=True)
    shutil.copy(run_dir / "config.json", dest / "config.json")
    weights = _half(load_file(str(ckpt / "model.safetensors")))
    save_file(weights, str(dest / "checkpoints" / ckpt.name / "model.safetensors"), metadata={"format": "vqlab-checkpoint-1"})
    state = json.loads((ckpt / "state.json").read_text())
    config = json.loads((run_dir / "config.json").read_text())
    if chroma_scale is not None:
        state["chroma_scale"], config["data"]["chroma_shrink"] = float(chroma_scale), True
    if chroma_temperature is not None:
        config["model"]["chroma_temperature"] = float(chroma_temperature)
    if chroma_scale is not None or chroma_temperature is not None:
        (dest / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (dest / "checkpoints" / ckpt.name / "state.json").write_text(json.dumps(state, indent=2) + "\n")
    (dest / "checkpoints" / "latest").write_text(ckpt.name + "\n")
    prior_src = run_dir / PRIOR_DIR
    has_prior = (prior_src / "model.safetensors").is_file()
    if has_prior:
        (dest / PRIOR_DIR).mkdir()
        pw = load_file(str(prior_src / "model.safetensors"))
        counts = pw.pop("code_counts")
        save_file({**_half(pw), "code_counts": counts}, str(dest / PRIOR_DIR / "model.safetensors"),
                  metadata={"format": "vqlab-prior-1"})
        cfg = json.loads((prior_src / "config.json").read_text())
        cfg["vqvae_fingerprint"] = fingerprint(dest / "checkpoints" / ckpt.name).hex()  # the packed weights
        (dest / PRIOR_DIR / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
        if (prior_src / "evaluation.json").is_file():
            shutil.copy(prior_src / "evaluation.json", dest / PRIOR_DIR / "evaluation.json")
    metrics, images = measure_run(dest)
    SUBSETS.mkdir(parents=True, exist_ok=True)
    save_file({"images": images.contiguous()}, str(SUBSETS / f"{name}.safetensors"))
    card = {"name": name, "description": description, "task": config["data"]["task"],
            "data": config["data"]["dataset"], "step": int(ckpt.name.split("_")[1]), "command": command,
            "prior": has_prior, "weights": "float16 (loaded as float32)", "subset_images": int(images.shape[0]),
            "metrics": metrics, **(extra or {})}
    if chroma_scale is not None:
        card["chroma_scale"] = float(chroma_scale)
    if chroma_temperature is not None:
        card["chroma_temperature"] = float(chroma_temperature)
    if has_prior and (prior_src / "evaluation.json").is_file():
        card["prior_evaluation"] = json.loads((prior_src / "evaluation.json").read_text())
    (dest / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
    print(f"packed {run_dir} as {name}: {size / 1e6:.1f} MB; {metrics}")
    return card


def whole_photo_card(measured: Path, variant: str) -> dict:
    """The card's ``whole_photos`` section from a colorize study measurement (RUN/photos.json of
    experiments/colorize_study.py): one variant's gain over gray per photo, its means and its colourfulness."""
    blob = json.loads(measured.read_text())
    if variant not in blob.get("variants", {}):
        raise SystemExit(f"error: {measured} has no variant {variant!r} (it has: {', '.join(blob.get('variants', {}))})")
    photos = blob["variants"][variant]["photos"]
    val = [p for p in photos if p["split"] == "val"]
    test = [p for p in photos if p["split"] == "test"]
    worst = min(photos, key=lambda p: p["gain"])
    return {"whole_photos": {
        "source": "experiments/colorize_study.py (docs/colorize.md)",
        "checkpoint": f"best (step {blob['best']['step']}, chosen on validation PSNR)",
        "variant": variant,
        "validation_photos": len(val), "test_photos": len(test),
        "validation_mean_gain_db": round(sum(p["gain"] for p in val) / len(val), 3),
        "test_mean_gain_db": round(sum(p["gain"] for p in test) / len(test), 3) if test else None,
        "worst_photo": {"photo": worst["photo"], "gain_db": round(worst["gain"], 3)},
        "colourfulness_share": round(sum(p["colorfulness"] for p in val) / sum(p["colorfulness_target"] for p in val), 3),
        "colourfulness_share_of": "the validation photos",
        "gain_db_per_photo": {p["photo"]: round(p["gain"], 3) for p in photos}}}


def rebuild(root: Path, replace: bool) -> int:
    """Train every recipe from scratch into ROOT/NAME (resumable) and compare it with the shipped card on the same
    test images; with ``replace`` pack it over the shipped model."""
    for name, (train_args, prior_args, description) in RECIPES.items():
        run = root / name
        resume = ["--resume"] if (run / "config.json").is_file() else []
        subprocess.run([sys.executable, "-m", "vqlab", "train", "--out", str(run), *train_args, *resume,
                        "--no-progress"], check=True)
        if prior_args and not (run / "prior" / "model.safetensors").is_file():
            subprocess.run([sys.executable, "-m", "vqlab", "prior", str(run), *prior_args, "--no-progress"],
                           check=True)
        card = json.loads((SHIPPED / name / "card.json").read_text())
        images = load_file(str(SUBSETS / f"{name}.safetensors"))["images"]
        checkpoint = "best" if (run / "checkpoints" / "best").is_file() else "latest"  # chosen on validation
        scale = card.get("chroma_scale")  # a colorizer is compared (and packed) at the shipped chroma gain
        rebuilt, _ = measure_run(run, images, checkpoint, scale)
        for key, value in card["metrics"].items():
            print(f"{name:>9} {key:>20}: shipped {value:.4g}  rebuilt {rebuilt.get(key, float('nan')):.4g}")
        if replace:
            pack(run, name, card["command"], description, checkpoint, scale)
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("pack")
    a.add_argument("run", type=Path)
    a.add_argument("name")
    a.add_argument("--command", default=None, help="the command that trained RUN (default: the recipe's)")
    a.add_argument("--description", default=None)
    a.add_argument("--checkpoint", choices=("latest", "best"), default="latest",
                   help="which checkpoint to ship (best: chosen on the validation split)")
    a.add_argument("--chroma-scale", type=float, default=None, help="colorizers: ship with this chroma gain")
    a.add_argument("--chroma-temperature", type=float, default=None,
                   help="chroma-bins colorizers: ship with this temperature of the annealed mean")
    a.add_argument("--card-extra", type=Path, default=None, help="JSON file of more fields for the card")
    a.add_argument("--whole-photos", type=Path, default=None,
                   help="colorizers: the colorize study's RUN/photos.json, summarised on the card")
    a.add_argument("--variant", default="shrink", help="with --whole-photos: the measured variant shipped (shrink)")
    b = sub.add_parser("rebuild")
    b.add_argument("--root", type=Path, default=Path("ship-build"))
    b.add_argument("--replace", action="store_true", help="pack the rebuilt models over the shipped ones")
    args = p.parse_args(argv)
    if args.cmd == "pack":
        train_args, prior_args, description = RECIPES.get(args.name, ([], None, ""))
        command = args.command or ("vqlab train --out RUN " + " ".join(train_args)
                                   + (f" && vqlab prior RUN {' '.join(prior_args)}" if prior_args else ""))
        extra = json.loads(args.card_extra.read_text()) if args.card_extra else {}
        if args.whole_photos:
            extra.update(whole_photo_card(args.whole_photos, args.variant))
        pack(args.run, args.name, command, args.description or description, args.checkpoint, args.chroma_scale,
             extra, args.chroma_temperature)
        return 0
    return rebuild(args.root, args.replace)


if __name__ == "__main__":
    sys.exit(main())
