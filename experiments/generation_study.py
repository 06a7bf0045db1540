#!/usr/bin/env python3
"""The generation study: PixelCNN priors over VQ-VAE codes, samples, mixes and interpolations; with --page it
writes docs/generation.md (and copies its figures to docs/figures/generation/) from the study's folders.

Parts (each in ROOT/PART; run the script again to continue where it stopped, finished steps are skipped):

  fashion   Fashion-MNIST: a VQ-VAE (default model, h=128, K=512, D=64, --steps; or a finished run given by
            --vqvae-run, copied), a PixelCNN prior over its 7x7 code maps (``vqlab prior``), 64 samples at
            temperature 1.0 and 0.7 (``vqlab sample``), top-bottom mixes of test garments of different classes
            (labels from the idx label file) and code-space interpolations (``vqlab mix``)
  photos    the same on the offline ``photos`` data (32x32 colour crops); mixes and interpolations of the
            held-out test photographs astronaut, coffee and flower

The prior's budget: a gated PixelCNN of 12 layers x 128 channels, 4000 steps of 64 code maps on Fashion-MNIST
(about 4 epochs) and 3000 on photos (its 22,631 crops: about 8 epochs; more would fit the eight training photos
ever closer), each capped at 40 minutes. On the development machine one step of that size took 1.05 s with the
two cores shared by other jobs, so about 0.4-0.5 s on one free core: 25-30 minutes per prior.

Every step is a ``vqlab`` command run from ROOT and logged with its wall time in ROOT/commands.jsonl. The toy
mode (--toy) runs both parts with the tiny preset on the folder dataset --toy-data, for the integration test.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_common import Study, checkpoint_facts, read_log, run_state, train

from vqlab.train.device import cpu_model

FM_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
              "Ankle boot")
# (class giving the top half, class giving the bottom half), and interpolation (from, to), by class index.
FM_MIXES = ((0, 1), (4, 3), (9, 7), (8, 5))
FM_INTERPOLATIONS = ((7, 9), (0, 3))
PHOTO_MIXES = (("astronaut", "coffee"), ("flower", "astronaut"))
PHOTO_INTERPOLATIONS = (("astronaut", "flower"),)
TEMPERATURES = (1.0, 0.7)
SAMPLES = 64
PHOTO_MIX_SIZE = 128  # whole test photographs, centre square, resized: a 32x32 code grid
PARTS = {"fashion": "Fashion-MNIST", "photos": "photos (32x32 colour crops)"}
IDX1_MAGIC = 0x00000801


def read_idx_labels(path: Path) -> np.ndarray:
    """Labels (N,) uint8 of an idx1-ubyte file (gzipped when its name ends in .gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: truncated idx1 header")
    magic, n = np.frombuffer(blob[:8], dtype=">u4").tolist()
    if magic != IDX1_MAGIC or len(blob) != 8 + n:
        raise ValueError(f"{path}: not an idx1-ubyte label file of {n} labels")
    return np.frombuffer(blob[8:], dtype=np.uint8).copy()


def fashion_test_labels() -> np.ndarray:
    """Fashion-MNIST's test labels from the folder vqlab reads its images from."""
    from vqlab.data.mnist import default_root

    folder = default_root("fashion-mnist")
    for name in ("t10k-labels-idx1-ubyte", "t10k-labels-idx1-ubyte.gz"):
        if (folder / name).is_file():
            return read_idx_labels(folder / name)
    raise SystemExit(f"no t10k-labels-idx1-ubyte[.gz] in {folder}")


def first_of_each_class(labels: np.ndarray) -> dict[int, int]:
    """Class -> index of its first test image."""
    return {int(c): int(np.argmax(labels == c)) for c in np.unique(labels)}


def save_image(path: Path, chw: np.ndarray) -> None:
    """Write a uint8 (C, H, W) image (C = 1 or 3) as PNG."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    arr = chw[0] if chw.shape[0] == 1 else chw.transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(arr)).save(path)


def photo_square(name: str, size: int) -> np.ndarray:
    """A shipped test photograph's centre square resized to ``size`` (LANCZOS), uint8 (3, size, size)."""
    from PIL import Image

    from vqlab.data.photos import load_photo

    image = load_photo(name)
    h, w = image.shape[:2]
    s = min(h, w)
    square = image[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.LANCZOS)).transpose(2, 0, 1)


