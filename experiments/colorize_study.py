#!/usr/bin/env python3
"""The colorization study (issue "A colorizer that helps on photos it has never seen"): trains colorizers on
photos-wide, one change at a time against a baseline, and measures each on whole photographs; then writes
docs/colorize.md (experiments/colorize_page.py). Resumable: run it again and it continues where it stopped.

Stages, in order:

  choices   one `vqlab sweep --vary` (ROOT/choices): the baseline, the default colorize recipe on photos-wide
            (h=128, K=512, D=64, batch 32, Adam 1e-3 cosine, 3000 steps, ycbcr, 32x32 crops, 4x4 downsampling),
            and each of AXES changed alone: --hflip, --random-crop 0.5, --weight-decay 0.1 and 1, --hidden 64 and
            256, --steps 10000, --downsample 8 (a receptive field twice as wide), --image-size 64 (crops with
            four times the context, from the photos at twice the resolution)
  seeds     the baseline again with seeds 1..N-1 (ROOT/seeds): the run-to-run spread the rules compare against
  heads     colour as classification (--likelihood chroma-bins: a categorical over chroma bins shown as the
            annealed mean, Zhang et al. 2016) on the baseline recipe and on the shipped one (--weight-decay 1),
            one sweep (ROOT/heads); measured like the others, and at several temperatures of the annealed mean
  confirm   the chosen recipe's run trained again with seed 1 (ROOT/confirm/SLUG, SLUG naming its changes), measured
            like the others: the page reports the chosen variant on both seeds (one seed's lead may be luck); a
            recipe of the corpus stage trains on that stage's photos (--data-root ROOT/corpus/corpus.json, a
            photo list: the corpus as it was, whatever has been installed since)
  corpus    the shipped recipe (--weight-decay 1) with each likelihood (mse, chroma-bins) at 3000 and 10000 steps,
            trained on photos-wide as installed now (ROOT/corpus; ROOT/corpus/corpus.json records the photos and
            crops it had). When it ran (2026-12-01) that was photos-wide with the GCompris photographs: the training
            crops grew from 88,978 (46 photographs) to 316,698 (223) and the validation photos from 13 to 59
            (every run is measured on the 59 + 3 photos pinned in the archive); the test photos stay the same
  corpus2   the corpus stage again, at 10000 steps, with seeds 0 and 1 (ROOT/corpus2; its corpus.json records the
            data), on photos-wide with the nine survey packages too (docs/data.md; 334 training photographs when
            it ran, 2026-12-01): the measured variant's seed-1 run is its confirmation, so the page's rule (two
            seeds before a recipe is shipped) is met within the stage. The pinned 59 validation photos are still
            validation photos there (a source's validation photos keep their split as the corpus grows)
  measure   every finished run's best checkpoint (chosen on the validation crops' PSNR during training) on whole
            photographs: the validation photos shrunk to VAL_SIDE px on the longer side and the test photos
            (astronaut, coffee, flower) at full size, each colorized with vqlab.load(run, checkpoint="best"),
            as trained and with chroma shrinkage (the gain fitted on the validation crops at that step);
            cached in RUN/photos.json
  combined  one run (ROOT/combined) with every change that helped by the HELPS rule, with --chroma-shrink when
            shrinkage helped the baseline; none when nothing helped
  calibrate the chosen recipe's chroma gain chosen on the whole validation photos (ROOT/calibration.json, archived):
            the gain fitted on the validation crops during training weighs textured crops only (near-flat crops are
            left out of the corpus), where colour pays; on whole photos, flat gray backgrounds take a colour cast
            too. For each of the recipe's seeds the best checkpoint colorizes every photo once at gain 1, then
            each gain of GAIN_GRID scales that colour (clipping aside); the gain with the highest validation mean
            gain averaged over the seeds is chosen and measured exactly (vqlab.load(..., chroma_scale=s), cached
            in RUN/photo-gain.json, the form experiments/ship_models.py pack --whole-photos reads)
  page      docs/colorize.md and docs/figures/colorize/ (experiments/colorize_page.py)

The rules (printed on the page): a change *helps* when its mean gain over the gray baseline on the validation
photos exceeds the baseline's (mean over its seeds) by more than HELP_DB and by more than twice the baseline's
seed standard deviation; of several values of one option the best that helps is taken. The *chosen recipe* is
the measured variant (each run but the extra baseline seeds, as trained and with chroma shrinkage) with the
highest validation mean gain. The test photos choose nothing.

Cost, estimated from a 200-step run of the baseline here (one thread, the 2-core machine shared with other
jobs: 50 training steps in about 3.5 s, one evaluation (validation gain fit and scores, test scores) about 20 s):
a 3000-step h=128 run about 6 min, so about 1.5-2 CPU-hours in all: the five h=128 choices and two extra seeds
(about 45 min), h=64 (3 min), h=256 (about 20 min), 10000 steps (about 20 min), the combined run (5-20 min) and
the measurement (a few seconds per run). On a busier machine the wall time grows accordingly; --max-minutes caps
each run (the cosine rate then anneals over the budget).

Every measured run is recorded in the run archive (--archive, default experiments/results/colorize/STAGE/runs.jsonl,
committed with the page: its config, its facts (steps, wall time, best step) and its whole-photo measurement, no
weights). A later session on a machine that kept no run folders restores them into ROOT/STAGE/archived/ and trains
only what the archive lacks (each sweep runs with --skip-archived); an archived run is shown as measured then, and
counted as missing if today's photo sets differ from the ones it was measured on (it cannot be measured again).

--toy runs every stage at toy size on --toy-data (a folder:PATH with train/, val/ and test/ subfolders), for the
integration test.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vqlab.fileio import atomic_write_json, atomic_write_text

RECIPE = ["--data", "photos-wide", "--task", "colorize", "--eval-every", "500", "--checkpoint-every", "500",
          "--log-every", "50"]
# Given in a config file, not as a flag: a flag's single value would be overridden by the axis's list, and with
# --vary the other axes sit at the config's value, so the baseline (32) is shared with the image-size axis.
RECIPE_CONFIG = {"data": {"image_size": 32}}
# Option (sweep flag) -> values; the first is the baseline's (the default), the others are tried one at a time.
AXES = {"hflip": ["false", "true"], "random-crop": ["1", "0.5"], "weight-decay": ["0", "0.1", "1"],
        "hidden": ["128", "64", "256"], "steps": ["3000", "10000"], "downsample": ["4", "8"],
        "image-size": ["32", "64"]}
TOY_CONFIG = {"model": {"hidden": 16, "num_embeddings": 32, "embedding_dim": 8},
              "train": {"steps": 8, "batch_size": 8, "precision": "fp32", "eval_every": 4, "checkpoint_every": 4,
                        "log_every": 2}}
TOY_AXES = {"hflip": ["false", "true"], "random-crop": ["1", "0.5"], "hidden": ["16", "8"]}
# The heads stage: chroma-bins on the baseline recipe (weight decay 0) and on the shipped one (1).
HEADS_WEIGHT_DECAY = "0,1"
# The corpus stage: the shipped recipe's weight decay, both likelihoods, two budgets (more data may use more steps).
CORPUS_FLAGS = ["--weight-decay", "1", "--likelihood", "mse,chroma-bins", "--steps", "3000,10000"]
CORPUS_PREFIX = "corpus: "
# The corpus2 stage: the corpus stage's 10000-step runs on the bigger corpus, two seeds each.
CORPUS2_FLAGS = ["--weight-decay", "1", "--likelihood", "mse,chroma-bins", "--steps", "10000", "--seed", "0,1"]
CORPUS2_PREFIX = "corpus2: "
TOY_CORPUS2_FLAGS = ["--weight-decay", "1", "--likelihood", "mse", "--seed", "0,1"]
TOY_CORPUS_FLAGS = ["--weight-decay", "1", "--likelihood", "mse,chroma-bins"]
HELP_DB = 0.1
VAL_SIDE = 512
GOALS = {"val_mean_gain": 0.5, "worst_gain": -0.5, "colour_ratio": 0.6, "test_mean_gain": 2.0}
MEASURE_VERSION = 1
# Temperatures of the annealed mean measured for chroma-bins runs besides their own (0.38): 1 is the mean.
TEMPERATURES = (1.0, 0.6, 0.2)
# (config section, field) of each axis, to tell which option a run changed.
FIELDS = {"hflip": ("data", "hflip"), "random-crop": ("data", "random_crop"),
          "weight-decay": ("train", "weight_decay"), "hidden": ("model", "hidden"), "steps": ("train", "steps"),
          "downsample": ("model", "downsample"), "image-size": ("data", "image_size")}


def log(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)


ARCHIVE = Path(__file__).resolve().parent / "results" / "colorize"
ARCHIVE_FILE = "runs.jsonl"
ARCHIVED_DIR = "archived"  # ROOT/STAGE/archived/NAME: a run restored from the archive (no weights)
FACTS_FILE = "facts.json"
PIN_FILE = "measure-photos.json"  # ARCHIVE/PIN_FILE: the photos every run is measured on (see photo_sets)
STAGE_FILES = ("sweep.json", "command.txt", "corpus.json")  # a stage's plan, command and data, archived with it
COMBINED_PLAN = "combined-plan.json"
CALIBRATION = "calibration.json"  # ROOT/ and ARCHIVE/: the calibrate stage's result
GAIN_GRID = tuple(i / 20 for i in range(21))  # chroma gains tried by the calibrate stage: 0, 0.05, ..., 1


def sweep(out: Path, args: list[str], archive: Path | None = None) -> None:
    """``vqlab sweep --out OUT ARGS`` in a subprocess; records the command in OUT/command.txt. With ``archive``
    (the study's archive root), the runs it records for this stage are restored into OUT/archived/ and not
    trained again."""
    cmd = [sys.executable, "-m", "vqlab", "sweep", "--out", str(out), "--no-figures", *args]
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "command.txt", "OMP_NUM_THREADS=1 vqlab " + " ".join(cmd[3:]) + "\n")
    skip = []
    if archive is not None:
        stage_archive = archive / stage_name(out)
        restore_stage(out, stage_archive)
        skip = ["--skip-archived", str(stage_archive / ARCHIVE_FILE)]
    log(" ".join(["vqlab", *cmd[3:]]))
    subprocess.run([*cmd, *skip], check=True)


def pin_file(args: argparse.Namespace) -> Path | None:
    """Where the study pins its measurement photos: in its archive (None without one)."""
    archive = getattr(args, "archive", None)
    return archive / PIN_FILE if archive is not None else None


def stage_name(sweep_dir: Path) -> str:
    """The stage a sweep folder belongs to, as a relative path: ``choices``, ``corpus``, ``confirm/SLUG``."""
    return f"confirm/{sweep_dir.name}" if sweep_dir.parent.name == "confirm" else sweep_dir.name


# ---- the run archive ---------------------------------------------------------------------------------------


def run_facts(run_dir: Path) -> dict[str, Any]:
    """Steps done and planned, training wall time (min) and best step of a run (an archived run: as recorded)."""
    from vqlab.train.checkpoint import find_checkpoint, read_state
    from vqlab.train.run import read_config

    if (run_dir / FACTS_FILE).is_file() and not (run_dir / "checkpoints").is_dir():
        return json.loads((run_dir / FACTS_FILE).read_text())
    cfg, _ = read_config(run_dir)
    latest = read_state(find_checkpoint(run_dir, "latest"))
    best = read_state(find_checkpoint(run_dir, "best"))
    return {"steps": latest["step"], "planned": cfg.train.steps, "wall_min": latest.get("wall_time", math.nan) / 60,
            "best_step": best["step"]}


def is_archived(run_dir: Path) -> bool:
    """True for a run restored from the archive (its facts and measurement, no weights)."""
    return run_dir.parent.name == ARCHIVED_DIR


def archive_stage(sweep_dir: Path, archive: Path, measured: dict[str, dict[str, Any]]) -> None:
    """Record the stage's measured runs (trained here) in ARCHIVE/STAGE/runs.jsonl (replacing older records of
    the same runs) and its command; ``measured`` maps run folders to their measurement (photos.json)."""
    from vqlab.experiments.sweep import read_archive

    mine = {str(d): m for d, m in measured.items() if Path(d).parent == sweep_dir / "runs"}
    if not mine:
        return
    stage_archive = archive / stage_name(sweep_dir)
    stage_archive.mkdir(parents=True, exist_ok=True)
    records = {r["name"]: r for r in read_archive(stage_archive / ARCHIVE_FILE)}
    for run_dir, measurement in sorted(mine.items()):
        d = Path(run_dir)
        records[d.name] = {"name": d.name, "config": json.loads((d / "config.json").read_text()),
                           "facts": run_facts(d), "measured": measurement}
    atomic_write_text(stage_archive / ARCHIVE_FILE,
                      "".join(json.dumps(r, sort_keys=True) + "\n" for _, r in sorted(records.items())))
    for name in STAGE_FILES:
        if (sweep_dir / name).is_file():
            atomic_write_text(stage_archive / name, (sweep_dir / name).read_text())
    plan = sweep_dir.parent / COMBINED_PLAN if sweep_dir.parent.name != "confirm" else None
    if plan is not None and plan.is_file():
        atomic_write_text(archive / COMBINED_PLAN, plan.read_text())


def restore_stage(sweep_dir: Path, stage_archive: Path) -> int:
    """Put the archived runs that have no folder in SWEEP/runs into SWEEP/archived/NAME (config, facts and
    measurement); returns how many were restored."""
    from vqlab.experiments.sweep import read_archive

    restored = 0
    for record in read_archive(stage_archive / ARCHIVE_FILE):
        if (sweep_dir / "runs" / record["name"] / "config.json").is_file():
            continue
        d = sweep_dir / ARCHIVED_DIR / record["name"]
        d.mkdir(parents=True, exist_ok=True)
        atomic_write_json(d / "config.json", record["config"])
        atomic_write_json(d / FACTS_FILE, record["facts"])
        atomic_write_json(d / "photos.json", record["measured"])
        restored += 1
    for name in STAGE_FILES:  # the plan and command, where the sweep has not run here
        if not (sweep_dir / name).is_file() and (stage_archive / name).is_file():
            atomic_write_text(sweep_dir / name, (stage_archive / name).read_text())
    return restored


def restore_all(root: Path, archive: Path) -> None:
    """Restore every archived stage (and the combined run's plan) into ROOT where its runs have no folder."""
    for runs_file in sorted(archive.glob(f"**/{ARCHIVE_FILE}")):
        restore_stage(root / runs_file.parent.relative_to(archive), runs_file.parent)
    for name in (COMBINED_PLAN, CALIBRATION):
        if not (root / name).is_file() and (archive / name).is_file():
            atomic_write_text(root / name, (archive / name).read_text())


def base_args(args: argparse.Namespace) -> list[str]:
    """The recipe every sweep shares (data, task, evaluation intervals, time budget)."""
    if args.toy:
        config = args.root / "toy-config.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(config, json.dumps(TOY_CONFIG) + "\n")
        base = ["--config", str(config), "--data", args.toy_data, "--task", "colorize"]
    else:
        config = args.root / "recipe-config.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(config, json.dumps(RECIPE_CONFIG) + "\n")
        base = ["--config", str(config), *RECIPE]
    return base + (["--max-minutes", str(args.max_minutes)] if args.max_minutes else []) + \
        (["--jobs", str(args.jobs)] if args.jobs > 1 else [])


def record_corpus(folder: Path, args: argparse.Namespace) -> None:
    """FOLDER/corpus.json: the data the corpus stage trains on (crops per split; for photos-wide its photos per
    split and the sources that were not installed), written once, before the first run."""
    from vqlab.data import load_dataset

    path = folder / "corpus.json"
    if path.is_file():
        return
    name = args.toy_data if args.toy else "photos-wide"
    data = load_dataset(name, download=False)
    record: dict[str, Any] = {"data": name, "crops": {s: (0 if a is None else len(a)) for s, a in
                                                      (("train", data.train), ("val", data.val), ("test", data.test))}}
    if name == "photos-wide":
        from vqlab.data.photos_wide import select_photos

        sel = select_photos()
        record["photos"] = {s: sel.names(s) for s in ("train", "val", "test")}
        record["skipped"] = [source.package for source, _ in sel.skipped]
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, record)


