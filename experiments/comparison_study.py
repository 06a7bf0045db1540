#!/usr/bin/env python3
"""The comparison study of section 4.1 of the VQ-VAE paper: VQ-VAE vs Gaussian VAE vs VIMCO in bits/dim, on
photos-wide (32x32 colour) and Fashion-MNIST; with --page it rewrites the study's section of docs/comparison.md.

Why photos-wide and not photos: on `photos` (8 training photographs) the 256-way softmax decoder overfits within
its budget. A 45-minute VQ-VAE there (2067 steps) reached 4.9 bits/dim of reconstruction NLL on its training
batches but 8.28 on the test photos, above the 8 bits/dim of a uniform decoder, and its test bits/dim rose from
8.28 at 75% of the budget to 8.46 at the end. photos-wide (with GCompris: 223 training photographs, 316,698 crops)
has the same three test photos and is more than ten times as varied; a budget here covers less than one epoch.

For each dataset (ROOT/DATASET; run the script again to continue where it stopped, finished steps are skipped):

  1. ``vqlab train`` three runs with the same encoder/decoder (h=128, 2 residual blocks, K=512 codes or classes,
     D=64) and the paper's 256-way softmax decoder (``--likelihood softmax256``), each within a budget of
     training wall time (``--max-minutes``; the cosine schedule anneals over it; --steps is set out of reach).
     VIMCO uses --vimco-samples samples per image (10 by default: the paper's 50 cost 50 decoder passes per
     image and step, unaffordable here). Every checkpoint is kept while training (checkpoints every few steps).
  2. The plateau check: the test negative ELBO in bits/dim (one sample, ``vqlab compare --iw-samples 1``) of
     the final checkpoint and of the checkpoint nearest 75% of the training time; a run is at a plateau when
     the last quarter improved it by less than PLATEAU_BITS. The intermediate checkpoints are then removed.
  3. ``vqlab evaluate --iw-samples K`` of the final checkpoint (cached in the run's evaluation.json); with all
     three models evaluated, their table (what ``vqlab compare --markdown --iw-samples K`` prints) goes to
     ROOT/DATASET/compare.md: bits/dim with the bound each number is, PSNR, wall time.

Each run is a unit of its own: once evaluated, its small files (config, evaluations, the commands that made it,
the machine) go to the run archive (--archive, default experiments/results/comparison/, committed with the page).
A later session on a machine that kept no run folders restores them and trains only what the archive lacks, so
the study can be spread over sessions; --models splits one session's runs over processes (one core each).

The toy mode (--toy) runs one dataset (--toy-data) with tiny models for a few steps, for the integration test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_common import LOG_FILE, Study, read_log, replace_between, run_state, train

from vqlab.train.device import cpu_model

MODELS = ("vqvae", "vae", "vimco")
NAMES = {"vqvae": "VQ-VAE", "vae": "Gaussian VAE", "vimco": "VIMCO"}
PAPER = {"vae": 4.51, "vqvae": 4.67, "vimco": 5.14}  # CIFAR-10, bits/dim (van den Oord et al. 2017, 4.1)
DATASETS = {"photos-wide": ("photos-wide", "photos-wide (32x32 colour crops)"),
            "fashion": ("fashion-mnist", "Fashion-MNIST")}
MODEL_FLAGS = ["--likelihood", "softmax256", "--hidden", "128", "-K", "512", "-D", "64"]
UNREACHABLE_STEPS = 10_000_000
# Steps between checkpoints, per dataset and model (about 30-60 per run at the default budget on one core);
# test evaluations (MSE, PSNR and a sample grid, inside the training time) every tenth checkpoint.
CHECKPOINT_EVERY = {"photos-wide": {"vqvae": 100, "vae": 100, "vimco": 10},
                    "fashion": {"vqvae": 500, "vae": 500, "vimco": 25}}
ARCHIVE = Path(__file__).resolve().parent / "results" / "comparison"
# The files of a finished run that the archive keeps (no weights), relative to the run's or the view's folder.
RUN_FILES = ("config.json", "evaluation.json", "machine.txt")
VIEW_FILES = ("config.json", "evaluation.json")
PLATEAU_BITS = 0.02
PLATEAU_AT = 0.75
KEEP_ALL = "keep_all_checkpoints.yaml"
BEGIN, END = "<!-- comparison-study:begin -->", "<!-- comparison-study:end -->"
RULE = (f"A run counts as *at a plateau* when its test negative ELBO (bits/dim, one posterior sample, "
        f"`vqlab compare --iw-samples 1`) at the end of training is less than {PLATEAU_BITS} bits/dim better than "
        f"at the checkpoint nearest {PLATEAU_AT:.0%} of its training time, i.e. the last quarter of the budget "
        "(in which the cosine schedule anneals the learning rate from 15% of its peak to 0) gained less than that; "
        f"a rise of more than {PLATEAU_BITS} bits/dim is reported as overfitting, not as a plateau.")


def train_flags(args: argparse.Namespace, dataset: str, model: str) -> list[str]:
    if args.toy:
        return ["--model", model, "--data", args.toy_data, "--preset", "tiny", "--likelihood", "softmax256",
                "--image-size", "8", "--batch-size", "8", "--steps", "12", "--max-minutes", "5",
                "--checkpoint-every", "4", "--eval-every", "12",
                "--config", KEEP_ALL, *(["--vimco-samples", "2"] if model == "vimco" else [])]
    every = CHECKPOINT_EVERY[dataset][model]
    minutes = args.minutes if model != "vimco" or args.vimco_minutes is None else args.vimco_minutes
    return ["--model", model, "--data", DATASETS[dataset][0], *MODEL_FLAGS, "--steps", str(UNREACHABLE_STEPS),
            "--max-minutes", f"{minutes:g}", "--checkpoint-every", str(every), "--eval-every", str(10 * every),
            "--config", KEEP_ALL, *(["--vimco-samples", str(args.vimco_samples)] if model == "vimco" else [])]


def checkpoints(run_dir: Path) -> list[tuple[int, float, Path]]:
    """(step, training wall time, folder) of every complete checkpoint of a run, by step."""
    from vqlab.train.checkpoint import read_state

    out = []
    for folder in sorted((run_dir / "checkpoints").glob("step_*")):
        if (folder / "state.json").is_file():
            state = read_state(folder)
            out.append((state["step"], float(state.get("wall_time", math.nan)), folder))
    return out


def make_view(run_dir: Path, ckpt: Path, view: Path) -> None:
    """A run folder holding only one checkpoint's weights (what ``vqlab evaluate`` needs), made atomically."""
    if view.is_dir():
        return
    tmp = view.with_name(view.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "checkpoints" / ckpt.name).mkdir(parents=True)
    shutil.copy2(run_dir / "config.json", tmp / "config.json")
    for name in ("model.safetensors", "state.json"):
        shutil.copy2(ckpt / name, tmp / "checkpoints" / ckpt.name / name)
    (tmp / "checkpoints" / "latest").write_text(ckpt.name + "\n")
    tmp.rename(view)