def choose_images(study: Study, part: str, toy_data: str | None) -> dict[str, Any]:
    """Write the images the mixes and interpolations use into ROOT/PART/images (once); return the plan:
    ``mixes`` and ``interpolations`` as lists of (A file, B file, caption), relative to the root. In toy mode the
    fashion part takes the first two test images of the toy data, and each part makes one mix and one
    interpolation."""
    folder = study.root / part / "images"
    rel = f"{part}/images"
    plan: dict[str, Any] = {"mixes": [], "interpolations": []}
    if part == "fashion":
        from vqlab.data import load_dataset

        test = load_dataset(toy_data or "fashion-mnist").test.numpy()
        if toy_data is not None:  # a folder dataset has no labels
            names = {i: f"test image {i}" for i in (0, 1)}
            index, mixes, interps = {0: 0, 1: 1}, ((0, 1),), ((0, 1),)
        else:
            labels = fashion_test_labels()
            if labels.shape[0] != test.shape[0]:
                raise SystemExit(f"{labels.shape[0]} test labels for {test.shape[0]} test images")
            index = first_of_each_class(labels)
            names = {c: FM_CLASSES[c] for c in index}
            mixes, interps = FM_MIXES, FM_INTERPOLATIONS
        files = {}
        for c in sorted({c for pair in (*mixes, *interps) for c in pair}):
            files[c] = f"{names[c].lower().replace('/', '-').replace(' ', '-')}_test{index[c]}.png"
            if not (folder / files[c]).is_file():
                save_image(folder / files[c], test[index[c]])
        for a, b in mixes:
            plan["mixes"].append((f"{rel}/{files[a]}", f"{rel}/{files[b]}",
                                  f"top of {names[a]} (test #{index[a]}) + bottom of {names[b]} (test #{index[b]})"))
        for a, b in interps:
            plan["interpolations"].append((f"{rel}/{files[a]}", f"{rel}/{files[b]}",
                                           f"{names[a]} (test #{index[a]}) → {names[b]} (test #{index[b]})"))
        return plan
    mixes = PHOTO_MIXES[:1] if toy_data is not None else PHOTO_MIXES
    interps = PHOTO_INTERPOLATIONS[:1] if toy_data is not None else PHOTO_INTERPOLATIONS
    for name in sorted({n for pair in (*mixes, *interps) for n in pair}):
        if not (folder / f"{name}_32.png").is_file():
            big = photo_square(name, PHOTO_MIX_SIZE)
            save_image(folder / f"{name}_{PHOTO_MIX_SIZE}.png", big)
            c = (PHOTO_MIX_SIZE - 32) // 2
            save_image(folder / f"{name}_32.png", big[:, c:c + 32, c:c + 32])
    for a, b in mixes:
        plan["mixes"].append((f"{rel}/{a}_{PHOTO_MIX_SIZE}.png", f"{rel}/{b}_{PHOTO_MIX_SIZE}.png",
                              (f"top of {a} + bottom of {b} ({PHOTO_MIX_SIZE}x{PHOTO_MIX_SIZE}: the centre square of "
                              "the whole photograph, resized)")))
    for a, b in interps:
        plan["interpolations"].append((f"{rel}/{a}_32.png", f"{rel}/{b}_32.png",
                                       (f"{a} → {b} (32x32: the centre of the {PHOTO_MIX_SIZE}x{PHOTO_MIX_SIZE} "
                                       "version, a crop at one of the training crops' scales)")))
    return plan


def copy_run(src: Path, dest: Path) -> None:
    """Copy a finished run (config, metrics, sample grids, newest checkpoint) into ``dest``."""
    from vqlab.train.checkpoint import latest_checkpoint

    if run_state(src) != "done":
        raise SystemExit(f"--vqvae-run {src} is not a finished run (still training, or not a run)")
    ckpt = latest_checkpoint(src)
    tmp = dest.with_name(dest.name + ".copying")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "checkpoints").mkdir(parents=True)
    for name in ("config.json", "metrics.jsonl", "train.log"):
        if (src / name).is_file():
            shutil.copy2(src / name, tmp / name)
    if (src / "samples").is_dir():
        shutil.copytree(src / "samples", tmp / "samples")
    shutil.copytree(ckpt, tmp / "checkpoints" / ckpt.name)
    (tmp / "checkpoints" / "latest").write_text(ckpt.name + "\n")
    (tmp / "copied_from.txt").write_text(f"{src.resolve()}\n")
    tmp.rename(dest)


def fresh(output: Path, *inputs: Path) -> bool:
    """Whether ``output`` exists and is newer than every input."""
    return output.is_file() and all(output.stat().st_mtime >= p.stat().st_mtime for p in inputs)