def corpus_changed(folder: Path, args: argparse.Namespace) -> bool:
    """Whether photos-wide today has other photos than FOLDER/corpus.json records (a corpus stage's sweep is then
    not resumed: its unfinished runs would train on other photos than its finished ones)."""
    record = folder / "corpus.json"
    if args.toy or not record.is_file():
        return False
    photos = json.loads(record.read_text()).get("photos")
    if not photos:
        return False
    from vqlab.data.photos_wide import select_photos

    sel = select_photos()
    return any(sel.names(split) != photos.get(split) for split in ("train", "val", "test"))


def axes(args: argparse.Namespace) -> dict[str, list[str]]:
    return TOY_AXES if args.toy else AXES


# ---- photographs -------------------------------------------------------------------------------------------


def photo_sets(data: str, pin: Path | None = None) -> dict[str, list[tuple[str, Any]]]:
    """The whole photographs to measure on: ``{"val": [(name, loader)], "test": [...]}``; ``loader()`` gives the
    picture as a uint8 (H, W, 3) array (val shrunk to VAL_SIDE px on the longer side, test at full size).

    For photos-wide the names are pinned in the file ``pin`` (the study's archive keeps it): written from today's
    validation and test photos the first time, then read, so that the study keeps measuring on the same photos
    when the corpus grows (a new validation photo is not measured until the pin file is deleted and every run is
    measured again). A pinned photo must still be installed and outside the training split."""
    import numpy as np

    if data == "photos-wide":
        from vqlab.data.photos_wide import select_photos

        selection = select_photos()
        by_name = {p.name: p for p in selection.photos}
        names = {split: selection.names(split) for split in ("val", "test")}
        if pin is not None and pin.is_file():
            pinned = json.loads(pin.read_text())
            for split in ("val", "test"):
                bad = [n for n in pinned[split] if selection.splits.get(n) != split]
                if bad:
                    raise SystemExit(f"error: photos pinned in {pin} for {split} are not installed or no longer in "
                                     f"that split: {', '.join(bad)}")
            names = {split: list(pinned[split]) for split in ("val", "test")}
        elif pin is not None:
            pin.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(pin, names)
        return {"val": [(n, lambda p=by_name[n]: p.load(VAL_SIDE)) for n in names["val"]],
                "test": [(n, lambda p=by_name[n]: p.load(None)) for n in names["test"]]}
    if data.startswith("folder:"):
        from vqlab.data.folder import find_images
        from vqlab.images import load_image_file

        root = Path(data[len("folder:"):])

        def load(path: Path, side: int | None) -> Any:
            image = load_image_file(path)
            if side is not None and max(image.size) > side:
                image.thumbnail((side, side))
            return np.asarray(image, dtype=np.uint8)

        return {split: [(rel, lambda f=root / split / rel, s=side: load(f, s)) for rel in find_images(root / split)]
                for split, side in (("val", VAL_SIDE), ("test", None))}
    raise SystemExit(f"error: the study measures photos-wide or a folder:PATH with val/ and test/, not {data}")