def plateau_views(study: Study, dataset: str, model: str) -> list[str]:
    """Views of the checkpoint nearest PLATEAU_AT of the training time and of the final one (relative paths);
    then the run's other checkpoints are removed (the views keep copies of the two)."""
    run_dir = study.root / dataset / model
    views = study.root / dataset / "plateau"
    ckpts = checkpoints(run_dir)
    existing = sorted(views.glob(f"{model}-step*"), key=lambda p: int(p.name.rsplit("step", 1)[1]))
    if len(existing) != 2:
        final = ckpts[-1]
        middle = min(ckpts[:-1] or ckpts, key=lambda c: abs(c[1] - PLATEAU_AT * final[1]))
        existing = []
        for step, _, folder in dict.fromkeys((middle, final)):
            existing.append(views / f"{model}-step{step}")
            make_view(run_dir, folder, existing[-1])
    for _, _, folder in ckpts[:-1]:
        shutil.rmtree(folder, ignore_errors=True)
    return [study.rel(p) for p in existing]


def evaluated(folder: Path, iw_samples: int | None = None) -> bool:
    """True when FOLDER/evaluation.json holds bits/dim (made with ``iw_samples`` samples of the bounds, if given)."""
    try:
        blob = json.loads((folder / "evaluation.json").read_text())
    except (OSError, json.JSONDecodeError):
        return False
    return "bits_per_dim" in blob.get("metrics", {}) and iw_samples in (None, blob.get("key", {}).get("iw_samples"))