def train_flags(args: argparse.Namespace, part: str) -> list[str]:
    """``vqlab train`` flags of a part's VQ-VAE (the default model)."""
    if args.toy:
        return ["--preset", "tiny", "--data", args.toy_data, "--steps", "40"]
    data = "fashion-mnist" if part == "fashion" else "photos"
    return ["--data", data, "--steps", str(args.steps), "--eval-every", "500", "--checkpoint-every", "500"]


def prior_flags(args: argparse.Namespace, part: str) -> list[str]:
    """``vqlab prior`` flags of a part's PixelCNN (see the module docstring for the budget)."""
    if args.toy:
        size = ["--dim", "16", "--layers", "2", "--batch-size", "16", "--steps", "20"]
    else:
        steps = args.prior_steps if part == "fashion" else args.photos_prior_steps
        size = ["--dim", str(args.prior_dim), "--layers", str(args.prior_layers), "--batch-size", "64",
                "--steps", str(steps), "--max-minutes", f"{args.prior_minutes:g}"]
    return [*size, "--seed", "0", "--json", "--no-progress"]


def run_part(study: Study, part: str, args: argparse.Namespace) -> None:
    from vqlab.train.checkpoint import latest_checkpoint

    vq = f"{part}/vqvae"
    source = args.vqvae_run if part == "fashion" else args.photos_vqvae_run
    if source is not None and run_state(study.root / vq) == "new":
        copy_run(source, study.root / vq)
        print(f"{vq}: copied from {source}", flush=True)
    elif source is None:
        train(study, vq, train_flags(args, part), tag=f"{part}:train")
    weights = latest_checkpoint(study.root / vq) / "model.safetensors"
    step = checkpoint_facts(study.root / vq)["step"]

    prior_json = study.root / part / "prior.json"
    done = json.loads(prior_json.read_text()) if prior_json.is_file() else {}
    prior_weights = study.root / vq / "prior" / "model.safetensors"
    if done.get("vqvae_step") == step and prior_weights.is_file():
        print(f"{part}: prior finished, skipped", flush=True)
    else:
        out = study.vqlab("prior", vq, *prior_flags(args, part), capture=True, tag=f"{part}:prior")
        result = json.loads(out.strip().splitlines()[-1])
        prior_json.write_text(json.dumps({**result, "vqvae_step": step}, indent=2) + "\n")

    figures = study.root / part / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for t in TEMPERATURES:
        out = figures / f"samples_t{t}.png"
        if fresh(out, prior_weights):
            continue
        study.vqlab("sample", vq, "-n", SAMPLES, "--seed", 0, "--temperature", t, "-o", study.rel(out),
                    tag=f"{part}:sample")
    plan = choose_images(study, part, args.toy_data if args.toy else None)
    (study.root / part / "plan.json").write_text(json.dumps(plan, indent=2) + "\n")
    for mode, key in (("top-bottom", "mixes"), ("interpolate", "interpolations")):
        for a, b, _ in plan[key]:
            out = figures / f"{'mix' if key == 'mixes' else 'interpolate'}_{Path(a).stem}_{Path(b).stem}.png"
            if fresh(out, weights):
                continue
            extra = ["--steps", "8"] if mode == "interpolate" else []
            study.vqlab("mix", vq, a, b, "--mode", mode, *extra, "-o", study.rel(out), tag=f"{part}:{mode}")


# ----------------------------------------------------------------------------------------------- the page


def _minutes(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds / 60:.1f} min"


def _copy_figure(src: Path, figures: Path, part: str, docs: Path) -> str | None:
    if not src.is_file():
        return None
    dest = figures / part / src.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dest)
    return dest.relative_to(docs).as_posix()