def measure_variant(run_dir: Path, photos: dict[str, list], chroma_scale: float | None,
                    temperature: float | None = None) -> list[dict[str, Any]]:
    """Per-photo scores of the run's best checkpoint with the given chroma gain (None: as trained) and, for a
    chroma-bins run, the annealed mean's temperature (None: its own)."""
    import vqlab

    model = vqlab.load(run_dir, checkpoint="best", chroma_scale=chroma_scale, chroma_temperature=temperature)
    return score_photos(model, photos)


def score_photos(model: Any, photos: dict[str, list]) -> list[dict[str, Any]]:
    """Per-photo scores of a loaded colorizer (``vqlab.load``) on the whole photographs of ``photos``."""
    import numpy as np
    import torch

    from vqlab.eval.colorize import photo_scores

    rows = []
    for split, items in photos.items():
        for name, loader in items:
            true = np.array(loader(), dtype=np.uint8)
            out = np.array(model.colorize(true), dtype=np.uint8)
            tensor = [torch.from_numpy(a).permute(2, 0, 1).float() / 255 for a in (out, true)]
            rows.append({"photo": name, "split": split, "size": [true.shape[1], true.shape[0]],
                         **photo_scores(*tensor)})
    return rows


def fitted_gain(run_dir: Path, temperature: float) -> float:
    """The chroma gain of a chroma-bins run's best checkpoint at another temperature, fitted as training fits it
    (the least-squares gain on the run's validation crops, :mod:`vqlab.eval.chroma`)."""
    from vqlab.data import load_dataset
    from vqlab.eval.chroma import fit_chroma_scale
    from vqlab.train.run import load_run
    from vqlab.train.validation import validation_subset

    run = load_run(run_dir, checkpoint="best", chroma_scale=1.0, chroma_temperature=temperature)
    d = run.config.data
    data = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
    return fit_chroma_scale(run.model, run.task, validation_subset(data.val, run.config.train.val_images))