def run_finished(root: Path, dataset: str, model: str, iw_samples: int) -> bool:
    """True when a run is trained, its plateau check evaluated and its final checkpoint evaluated with
    ``iw_samples`` samples (here or in an archive, which has the same layout without weights)."""
    views = list((root / dataset / "plateau").glob(f"{model}-step*"))
    return (evaluated(root / dataset / model, iw_samples) and len(views) in (1, 2)
            and all(evaluated(v) for v in views))


def _copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    shutil.copy2(src, tmp)
    tmp.replace(dst)


def run_tags(dataset: str, model: str) -> set[str]:
    """The log tags of the commands that make one run (training, plateau check, evaluation)."""
    return {f"{dataset}:{step}:{model}" for step in ("train", "plateau", "eval")}


def archive_run(root: Path, archive: Path, dataset: str, model: str) -> None:
    """Copy a finished run's small files and its logged commands into the archive (replacing its older record)."""
    machine = root / dataset / model / "machine.txt"
    if not machine.is_file():
        machine.write_text(cpu_model() + "\n")
    for name in RUN_FILES:
        _copy(root / dataset / model / name, archive / dataset / model / name)
    for old in (archive / dataset / "plateau").glob(f"{model}-step*"):
        shutil.rmtree(old)
    for view in (root / dataset / "plateau").glob(f"{model}-step*"):
        for name in VIEW_FILES:
            _copy(view / name, archive / dataset / "plateau" / view.name / name)
    tags = run_tags(dataset, model)
    kept = [r for r in read_log(archive) if r.get("tag") not in tags]
    kept += [r for r in read_log(root) if r.get("tag") in tags]
    tmp = archive / (LOG_FILE + ".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
    tmp.replace(archive / LOG_FILE)


def restore_run(root: Path, archive: Path, dataset: str, model: str) -> None:
    """Put an archived run's files (no weights) and its logged commands into ROOT, as if it had run here."""
    for name in RUN_FILES:
        _copy(archive / dataset / model / name, root / dataset / model / name)
    for view in (archive / dataset / "plateau").glob(f"{model}-step*"):
        for name in VIEW_FILES:
            _copy(view / name, root / dataset / "plateau" / view.name / name)
    lines = [r for r in read_log(archive) if r.get("tag") in run_tags(dataset, model)]
    with open(root / LOG_FILE, "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in lines)


def run_model(study: Study, dataset: str, model: str, args: argparse.Namespace, archive: Path) -> None:
    """Train one run, check its plateau, evaluate it and archive it; restore it instead when it has no folder
    here and the archive has it finished (with the same number of samples of the bounds)."""
    root, run = study.root, f"{dataset}/{model}"
    if run_finished(root, dataset, model, args.iw_samples):
        print(f"{run}: finished, skipped", flush=True)
    elif run_state(root / run) == "new" and run_finished(archive, dataset, model, args.iw_samples):
        restore_run(root, archive, dataset, model)
        print(f"{run}: restored from {archive}", flush=True)
        return
    else:
        train(study, run, train_flags(args, dataset, model), tag=f"{dataset}:train:{model}")
        views = plateau_views(study, dataset, model)
        if not all(evaluated(root / v) for v in views):
            study.vqlab("compare", "--iw-samples", 1, *views, tag=f"{dataset}:plateau:{model}", capture=True)
        study.vqlab("evaluate", run, "--iw-samples", args.iw_samples, "--json", tag=f"{dataset}:eval:{model}",
                    capture=True)
    archive_run(root, archive, dataset, model)


def write_table(root: Path, dataset: str, iw_samples: int) -> bool:
    """ROOT/DATASET/compare.md from the three runs' evaluations (the table that ``vqlab compare --markdown``
    prints for them) once all three are finished; True when it is written."""
    from vqlab.experiments.compare import format_markdown

    if not all(run_finished(root, dataset, m, iw_samples) for m in MODELS):
        return False
    results = [{**_eval(root / dataset / m), "name": m} for m in MODELS]
    (root / dataset / "compare.md").write_text(format_markdown(results))
    return True


# ----------------------------------------------------------------------------------------------- the page


def _eval(folder: Path) -> dict[str, Any]:
    path = folder / "evaluation.json"
    return json.loads(path.read_text())["metrics"] if path.is_file() else {}


def neg_elbo(metrics: dict[str, Any]) -> float:
    """The negative ELBO in bits/dim: ``elbo_bits_per_dim`` where the bound is a multi-sample one, else the
    bound itself (the VQ-VAE's bound is its negative ELBO)."""
    return float(metrics.get("elbo_bits_per_dim", metrics.get("bits_per_dim", math.nan)))


def plateau_rows(root: Path, dataset: str) -> list[dict[str, Any]]:
    rows = []
    for model in MODELS:
        views = sorted((root / dataset / "plateau").glob(f"{model}-step*"),
                       key=lambda p: int(p.name.rsplit("step", 1)[1]))
        if len(views) != 2:
            continue
        (a, b) = (_eval(v) for v in views)
        if not a or not b:
            continue
        gain = neg_elbo(a) - neg_elbo(b)
        rows.append({"model": model, "step_a": a["step"], "wall_a": a["wall_time"], "step_b": b["step"],
                     "wall_b": b["wall_time"], "a": neg_elbo(a), "b": neg_elbo(b), "gain": gain,
                     "plateau": -PLATEAU_BITS <= gain < PLATEAU_BITS, "rising": gain < -PLATEAU_BITS})
    return rows


def ordering(results: dict[str, float]) -> str:
    """The verdict on the paper's ordering VAE < VQ-VAE < VIMCO for bits/dim values by model."""
    if any(not math.isfinite(results.get(m, math.nan)) for m in MODELS):
        return "not all three models are evaluated yet"
    order = sorted(MODELS, key=lambda m: results[m])
    shown = " < ".join(f"{NAMES[m]} {results[m]:.3f}" for m in order)
    gap1, gap2 = results["vqvae"] - results["vae"], results["vimco"] - results["vqvae"]
    holds = order == ["vae", "vqvae", "vimco"]
    paper1, paper2 = PAPER["vqvae"] - PAPER["vae"], PAPER["vimco"] - PAPER["vqvae"]
    return (f"{shown}. The paper's ordering (VAE < VQ-VAE < VIMCO) **{'holds' if holds else 'does not hold'}**: "
            f"VQ-VAE − VAE = {gap1:+.3f} bits/dim (paper {paper1:+.2f}), VIMCO − VQ-VAE = {gap2:+.3f} "
            f"(paper {paper2:+.2f})")


def dataset_section(root: Path, dataset: str, args_summary: dict[str, Any]) -> tuple[list[str], dict[str, float]]:
    title = DATASETS.get(dataset, (dataset, dataset))[1]
    out = [f"### {title}", ""]
    folder = root / dataset
    if not folder.is_dir():
        return out + ["Not run yet.", ""], {}
    log = [r for r in read_log(root) if r.get("tag", "").startswith(f"{dataset}:")]
    commands = {}
    for r in log:
        commands.setdefault(r["tag"], r)  # the first attempt shows the command as given
    shown = [commands[t]["command"] for step in ("train", "eval") for t in (f"{dataset}:{step}:{m}" for m in MODELS)
             if t in commands]
    if shown:
        out += ["```bash", *shown, "```", ""]
    note = args_summary.get("notes", {}).get(dataset)
    if note:
        out += [note, ""]
    iw = args_summary.get("iw_samples")
    found = {m: (folder / m / "machine.txt").read_text().strip() for m in MODELS if (folder / m / "machine.txt").is_file()}
    if len(set(found.values())) > 1:
        out += [("**The runs of this table were trained on different machines** ("
                 + "; ".join(f"{NAMES[m]}: {c}" for m, c in found.items())
                 + "): their budgets are equal in wall time, not in compute, so read the steps column with them."), ""]
    unfinished = [m for m in MODELS if not (iw and run_finished(root, dataset, m, iw))]
    if unfinished:
        out += [f"Still training, not evaluated or not started: {', '.join(NAMES[m] for m in unfinished)}.", ""]
    table = folder / "compare.md"
    results: dict[str, float] = {}
    elbos: dict[str, float] = {}
    if table.is_file():
        eval_s = sum(r["seconds"] for r in log if r["tag"].startswith(f"{dataset}:eval:"))
        out += [(f"The three evaluations (`vqlab evaluate --iw-samples {iw or '?'}`, {eval_s / 60:.0f} min in all) as "
                 f"`vqlab compare --markdown --iw-samples {iw or '?'} vqvae vae vimco` prints them:"), "",
                table.read_text().strip(), ""]
        for m in MODELS:
            metrics = _eval(folder / m)
            results[m] = float(metrics.get("bits_per_dim", math.nan))
            elbos[m] = neg_elbo(metrics)
        out += [f"- **Ordering by the bits/dim column** (each model's tightest bound): {ordering(results)}.",
                (f"- By the negative ELBO of every model (the VQ-VAE's bound is one; VAE and VIMCO: the "
                f"`elbo bits/dim` column): {ordering(elbos)}."), ""]
    rows = plateau_rows(root, dataset)
    if rows:
        out += ["Plateau check (test negative ELBO in bits/dim, one sample):", "",
                ("| model | at ~75% of the time: step (min) | bits/dim | at the end: step (min) | bits/dim | "
                f"gain in the last quarter | plateau (< {PLATEAU_BITS}) |"), "|---|---|---|---|---|---|---|"]
        for r in rows:
            verdict = "yes" if r["plateau"] else "**no: test NLL rose (overfitting)**" if r["rising"] else "**no**"
            out.append(f"| {NAMES[r['model']]} | {r['step_a']} ({r['wall_a'] / 60:.1f}) | {r['a']:.4f} | "
                       f"{r['step_b']} ({r['wall_b'] / 60:.1f}) | {r['b']:.4f} | {r['gain']:+.4f} | {verdict} |")
        out.append("")
        rising = [NAMES[r["model"]] for r in rows if r["rising"]]
        if rising:
            out += [(f"Test NLL rising at the end of the budget: {', '.join(rising)}; the model overfits its training "
                     "data, so its row is not a plateau but the start of a decline."), ""]
        not_flat = [NAMES[r["model"]] for r in rows if not r["plateau"] and not r["rising"]]
        if not_flat:
            out += [(f"Not at a plateau within the budget: {', '.join(not_flat)}; its bits/dim would still fall with "
                    "a longer budget, so its row is an upper bound of what this architecture reaches."), ""]
    return out, results


def budgets(root: Path, datasets: list[str], model: str) -> str:
    """The --max-minutes of a model's runs, from their configs ("60 min", or a list when they differ)."""
    from vqlab.train.run import read_config

    found = sorted({read_config(root / d / model)[0].train.max_minutes for d in datasets
                    if (root / d / model / "config.json").is_file()}, key=str)
    return " / ".join(f"{m:g} min" if m is not None else "no limit" for m in found) or "?"


def machines(root: Path, datasets: list[str]) -> str:
    """The machines the runs were trained on (their machine.txt, written when they were archived), else this one."""
    found = [(root / d / m / "machine.txt").read_text().strip() for d in datasets for m in MODELS
             if (root / d / m / "machine.txt").is_file()]
    return " / ".join(dict.fromkeys(found)) or cpu_model()


def study_section(root: Path) -> str:
    settings_file = root / "settings.json"
    settings = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    datasets = settings.get("datasets", list(DATASETS))
    lines = ["## The study: the paper's table on photos-wide and Fashion-MNIST", "",
             (f"Generated by `python experiments/comparison_study.py --page --root {root}` from the runs that "
              f"`python experiments/comparison_study.py --root {root}` trained (resumable: run it again to continue; "
              "the commands below ran from that folder). "
              f"Machine: {machines(root, datasets)}; one thread per process (`OMP_NUM_THREADS=1`), "
              "`--precision auto`."), ""]
    if settings.get("toy"):
        lines += ["**Toy run** (tiny models, a few steps): the numbers say nothing about the models.", ""]
    else:
        lines += [("Every model has the same encoder and decoder (h = 128, 2 residual blocks, an 8×8 latent grid for "
                   "32×32 photo crops and 7×7 for 28×28 Fashion-MNIST), K = 512 codes (VQ-VAE) or classes per latent "
                   "(VIMCO) with D = 64, and the paper's 256-way softmax decoder (`--likelihood softmax256`); the "
                   "VAE has 64 continuous latent channels. Batch 32, Adam 1e-3 with the cosine schedule. "
                   f"**Budget: {budgets(root, datasets, 'vqvae')} of training wall time per VQ-VAE and VAE run, "
                   f"{budgets(root, datasets, 'vimco')} per VIMCO run** (`--max-minutes`; the cosine schedule "
                   "anneals over it, and the test evaluations during training count against it). "
                   f"VIMCO uses **{settings.get('vimco_samples', '?')} samples** per image, not the paper's 50: "
                   "each sample is a decoder pass, so 50 would cost five times as much again per step. The VAE's "
                   f"and VIMCO's bounds use k = {settings.get('iw_samples', '?')} samples."), ""]
    lines += [f"How the plateau is checked: {RULE}", "",
              ("Why photos-wide and not `photos`: on `photos` (8 training photographs) the 256-way softmax decoder "
               "overfits within the budget. A 45-minute VQ-VAE there (2067 steps, on this study's first attempt) "
               "reached 4.9 bits/dim of reconstruction NLL on its training batches but 8.28 on the test photos, above "
               "the 8 bits/dim of a uniform decoder, and its test bits/dim rose from 8.28 at 75% of the budget to 8.46 "
               "at the end. photos-wide has the same three test photos, 223 training photographs (with GCompris) and "
               "316,698 training crops, more than a budget's worth of batches."), ""]
    summary: dict[str, dict[str, float]] = {}
    body: list[str] = []
    for dataset in datasets:
        section, results = dataset_section(root, dataset, settings)
        body += section
        summary[dataset] = results
    head = ["| model | CIFAR-10, paper | " + " | ".join(DATASETS.get(d, (d, d))[1] for d in datasets) + " |",
            "|---|---|" + "---|" * len(datasets)]
    for m in ("vae", "vqvae", "vimco"):
        cells = [f"{summary[d][m]:.3f}" if math.isfinite(summary[d].get(m, math.nan)) else "–" for d in datasets]
        head.append(f"| {NAMES[m]} | {PAPER[m]:.2f} | " + " | ".join(cells) + " |")
    lines += ["Test bits/dim (each model's bound as `vqlab compare` names it; lower is better):", "", *head, "",
              *body]
    log = read_log(root)
    if log:
        lines += ["Every command with its wall time:", "", "| command | wall time (min) |", "|---|---|"]
        lines += [f"| `{r['command']}` | {r['seconds'] / 60:.1f} |" for r in log]
        lines.append("")
    return "\n".join(lines)


def write_page(root: Path, page: Path) -> Path:
    section = study_section(root)
    text = page.read_text() if page.is_file() else ""
    new = replace_between(text, BEGIN, END, section)
    if new is None:
        new = (text.rstrip("\n") + "\n\n" if text else "# Comparing VQ-VAE, VAE and VIMCO (bits/dim)\n\n") + \
            f"{BEGIN}\n{section}\n{END}\n"
    page.write_text(new)
    return page


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies/comparison"), help="the study's folder")
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma list of: " + ", ".join(DATASETS))
    p.add_argument("--minutes", type=float, default=60.0, help="training budget per run in minutes (60)")
    p.add_argument("--vimco-minutes", type=float, default=None, help="VIMCO's budget (default: --minutes)")
    p.add_argument("--vimco-samples", type=int, default=10, help="VIMCO samples per image (10)")
    p.add_argument("--iw-samples", type=int, default=100, help="samples of the VAE and VIMCO bounds (100)")
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma list of the models to train here (default: all three); run a second process with "
                        "the others to use two cores")
    p.add_argument("--archive", type=Path, default=None,
                   help="run archive (experiments/results/comparison; ROOT/archive with --toy)")
    p.add_argument("--toy", action="store_true", help="tiny models, few steps (integration test)")
    p.add_argument("--toy-data", default="photos", help="the one dataset in --toy mode")
    p.add_argument("--note", default=None,
                   help="a sentence on how this dataset's runs were trained (e.g. at the same time on shared cores); "
                        "kept in ROOT/settings.json and shown under the dataset's heading")
    p.add_argument("--page", action="store_true", help="only rewrite the study's section of the page")
    p.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    p.add_argument("--output", type=Path, default=None, help="page to write (default: DOCS/comparison.md)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if args.page:
        print(f"wrote {write_page(args.root, args.output or args.docs / 'comparison.md')}")
        return 0
    args.vimco_minutes = args.minutes if args.vimco_minutes is None else args.vimco_minutes
    datasets = ["toy"] if args.toy else args.datasets.split(",")
    for dataset in datasets:
        if dataset not in DATASETS and not args.toy:
            p.error(f"unknown dataset {dataset!r}")
    if args.toy and args.toy_data.startswith("folder:"):
        args.toy_data = "folder:" + str(Path(args.toy_data[len("folder:"):]).resolve())
    models = args.models.split(",")
    if not models or any(m not in MODELS for m in models):
        p.error(f"--models takes a comma list of: {', '.join(MODELS)}")
    study = Study(args.root)
    archive = (args.archive or (study.root / "archive" if args.toy else ARCHIVE)).resolve()
    (study.root / KEEP_ALL).write_text("train:\n  keep_checkpoints: 1000000\n")
    if args.toy:
        args.iw_samples = 2
    settings_file = study.root / "settings.json"
    old = json.loads(settings_file.read_text()) if settings_file.is_file() else {}
    known = [d for d in (*old.get("datasets", []), *datasets)]
    notes = dict(old.get("notes", {}))
    if args.note:
        notes.update({d: args.note for d in datasets})
    settings = {"datasets": list(dict.fromkeys(known)), "minutes": args.minutes,
                "vimco_minutes": args.vimco_minutes, "vimco_samples": args.vimco_samples,
                "iw_samples": args.iw_samples, "toy": args.toy, "notes": notes}
    settings_file.write_text(json.dumps(settings, indent=2) + "\n")
    for dataset in datasets:
        for model in models:
            run_model(study, dataset, model, args, archive)
        if write_table(study.root, dataset, args.iw_samples):
            print(f"{dataset}: table in {study.root / dataset / 'compare.md'}", flush=True)
        else:
            print(f"{dataset}: the table waits for the runs not finished yet", flush=True)
    print(f"done; write the page with: python {sys.argv[0]} --page --root {args.root}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