def part_section(root: Path, part: str, figures: Path, docs: Path) -> list[str]:
    from vqlab.train.run import read_config

    vq = root / part / "vqvae"
    out = [f"## {PARTS[part]}", ""]
    if not (vq / "config.json").is_file():
        return out + ["Not run yet.", ""]
    cfg, _ = read_config(vq)
    facts = checkpoint_facts(vq)
    log = [r for r in read_log(root) if r.get("tag", "").startswith(f"{part}:")]
    train_cmd = next((r["command"] for r in log if r["tag"] == f"{part}:train"), None)
    m = cfg.model
    psnr = facts["test"].get("psnr")
    out.append(f"**VQ-VAE**: h={m.hidden}, K={m.num_embeddings}, D={m.embedding_dim}, likelihood {m.likelihood}, "
               f"{facts['step']} steps of batch {cfg.train.batch_size} ({_minutes(facts['wall_time'])} of training); "
               + (f"test PSNR {psnr:.2f} dB." if psnr is not None else "no test evaluation yet."))
    if (vq / "copied_from.txt").is_file():
        out.append(f"Copied from the finished run `{(vq / 'copied_from.txt').read_text().strip()}` "
                   f"(data {cfg.data.dataset}, {cfg.train.steps} steps, lr {cfg.train.lr}, {cfg.train.lr_schedule}).")
    elif train_cmd:
        out += ["", "```bash", train_cmd, "```"]
    out.append("")
    prior_json = root / part / "prior.json"
    if not prior_json.is_file():
        return out + ["The prior is not trained yet.", ""]
    r = json.loads(prior_json.read_text())
    pcfg = json.loads((vq / "prior" / "config.json").read_text()) if (vq / "prior" / "config.json").is_file() else {}
    prior_rows = [json.loads(x) for x in (vq / "prior" / "metrics.jsonl").read_text().splitlines()] \
        if (vq / "prior" / "metrics.jsonl").is_file() else []
    prior_wall = next((x["wall_time"] for x in reversed(prior_rows) if x.get("split") == "test"), None)
    prior_cmd = next((x["command"] for x in reversed(log) if x["tag"] == f"{part}:prior"), None)
    out.append(f"**PixelCNN prior** (gated, {pcfg.get('layers')} layers of {pcfg.get('dim')} channels, kernel "
               f"{pcfg.get('kernel')}; {r['prior_steps']} steps of batch {pcfg.get('batch_size')}, "
               f"{_minutes(prior_wall)} including the test evaluation):")
    if prior_cmd:
        out += ["", "```bash", prior_cmd, "```"]
    out += ["", "Test split (`vqlab prior` prints these; also in `prior/evaluation.json`):", "",
            "| prior over the codes | NLL (bits/latent) | rate (bits/dim) | total bits/dim (recon + rate) |",
            "|---|---|---|---|",
            (f"| uniform over K={m.num_embeddings}: log2 K | {r['uniform_bits_per_latent']:.3f} | "
            f"{r['uniform_rate_bits_per_dim']:.4f} | {r['bits_per_dim_uniform']:.4f} |"),
            (f"| PixelCNN | **{r['prior_nll_bits_per_latent']:.3f}** | {r['prior_rate_bits_per_dim']:.4f} | "
            f"{r['bits_per_dim_prior']:.4f} |"), "",
            (f"The prior codes a test latent in {r['prior_nll_bits_per_latent']:.2f} bits instead of "
            f"{r['uniform_bits_per_latent']:.2f} "
            f"({100 * (1 - r['prior_nll_bits_per_latent'] / r['uniform_bits_per_latent']):.0f}% fewer). The "
            f"reconstruction term ({r['recon_bits_per_dim']:.4f} bits/dim) is the same for both; its bound: "
            f"{r['bound']}."), ""]
    for t in TEMPERATURES:
        link = _copy_figure(root / part / "figures" / f"samples_t{t}.png", figures, part, docs)
        if link:
            out += [(f"{SAMPLES} samples at temperature {t} (`vqlab sample ... -n {SAMPLES} --seed 0 "
                    f"--temperature {t}`):"), "", f"![samples, temperature {t}]({link})", ""]
    plan_file = root / part / "plan.json"
    plan = json.loads(plan_file.read_text()) if plan_file.is_file() else {"mixes": [], "interpolations": []}
    if plan["mixes"]:
        out += [("Top-bottom mixes (`vqlab mix RUN A B --mode top-bottom`): the first row is A | mix | B, the second "
                "the reconstructions of A and B around the mask (white: the code comes from A)."), ""]
    for key, prefix in (("mixes", "mix"), ("interpolations", "interpolate")):
        if key == "interpolations" and plan[key]:
            out += [("Interpolations (`vqlab mix RUN A B --mode interpolate --steps 8`: the encoder outputs of A and B "
                    "mixed linearly before quantization, each step quantized to the nearest codes and decoded; the "
                    "row is A, 8 steps with both ends, B):"), ""]
        for a, b, caption in plan[key]:
            link = _copy_figure(root / part / "figures" / f"{prefix}_{Path(a).stem}_{Path(b).stem}.png",
                                figures, part, docs)
            if link:
                out += [f"- {caption}:", "", f"  ![{caption}]({link})", ""]
    return out


def part_markers(part: str) -> tuple[str, str]:
    return f"<!-- generation:{part}:begin -->", f"<!-- generation:{part}:end -->"