def best_val_row(run_dir: Path) -> dict[str, Any]:
    """The validation metrics row of the run's best checkpoint."""
    from vqlab.train.checkpoint import find_checkpoint, read_state
    from vqlab.train.run import read_metrics

    step = read_state(find_checkpoint(run_dir, "best"))["step"]
    rows = [r for r in read_metrics(run_dir) if r.get("split") == "val" and r.get("step") == step]
    return rows[-1]


def measure_run(run_dir: Path, photos: dict[str, list]) -> dict[str, Any] | None:
    """Measure a finished run (cached in RUN/photos.json, keyed by its best step and the photos); an archived run
    gives its recorded measurement, or None when that was made on other photos (it has no weights to redo it)."""
    from vqlab.train.checkpoint import find_checkpoint, read_state
    from vqlab.train.run import read_config

    cfg, _ = read_config(run_dir)
    names = {split: [name for name, _ in items] for split, items in photos.items()}
    cache = run_dir / "photos.json"
    if is_archived(run_dir):
        cached = json.loads(cache.read_text())
        key = {"version": MEASURE_VERSION, "best_step": run_facts(run_dir)["best_step"], "photos": names}
        return cached if cached.get("key") == key else None
    best = read_state(find_checkpoint(run_dir, "best"))
    key = {"version": MEASURE_VERSION, "best_step": best["step"], "photos": names}
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached
    except (OSError, json.JSONDecodeError):
        pass
    t0 = time.time()
    variants = {"trained": {"chroma_scale": best.get("chroma_scale", 1.0) if cfg.data.chroma_shrink else 1.0,
                            "photos": measure_variant(run_dir, photos, None)}}
    if not cfg.data.chroma_shrink:
        scale = float(best_val_row(run_dir)["fitted_chroma_scale"])
        variants["shrink"] = {"chroma_scale": scale, "photos": measure_variant(run_dir, photos, scale)}
    if cfg.model.likelihood == "chroma-bins":
        # The annealed mean at other temperatures, each as it comes and with the gain fitted at that temperature.
        for t in TEMPERATURES:
            if t != cfg.model.chroma_temperature:
                variants[f"T={t:g}"] = {"chroma_scale": 1.0, "temperature": t,
                                        "photos": measure_variant(run_dir, photos, 1.0, t)}
                scale = fitted_gain(run_dir, t)
                variants[f"T={t:g} shrink"] = {"chroma_scale": scale, "temperature": t,
                                               "photos": measure_variant(run_dir, photos, scale, t)}
    result = {"key": key, "best": best, "seconds": round(time.time() - t0, 1), "variants": variants}
    atomic_write_json(cache, result)
    return result