def commands_section(root: Path, part: str) -> list[str]:
    """The part's logged commands with their wall times, and the machine they ran on."""
    log = [r for r in read_log(root) if r.get("tag", "").split(":")[0] == part]
    if not log:
        return []
    out = [(f"Commands of this part, in order, with their wall times (run from the study's root on {cpu_model()}, one "
            "thread per process, `OMP_NUM_THREADS=1`, `--precision auto`; the machine may have run other work "
            "beside them; a resumed step appears once per attempt):"), "", "| command | wall time (s) |", "|---|---|"]
    out += [f"| `{r['command']}` | {r['seconds']:.0f} |" for r in log]
    return out + [""]


def write_page(root: Path, docs: Path, output: Path | None) -> Path:
    """Write the page. A part with no folder under ROOT keeps its section of the existing page (a part finished on
    another machine, whose folders are gone, stays on the page with its figures); else it says "Not run yet"."""
    figures = docs / "figures" / "generation"
    out = output or docs / "generation.md"
    old = out.read_text() if out.is_file() else ""
    page = ["# Generation: PixelCNN priors, samples, mixes and interpolations", "",
            (f"Generated by `python experiments/generation_study.py --page --root {root}` from the folders that "
             f"`python experiments/generation_study.py --root {root}` made (resumable: run it again to continue; "
             "a part whose folder is not there keeps its section from the page as it was). Every command below "
             "ran from the study's root folder, so its paths are relative to it."), "",
            ("A VQ-VAE turns an image into a map of code indices (28x28 Fashion-MNIST: 7x7 codes, 32x32 photos: "
            "8x8). `vqlab prior` trains a gated PixelCNN over the training split's code maps and reports its "
            "negative log-likelihood on the test split's code maps; the uniform prior over K codes needs log2 K "
            "bits per latent. `vqlab sample` draws code maps from the PixelCNN and decodes them; `vqlab mix` "
            "splices or interpolates the codes of two images."), ""]
    for part in PARTS:
        begin, end = part_markers(part)
        kept = None
        if not (root / part / "vqvae" / "config.json").is_file() and begin in old and end in old:
            kept = old[old.index(begin) + len(begin):old.index(end)].strip("\n")
        body = kept if kept else "\n".join(part_section(root, part, figures, docs) + commands_section(root, part))
        page += [begin, body.rstrip("\n"), end, ""]
    out.write_text("\n".join(page).rstrip("\n") + "\n")
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies/generation"), help="the study's folder")
    p.add_argument("--parts", default=",".join(PARTS), help="comma list of: " + ", ".join(PARTS))
    p.add_argument("--steps", type=int, default=6000, help="VQ-VAE training steps (6000)")
    p.add_argument("--vqvae-run", type=Path, default=None, help="a finished Fashion-MNIST VQ-VAE run to copy and use")
    p.add_argument("--photos-vqvae-run", type=Path, default=None, help="a finished photos VQ-VAE run to copy and use")
    p.add_argument("--prior-steps", type=int, default=4000, help="PixelCNN steps on Fashion-MNIST codes (4000)")
    p.add_argument("--photos-prior-steps", type=int, default=3000, help="PixelCNN steps on photos codes (3000)")
    p.add_argument("--prior-dim", type=int, default=128, help="PixelCNN channels (128)")
    p.add_argument("--prior-layers", type=int, default=12, help="PixelCNN gated layers (12)")
    p.add_argument("--prior-minutes", type=float, default=40.0, help="also stop a prior after this long (40)")
    p.add_argument("--toy", action="store_true", help="tiny models, few steps (integration test)")
    p.add_argument("--toy-data", default="photos", help="dataset of both parts in --toy mode")
    p.add_argument("--page", action="store_true", help="only write the page from what is finished")
    p.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    p.add_argument("--output", type=Path, default=None, help="page to write (default: DOCS/generation.md)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.page:
        print(f"wrote {write_page(args.root, args.docs, args.output)}")
        return 0
    for name in ("vqvae_run", "photos_vqvae_run"):
        if getattr(args, name) is not None:
            setattr(args, name, getattr(args, name).resolve())
    if args.toy and args.toy_data.startswith("folder:"):
        args.toy_data = "folder:" + str(Path(args.toy_data[len("folder:"):]).resolve())
    study = Study(args.root)
    for part in args.parts.split(","):
        if part not in PARTS:
            p.error(f"unknown part {part!r}")
        run_part(study, part, args)
    print(f"done; write the page with: python {sys.argv[0]} --page --root {args.root}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