def curve_row(photos: list[dict[str, Any]]) -> dict[str, Any]:
    """One gain's summary for the calibration table: validation mean, median, worst and count below the goal's
    worst-photo bound, colourfulness share, test mean."""
    val = [p["gain"] for p in photos if p["split"] == "val"]
    s = summarise(photos)
    return {"val_mean_gain": s["val_mean_gain"], "val_median_gain": statistics.median(val) if val else math.nan,
            "val_worst": {"photo": s["val_worst"]["photo"], "gain": s["val_worst"]["gain"]} if val else None,
            "val_below": sum(g < GOALS["worst_gain"] for g in val), "colour_ratio": s["colour_ratio"],
            "test_mean_gain": s["test_mean_gain"]}


def gain_curve(run_dir: Path, photos: dict[str, list], temperature: float | None = None) -> list[dict[str, Any]]:
    """The run's best checkpoint at every gain of GAIN_GRID: its colour at gain 1 scaled by the gain (the luma is
    the photo's own), one :func:`curve_row` per gain; cached in RUN/gain-curve.json. ``temperature``: a chroma-bins
    run's annealed mean at that temperature (None: its own)."""
    import numpy as np
    import torch

    import vqlab
    from vqlab.data.tasks import luminance, rgb_to_chroma, ycbcr_to_rgb
    from vqlab.eval.colorize import photo_scores
    from vqlab.train.checkpoint import find_checkpoint, read_state

    key = {"version": MEASURE_VERSION, "best_step": read_state(find_checkpoint(run_dir, "best"))["step"],
           "photos": {split: [name for name, _ in items] for split, items in photos.items()},
           "grid": list(GAIN_GRID), "temperature": temperature}
    cache = run_dir / "gain-curve.json"
    try:
        cached = json.loads(cache.read_text())
        if cached.get("key") == key:
            return cached["curve"]
    except (OSError, json.JSONDecodeError):
        pass
    model = vqlab.load(run_dir, checkpoint="best", chroma_scale=1.0, chroma_temperature=temperature)
    per: dict[float, list[dict[str, Any]]] = {g: [] for g in GAIN_GRID}
    for split, items in photos.items():
        for name, loader in items:
            true = np.array(loader(), dtype=np.uint8)
            out = np.array(model.colorize(true), dtype=np.uint8)
            t, o = (torch.from_numpy(a).permute(2, 0, 1).float().unsqueeze(0) / 255 for a in (true, out))
            y, chroma = luminance(t), rgb_to_chroma(o)
            for g in GAIN_GRID:
                per[g].append({"photo": name, "split": split,
                               **photo_scores(ycbcr_to_rgb(y, g * chroma)[0], t[0])})
    curve = [{"scale": g, **curve_row(per[g])} for g in GAIN_GRID]
    atomic_write_json(cache, {"key": key, "curve": curve})
    return curve


def calibrate(root: Path, args: argparse.Namespace, found: dict[str, Any], photos: dict[str, list]) -> None:
    """The calibrate stage (module notes): ROOT/calibration.json, copied to the archive."""
    from vqlab.train.run import read_config

    pick = chosen_variant(found["runs"])
    if pick is None:
        log("calibrate: nothing measured yet")
        return
    label, variant = pick
    temperature = found["runs"][label]["measured"]["variants"][variant].get("temperature")  # chroma-bins T=...
    runs = {0: found["runs"][label]["run_dir"]}
    for lab, info in found["runs"].items():
        if lab.startswith(f"confirm {label_slug(label)} "):
            runs[read_config(Path(info["run_dir"]))[0].train.seed] = info["run_dir"]
    if any(is_archived(Path(d)) for d in runs.values()):
        log(f"calibrate: a run of {label} has no weights here (archived); the archived calibration stays")
        return
    curves = {seed: gain_curve(Path(d), photos, temperature) for seed, d in sorted(runs.items())}
    means = [statistics.fmean(curves[seed][i]["val_mean_gain"] for seed in curves) for i in range(len(GAIN_GRID))]
    best = max(range(len(GAIN_GRID)), key=lambda i: (means[i], -i))
    scale = GAIN_GRID[best]
    exact = {}
    for seed, run_dir in sorted(runs.items()):
        measured_file = Path(run_dir) / "photo-gain.json"
        blob = json.loads((Path(run_dir) / "photos.json").read_text())
        cached = json.loads(measured_file.read_text()) if measured_file.is_file() else {}
        key = {**blob["key"], "scale": scale, "temperature": temperature}
        if cached.get("key") != key:
            cached = {"key": key, "best": blob["best"], "variants": {"photo-gain": {
                "chroma_scale": scale, "temperature": temperature,
                "photos": measure_variant(Path(run_dir), photos, scale, temperature)}}}
            atomic_write_json(measured_file, cached)
        exact[str(seed)] = {"run_dir": run_dir, "summary": summarise(cached["variants"]["photo-gain"]["photos"]),
                            "photos": cached["variants"]["photo-gain"]["photos"]}
    result = {"label": label, "variant": variant, "temperature": temperature, "scale": scale, "grid": list(GAIN_GRID),
              "curves": {str(seed): curve for seed, curve in curves.items()}, "exact": exact}
    atomic_write_json(root / CALIBRATION, result)
    if getattr(args, "archive", None) is not None:
        args.archive.mkdir(parents=True, exist_ok=True)
        atomic_write_json(args.archive / CALIBRATION, {**result, "exact": {
            seed: {k: v for k, v in e.items() if k != "run_dir"} for seed, e in exact.items()}})
    log(f"calibrate: {label}, gain {scale:g} chosen on the validation photos (mean over {len(runs)} seeds "
        f"{means[best]:+.2f} dB)")


def finished_runs(sweep_dir: Path) -> tuple[list[Path], list[str]]:
    """The finished run folders of a sweep (trained to their steps or their time budget) and the names of the
    planned runs that are not finished."""
    from vqlab.experiments.sweep import read_plan
    from vqlab.train.run import read_config, training_state

    if not (sweep_dir / "sweep.json").is_file():
        return [], []
    done, missing = [], []
    for planned in read_plan(sweep_dir)["runs"]:
        run_dir = sweep_dir / "runs" / planned["name"]
        archived = sweep_dir / ARCHIVED_DIR / planned["name"]
        if (run_dir / "config.json").is_file() and training_state(run_dir, read_config(run_dir)[0]) == "done":
            done.append(run_dir)
        elif not (run_dir / "config.json").is_file() and (archived / FACTS_FILE).is_file():
            done.append(archived)
        else:
            missing.append(planned["name"])
    return done, missing


# ---- summaries and rules -----------------------------------------------------------------------------------


def summarise(photos: list[dict[str, Any]]) -> dict[str, Any]:
    """Means and extremes of one variant's per-photo scores."""
    val = [p for p in photos if p["split"] == "val"]
    test = [p for p in photos if p["split"] == "test"]
    worst = min(photos, key=lambda p: p["gain"])
    return {
        "val_mean_gain": statistics.fmean(p["gain"] for p in val) if val else math.nan,
        "val_worst": min(val, key=lambda p: p["gain"]) if val else None,
        "colour_ratio": (sum(p["colorfulness"] for p in val) / sum(p["colorfulness_target"] for p in val)
                         if val else math.nan),
        "test_mean_gain": statistics.fmean(p["gain"] for p in test) if test else math.nan,
        "worst": worst,
    }


def changed_option(run_dir: Path, baseline: dict[str, Any]) -> tuple[str, str] | None:
    """(axis, value) that a run of the choices sweep changed from the baseline; None for the baseline itself."""
    from vqlab.train.run import read_config

    cfg, _ = read_config(run_dir)
    for axis, base in baseline.items():
        section, name = FIELDS[axis]
        value = getattr(getattr(cfg, section), name)
        if value != base:
            return axis, str(value).lower() if isinstance(value, bool) else f"{value:g}"
    return None


def baseline_values(args: argparse.Namespace) -> dict[str, Any]:
    """The baseline's value of every axis, as the config holds it."""
    kinds = {"hflip": lambda v: v == "true", "random-crop": float, "weight-decay": float, "hidden": int, "steps": int,
             "downsample": int, "image-size": int}
    return {axis: kinds[axis](values[0]) for axis, values in axes(args).items()}


def spread(gains: list[float]) -> float:
    return statistics.stdev(gains) if len(gains) > 1 else 0.0


def chosen_variant(runs: dict[str, dict[str, Any]]) -> tuple[str, str] | None:
    """(label, variant) of the chosen recipe: the measured variant with the highest validation mean gain, among
    the baseline, each change and the combined run (not the extra seeds or the confirmation runs)."""
    best, best_gain = None, -math.inf
    for label, run in runs.items():
        if label.startswith(("baseline seed", "confirm")):
            continue
        for variant in run["measured"]["variants"]:
            gain = run[variant]["val_mean_gain"]
            if math.isfinite(gain) and gain > best_gain:
                best, best_gain = (label, variant), gain
    return best


def label_flags(label: str, root: Path) -> list[str]:
    """The sweep flags of a run label: "baseline" -> [], "hidden=64" -> [--hidden, 64], "likelihood=chroma-bins,
    weight-decay=1" -> [--likelihood, chroma-bins, --weight-decay, 1]; the combined run's from ROOT's plan."""
    if label == "baseline":
        return []
    # A corpus-stage recipe trains on the photos that stage had (its corpus.json as a photo list), whatever is
    # installed now.
    pinned = ["--data-root", str((root / "corpus" / "corpus.json").resolve())] if label.startswith(CORPUS_PREFIX) else []
    label = label.removeprefix(CORPUS_PREFIX).removeprefix(CORPUS2_PREFIX)
    if label == "combined":
        rule = json.loads((root / "combined-plan.json").read_text())
        return [*rule["flags"], *(["--chroma-shrink", "true"] if rule["shrink"] else [])]
    flags: list[str] = []
    for part in label.split(", "):
        axis, value = part.split("=", 1)
        flags += [f"--{axis}", value]
    return flags + pinned


def label_slug(label: str) -> str:
    """A folder name for a run label ("likelihood=chroma-bins, weight-decay=1" -> likelihood_chroma-bins-weight-decay_1)."""
    return label.replace(": ", "-").replace(", ", "-").replace("=", "_").replace("/", "_") or "baseline"


def helping_changes(results: dict[str, dict[str, Any]], baseline_gains: list[float]) -> dict[str, Any]:
    """The HELPS rule of the module notes: ``{"flags": [...], "shrink": bool, "margin": dB, "reasons": [...]}``.

    ``results`` maps a run label (``baseline``, ``hflip=true``, ...) to its measurement summary per variant."""
    base = statistics.fmean(baseline_gains)
    margin = max(HELP_DB, 2 * spread(baseline_gains))
    best_per_axis: dict[str, tuple[float, str]] = {}
    for label, res in results.items():
        if "=" not in label or "," in label:  # the baseline, its seeds, or a run with two changes
            continue
        axis, value = label.split("=", 1)
        gain = res["trained"]["val_mean_gain"]
        if gain - base > margin and gain > best_per_axis.get(axis, (-math.inf, ""))[0]:
            best_per_axis[axis] = (gain, value)
    flags: list[str] = []
    reasons = []
    for axis, (gain, value) in sorted(best_per_axis.items()):
        flags += [f"--{axis}", value]  # sweep flags: booleans take a value too (--hflip true)
        reasons.append(f"{axis}={value}: {gain:+.2f} dB against {base:+.2f} dB")
    shrunk = [r["shrink"]["val_mean_gain"] for label, r in results.items() if label == "baseline" and "shrink" in r]
    shrink = bool(shrunk) and shrunk[0] - base > margin
    if shrink:
        reasons.append(f"chroma shrinkage: {shrunk[0]:+.2f} dB against {base:+.2f} dB")
    return {"flags": flags, "shrink": shrink, "margin": margin, "baseline": base, "reasons": reasons}


def collect(root: Path, args: argparse.Namespace, photos: dict[str, list] | None = None) -> dict[str, Any]:
    """Measure (or read the measurement of) every finished run: ``{"runs": {label: {...}}, "missing": [names]}``
    (``STAGE/RUN`` of each planned run that is not finished, or not measurable on today's photos); with
    ``args.archive`` the runs measured here are recorded in the archive."""
    photos = photos if photos is not None else photo_sets(args.toy_data if args.toy else "photos-wide", pin_file(args))
    if getattr(args, "archive", None) is not None:
        restore_all(root, args.archive)
    baseline = baseline_values(args)
    runs: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    confirm = sorted(p.parent for p in (root / "confirm").glob("*/sweep.json"))
    for stage in ("choices", "seeds", "heads", "combined", "corpus", "corpus2", *confirm):
        sweep_dir = stage if isinstance(stage, Path) else root / stage
        done, left = finished_runs(sweep_dir)
        missing += [f"{sweep_dir.name}/{name}" for name in left]
        measured_here: dict[str, dict[str, Any]] = {}
        for run_dir in done:
            if stage == "choices":
                change = changed_option(run_dir, baseline)
                label = "baseline" if change is None else f"{change[0]}={change[1]}"
            elif isinstance(stage, Path):
                label = f"confirm {stage.name} {run_dir.name}"
            elif stage == "heads":
                from vqlab.train.run import read_config

                decay = read_config(run_dir)[0].train.weight_decay
                label = "likelihood=chroma-bins" + (f", weight-decay={decay:g}" if decay else "")
            elif stage in ("corpus", "corpus2"):
                from vqlab.train.run import read_config

                cfg = read_config(run_dir)[0]
                prefix = CORPUS_PREFIX if stage == "corpus" else CORPUS2_PREFIX
                label = (f"{prefix}likelihood={cfg.model.likelihood}, weight-decay={cfg.train.weight_decay:g}, "
                         f"steps={cfg.train.steps}")
                if cfg.train.seed:  # corpus2's other seeds: confirmation runs of their seed-0 run's label
                    label = f"confirm {label_slug(label)} s{cfg.train.seed}"
            else:
                label = f"baseline seed {run_dir.name.lstrip('s')}" if stage == "seeds" else "combined"
            measured = measure_run(run_dir, photos)
            if measured is None:
                log(f"{run_dir}: archived, measured on other photos than today's; not shown")
                missing.append(f"{sweep_dir.name}/{run_dir.name}")
                continue
            measured_here[str(run_dir)] = measured
            runs[label] = {"run_dir": str(run_dir), "measured": measured,
                           **{v: summarise(m["photos"]) for v, m in measured["variants"].items()}}
        if getattr(args, "archive", None) is not None:
            archive_stage(sweep_dir, args.archive, measured_here)
    return {"runs": runs, "missing": missing}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies/colorize"), help="folder of the sweeps")
    p.add_argument("--stages",
                   default="choices,seeds,heads,corpus,corpus2,measure,combined,confirm,calibrate,page")
    p.add_argument("--seeds", type=int, default=3, help="baseline seeds (the first is trained in 'choices')")
    p.add_argument("--jobs", type=int, default=1, help="runs trained at once by each sweep, one thread each (1)")
    p.add_argument("--max-minutes", type=float, default=120.0,
                   help="training time budget of each run in minutes (120; cosine then anneals over it)")
    p.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    p.add_argument("--toy", action="store_true", help="tiny model, few steps, on --toy-data (integration test)")
    p.add_argument("--toy-data", default=None, help="folder:PATH with train/, val/ and test/ subfolders")
    p.add_argument("--archive", type=Path, default=None,
                   help="run archive (experiments/results/colorize; ROOT/archive with --toy)")
    args = p.parse_args(argv)
    if args.toy and not (args.toy_data or "").startswith("folder:"):
        p.error("--toy needs --toy-data folder:PATH")
    args.archive = (args.archive or (args.root / "archive" if args.toy else ARCHIVE)).resolve()
    stages = args.stages.split(",")
    unknown = set(stages) - {"choices", "seeds", "heads", "corpus", "corpus2", "measure", "combined", "confirm",
                             "calibrate", "page"}
    if unknown:
        p.error(f"unknown stages: {', '.join(sorted(unknown))}")
    base = base_args(args)
    t0 = time.time()
    if "choices" in stages:
        sweep(args.root / "choices", [*base, "--vary", *[x for a, v in axes(args).items() for x in (f"--{a}",
                                                                                                  ",".join(v))]],
              args.archive)
    if "seeds" in stages and args.seeds > 1:
        sweep(args.root / "seeds", [*base, "--seed", ",".join(str(s) for s in range(1, args.seeds))], args.archive)
    if "heads" in stages:
        sweep(args.root / "heads", [*base, "--likelihood", "chroma-bins", "--weight-decay", HEADS_WEIGHT_DECAY],
              args.archive)
    for stage, flags, toy_flags in (("corpus", CORPUS_FLAGS, TOY_CORPUS_FLAGS),
                                    ("corpus2", CORPUS2_FLAGS, TOY_CORPUS2_FLAGS)):
        if stage not in stages:
            continue
        if corpus_changed(args.root / stage, args):
            log(f"{stage}: photos-wide has other photos today than this stage trained on ({args.root / stage}/"
                "corpus.json); its sweep is not resumed (its unfinished runs would train on other photos)")
            continue
        record_corpus(args.root / stage, args)
        sweep(args.root / stage, [*base, *(toy_flags if args.toy else flags)], args.archive)
    if "measure" in stages or "combined" in stages:
        found = collect(args.root, args)
        log(f"measured {len(found['runs'])} runs ({len(found['missing'])} planned runs not finished)")
    if "combined" in stages:
        gains = [r["trained"]["val_mean_gain"] for label, r in found["runs"].items() if label.startswith("baseline")]
        if not gains or found["missing"]:
            log("combined: waiting for the baseline and every choice to finish")
        else:
            rule = helping_changes(found["runs"], gains)
            atomic_write_json(args.root / "combined-plan.json", rule)
            if not rule["flags"]:
                log("combined: no training change helped by the rule; no combined run")
            else:
                sweep(args.root / "combined",
                      [*base, *rule["flags"], *(["--chroma-shrink", "true"] if rule["shrink"] else [])], args.archive)
                collect(args.root, args)
    if "confirm" in stages:
        found = collect(args.root, args)
        pick = chosen_variant(found["runs"])
        if pick is None:
            log("confirm: nothing measured yet")
        else:
            label, variant = pick
            if any(lab.startswith(f"confirm {label_slug(label)} ") for lab in found["runs"]):
                log(f"confirm: the chosen recipe {label} ({variant}) has its seed-1 run already")
            else:
                log(f"confirm: the chosen recipe is {label} ({variant}); training it with seed 1")
                sweep(args.root / "confirm" / label_slug(label),
                      [*base, *label_flags(label, args.root), "--seed", "1"], args.archive)
                collect(args.root, args)
    if "calibrate" in stages:
        photos = photo_sets(args.toy_data if args.toy else "photos-wide", pin_file(args))
        calibrate(args.root, args, collect(args.root, args, photos), photos)
    if "page" in stages:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from colorize_page import write_page

        write_page(args, study_seconds=time.time() - t0)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
