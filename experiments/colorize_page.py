#!/usr/bin/env python3
"""Write docs/colorize.md (and docs/figures/colorize/) from the runs of experiments/colorize_study.py.

Reads whatever is finished: a study still running, or stopped part-way, gives a page with the finished runs and
says how many are missing. Every number comes from the run directories (their checkpoints, metrics.jsonl and the
cached whole-photo measurement RUN/photos.json); the combined run and the chosen recipe follow the study's rules.
Run it directly to regenerate the page without training: python experiments/colorize_page.py --root ROOT.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from colorize_study import (
    ARCHIVE,
    AXES,
    CALIBRATION,
    CORPUS2_PREFIX,
    GOALS,
    HELP_DB,
    PIN_FILE,
    TOY_AXES,
    VAL_SIDE,
    chosen_variant,
    collect,
    is_archived,
    label_slug,
    photo_sets,
    pin_file,
    run_facts,
    score_photos,
    spread,
    summarise,
)

FIGURE_PHOTOS = ("plasma/ColorfulCups", "lomiri/friends", "mate/LadyBird", "cimg/parrot")
FIGURE_HEIGHT = 160


def _f(value: float, digits: int = 2, sign: bool = True) -> str:
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def variants(runs: dict[str, dict[str, Any]], order: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
    """(label, variant, summary) rows in page order: each run as trained, then with chroma shrinkage (and, for
    chroma-bins runs, at the other temperatures of the annealed mean)."""
    def key(label: str) -> tuple[float, str]:
        axis = "baseline" if label.startswith("baseline") else label.split("=")[0]
        return (order.index(axis) if axis in order else len(order), label)

    rows = []
    for label in sorted((lab for lab in runs if not lab.startswith("confirm ")), key=key):
        for variant in sorted(runs[label]["measured"]["variants"], key=variant_order):
            if variant in runs[label]:
                rows.append((label, variant, runs[label][variant]))
    return rows


def variant_order(variant: str) -> tuple[float, bool]:
    """As trained and shrunk first, then the other temperatures from the highest, each unshrunk first."""
    if variant in ("trained", "shrink"):
        return (-math.inf, variant == "shrink")
    return (-float(variant.split()[0][2:]), variant.endswith("shrink"))


def temperature(run: dict[str, Any], variant: str) -> float | None:
    """The annealed mean's temperature of a measured variant of a chroma-bins run (None for other runs)."""
    from vqlab.train.run import read_config

    cfg, _ = read_config(Path(run["run_dir"]))
    if cfg.model.likelihood != "chroma-bins":
        return None
    return run["measured"]["variants"][variant].get("temperature", cfg.model.chroma_temperature)


def describe(label: str, variant: str, scale: float, run: dict[str, Any]) -> str:
    """The page's name of a measured variant (a run trained with --chroma-shrink says so, with its gain; a
    chroma-bins run names the temperature of its annealed mean)."""
    name = label.replace("=", " ").replace("hidden ", "h=").replace("steps ", "steps=")
    t = temperature(run, variant)
    if t is not None:
        name += f", T={t:g}"
    if variant == "shrink" or variant.endswith(" shrink"):
        return name + f" + chroma shrinkage (s={scale:.2f})"
    return name + (f" (--chroma-shrink, s={scale:.2f})" if "shrink" not in run else "")


def confirmation(runs: dict[str, dict[str, Any]], label: str, variant: str) -> list[dict[str, Any]]:
    """The chosen variant's summary on each seed: the chosen run (seed 0) and its confirmation runs."""
    out = [{"seed": 0, **runs[label][variant]}]
    prefix = f"confirm {label_slug(label)} "
    for lab in sorted(runs):
        if lab.startswith(prefix) and variant in runs[lab]:
            out.append({"seed": int(lab[len(prefix):].lstrip("s")), **runs[lab][variant]})
    return out


def calibration_lines(root: Path, label: str, docs: Path | None = None,
                      photos: dict[str, list] | None = None) -> list[str]:
    """The calibrate stage's section: the chosen recipe at each chroma gain on the whole photos (means over its
    seeds) and, at the chosen gain, each seed measured exactly, with the goals; with ``docs`` and ``photos`` a
    figure of seed 0 at that gain (three of the page's figure photos and its worst validation photo)."""
    path = root / CALIBRATION
    if not path.is_file():
        return []
    cal = json.loads(path.read_text())
    if cal["label"] != label:
        return [(f"The chroma gain calibration (`{CALIBRATION}`) was made for {cal['label']}, not for today's "
                 "chosen recipe: run the stage `calibrate` again."), ""]
    curves = list(cal["curves"].values())
    n = len(curves)
    lines = ["## The chroma gain chosen on whole photos (stage `calibrate`)", "",
             ("The gain in the rows above is fitted on the validation *crops*, and the corpus leaves near-flat crops "
              "out, so it weighs textured regions, where colour pays. On a whole photo the flat backgrounds take the "
              "colour cast too. Here the chosen recipe's best checkpoint colorizes every photo once at gain 1, its "
              "colour is scaled by each gain s (clipping aside), and the s with the highest validation mean gain "
              f"averaged over its {n} seed(s) is chosen. Means over the seeds:"), "",
             ("| gain s | val mean gain (dB) | val median gain (dB) | worst val photo (dB) | val photos below "
              f"{GOALS['worst_gain']:+.1f} dB | colourfulness | test mean gain (dB) |"), "|---|---|---|---|---|---|---|"]
    for i, scale in enumerate(cal["grid"]):
        if round(scale * 20) % 2 and scale != cal["scale"]:
            continue  # every 0.1, and the chosen gain
        rows = [c[i] for c in curves]
        worst = min((r["val_worst"] for r in rows if r["val_worst"]), key=lambda w: w["gain"], default=None)
        mark = "**" if scale == cal["scale"] else ""
        lines.append(f"| {mark}{scale:.2f}{mark} | {_f(statistics.fmean(r['val_mean_gain'] for r in rows))} | "
                     f"{_f(statistics.fmean(r['val_median_gain'] for r in rows))} | "
                     f"{_f(worst['gain']) + ' (' + worst['photo'] + ')' if worst else '–'} | "
                     f"{statistics.fmean(r['val_below'] for r in rows):.1f} | "
                     f"{statistics.fmean(r['colour_ratio'] for r in rows):.0%} | "
                     f"{_f(statistics.fmean(r['test_mean_gain'] for r in rows))} |")
    exact = [{"seed": int(seed), **e["summary"]} for seed, e in sorted(cal["exact"].items())]
    lines += ["", (f"At s = {cal['scale']:.2f}, measured exactly (`vqlab.load(run, checkpoint=\"best\", "
                   f"chroma_scale={cal['scale']:.2f})`):"), "",
              "| seed | val mean gain (dB) | worst photo (dB) | colourfulness | test mean gain (dB) |",
              "|---|---|---|---|---|"]
    for e in exact:
        lines.append(f"| {e['seed']} | {_f(e['val_mean_gain'])} | {_f(e['worst']['gain'])} ({e['worst']['photo']}) | "
                     f"{e['colour_ratio']:.0%} | {_f(e['test_mean_gain'])} |")
    lines += ["", *goal_lines(exact[0], mean_summary(exact) if len(exact) > 1 else None, len(exact)), ""]
    run_dir = cal["exact"]["0"].get("run_dir")
    fig = docs / "figures" / "colorize" / "calibrated_photos.png" if docs is not None else None
    if fig is not None and photos is not None and run_dir and not is_archived(Path(run_dir)):
        worst = exact[0]["val_worst"]["photo"] if exact[0].get("val_worst") else None
        names = figure(fig, run_dir, cal["scale"], photos["val"], cal.get("temperature"),
                       (*FIGURE_PHOTOS[:3], *([worst] if worst else [])))
    elif fig is not None and fig.is_file():
        names = None
    else:
        return lines
    lines += [(f"Seed 0 at s = {cal['scale']:.2f} on validation photos"
               + (f" ({', '.join(names)}; the last is its worst)" if names else " (drawn when the run was trained)")
               + ": gray input | colorized | true colours."), "",
              f"![gray, colorized at the chosen gain, true]({fig.relative_to(docs).as_posix()})", ""]
    return lines


def two_seed_lines(runs: dict[str, dict[str, Any]]) -> list[str]:
    """The stage corpus2's table: every measured variant of each of its settings on seeds 0 and 1, and their mean
    (a setting's seed-1 run is labelled as the confirmation of its seed-0 label)."""
    labels = sorted(lab for lab in runs if lab.startswith(CORPUS2_PREFIX))
    if not labels:
        return []
    lines = ["## Two seeds on the bigger corpus (stage `corpus2`)", "",
             ("Each setting of the stage `corpus2` trained with seeds 0 and 1 on the same data; per measured variant "
              "the two seeds and their mean (the worst photo: the worse of the two)."), "",
             ("| variant | chroma gain s (seed 0 / 1) | val mean gain (dB), seed 0 / 1 | mean | worst photo (dB) | "
              "colourfulness (mean) | test mean gain (dB, mean) |"), "|---|---|---|---|---|---|---|"]
    for label in labels:
        for variant in sorted(runs[label]["measured"]["variants"], key=variant_order):
            seeds = confirmation(runs, label, variant)
            if len(seeds) < 2:
                continue
            other = runs[f"confirm {label_slug(label)} s{seeds[1]['seed']}"]
            scales = [runs[label]["measured"]["variants"][variant]["chroma_scale"],
                      other["measured"]["variants"][variant]["chroma_scale"]]
            m = mean_summary(seeds)
            lines.append(f"| {describe(label, variant, scales[0], runs[label]).split(' + ')[0].split(' (--')[0]}"
                         f"{' + chroma shrinkage' if 'shrink' in variant else ''} | "
                         f"{scales[0]:.2f} / {scales[1]:.2f} | {_f(seeds[0]['val_mean_gain'])} / "
                         f"{_f(seeds[1]['val_mean_gain'])} | {_f(m['val_mean_gain'])} | {_f(m['worst']['gain'])} "
                         f"({m['worst']['photo']}) | {m['colour_ratio']:.0%} | {_f(m['test_mean_gain'])} |")
    return [*lines, ""]


def mean_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over seeds of the goal measures (the worst photo: the worst over the seeds)."""
    worst = min((r["worst"] for r in rows), key=lambda p: p["gain"])
    return {"val_mean_gain": statistics.fmean(r["val_mean_gain"] for r in rows),
            "colour_ratio": statistics.fmean(r["colour_ratio"] for r in rows),
            "test_mean_gain": statistics.fmean(r["test_mean_gain"] for r in rows), "worst": worst}


def tradeoff_figure(path: Path, rows: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Validation mean gain against colourfulness for every measured variant, the goals' corner shaded: where the
    issue's two goals on the validation photos would both be met."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.fill_between([GOALS["colour_ratio"] * 100, 100], GOALS["val_mean_gain"], 2.0, color="tab:green", alpha=0.12,
                    label="both goals met")
    styles = {"mse": ("tab:blue", "o"), "chroma-bins": ("tab:orange", "s")}
    seen = set()
    for label, variant, s in rows:
        kind = "chroma-bins" if "chroma-bins" in label else "mse"
        shrunk = variant == "shrink" or variant.endswith(" shrink")
        colour, marker = styles[kind]
        name = f"{'MSE' if kind == 'mse' else 'chroma-bins'}{', chroma gain fitted' if shrunk else ''}"
        ax.scatter(100 * s["colour_ratio"], s["val_mean_gain"], c=colour if shrunk else "white", edgecolors=colour,
                   marker=marker, s=30, label=None if name in seen else name, zorder=3)
        seen.add(name)
    ax.axhline(0, color="gray", lw=0.8, ls="--")
    ax.set_xlabel("colourfulness, % of the true photos' (validation)")
    ax.set_ylabel("mean gain over gray (dB, validation)")
    ax.set_xlim(0, 100)
    lows = [s["val_mean_gain"] for _, _, s in rows]
    ax.set_ylim(min(-0.5, min(lows) - 0.1), max(1.0, max(lows) + 0.1))
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Every measured variant: PSNR gain against colour", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def shipped_lines(root: Path, photos: dict[str, list]) -> list[str]:
    """The colorizer shipped with vqlab (``vqlab models``), measured on the same photos as the study's runs
    (cached in ROOT/shipped-photos.json, keyed by the shipped weights' card and the photo names)."""
    from vqlab import shipped
    from vqlab.fileio import atomic_write_json

    if "colorize" not in shipped.names():
        return []
    card = shipped.card("colorize")
    key = {"card": {k: card.get(k) for k in ("command", "step", "metrics")},
           "photos": {split: [name for name, _ in items] for split, items in photos.items()}}
    cache = root / "shipped-photos.json"
    try:
        cached = json.loads(cache.read_text())
    except (OSError, json.JSONDecodeError):
        cached = {}
    if cached.get("key") != key:
        import vqlab

        cached = {"key": key, "photos": score_photos(vqlab.load("colorize"), photos)}
        atomic_write_json(cache, cached)
    s = summarise(cached["photos"])
    return [(f"The colorizer shipped with vqlab (`vqlab models`; `{card['command']}`), measured the same way on "
             f"these photos: validation mean gain {_f(s['val_mean_gain'])} dB (worst validation photo "
             f"{_f(s['val_worst']['gain'])} dB, {s['val_worst']['photo']}), test mean gain {_f(s['test_mean_gain'])} "
             f"dB, colourfulness {s['colour_ratio']:.0%} (one seed). It is replaced only by a recipe that is better "
             "on the mean over its two seeds."), ""]


def goal_lines(s: dict[str, Any], over_seeds: dict[str, Any] | None = None, seeds: int = 1) -> list[str]:
    checks = [("mean gain on the validation photos", f">= {GOALS['val_mean_gain']:+.1f} dB",
               _f(s["val_mean_gain"]) + " dB", s["val_mean_gain"] >= GOALS["val_mean_gain"]),
              ("worst photo (validation and test)", f">= {GOALS['worst_gain']:+.1f} dB",
               f"{_f(s['worst']['gain'])} dB ({s['worst']['photo']})", s["worst"]["gain"] >= GOALS["worst_gain"]),
              ("colourfulness, share of the true photos'", f">= {GOALS['colour_ratio']:.0%}",
               f"{s['colour_ratio']:.0%}", s["colour_ratio"] >= GOALS["colour_ratio"]),
              ("mean gain on the test photos", f">= {GOALS['test_mean_gain']:+.1f} dB", _f(s["test_mean_gain"]) + " dB",
               s["test_mean_gain"] >= GOALS["test_mean_gain"])]
    if over_seeds is None:
        out = ["| goal (from the issue) | target | chosen recipe | met |", "|---|---|---|---|"]
        out += [f"| {name} | {target} | {got} | {'yes' if ok else '**no**'} |" for name, target, got, ok in checks]
        return out
    again = goal_lines(over_seeds)[2:]
    out = [f"| goal (from the issue) | target | chosen recipe, seed 0 | met | mean over {seeds} seeds | met |",
           "|---|---|---|---|---|---|"]
    for (name, target, got, ok), line in zip(checks, again):
        cells = line.strip("|").split(" | ")
        out.append(f"| {name} | {target} | {got} | {'yes' if ok else '**no**'} | {cells[2]} | {cells[3].strip()} |")
    return out


def figure(path: Path, run_dir: str, scale: float | None, photos: list[tuple[str, Any]],
           temperature: float | None = None, names: tuple[str, ...] = FIGURE_PHOTOS) -> list[str]:
    """gray | colorized | true for a few validation photos (``names``, in the order of ``photos``), one row each;
    returns their names."""
    import numpy as np
    from PIL import Image

    import vqlab
    from vqlab.images import save_image

    model = vqlab.load(run_dir, checkpoint="best", chroma_scale=scale, chroma_temperature=temperature)
    wanted = [item for item in photos if item[0] in names] or photos[:4]
    rows = []
    for _, loader in wanted[:4]:
        true = Image.fromarray(loader())
        gray = true.convert("L").convert("RGB")
        colour = model.colorize(true)
        w = max(1, round(true.width * FIGURE_HEIGHT / true.height))
        rows.append(np.concatenate([np.asarray(im.resize((w, FIGURE_HEIGHT), Image.Resampling.LANCZOS))
                                    for im in (gray, colour, true)], axis=1))
    width = max(r.shape[1] for r in rows)
    canvas = np.full((FIGURE_HEIGHT * len(rows) + 4 * (len(rows) - 1), width, 3), 255, np.uint8)
    for i, r in enumerate(rows):
        canvas[i * (FIGURE_HEIGHT + 4):i * (FIGURE_HEIGHT + 4) + FIGURE_HEIGHT, :r.shape[1]] = r
    save_image(path, Image.fromarray(canvas))
    return [name for name, _ in wanted[:4]]


# What photos-wide held when the stages before `corpus` trained (docs/data.md of that time): its GCompris source
# came later, with 46 more validation photos taken from it.
EARLIER_CORPUS = {"train": 46, "val": 13, "test": 3, "train_crops": 88_978}


def corpus_text(root: Path, data: str, n_val: int, n_test: int) -> str:
    """Which photographs the runs trained on: the stages before `corpus` on photos-wide as it was then, the corpus
    stage on what ROOT/corpus/corpus.json records; the whole-photo measurement uses the study's pinned photos."""
    if data != "photos-wide":
        return f"`{data}`"
    old = EARLIER_CORPUS
    text = (f"the stages `choices` to `confirm` on {old['train']} training photographs ({old['train_crops']:,} crops) "
            f"with {old['val']} validation photos, as photos-wide was before its GCompris source")
    for stage, what in (("corpus", "with the GCompris photographs"),
                        ("corpus2", "with GCompris and the nine packages of the survey")):
        record = root / stage / "corpus.json"
        if record.is_file():
            blob = json.loads(record.read_text())
            photos = blob.get("photos", {})
            text += (f"; the stage `{stage}` on {len(photos.get('train', []))} training photographs "
                     f"({blob['crops']['train']:,} crops) with {len(photos.get('val', []))} validation photos, "
                     f"{what} (docs/data.md)")
    return (text + f". Every run is measured on the same {n_val} validation and {n_test} test photographs (pinned in "
            f"the study's archive, `{PIN_FILE}`); the {n_val - old['val']} validation photos added with GCompris are "
            "new to the earlier runs too")


def machine() -> str:
    import torch

    from vqlab.train.device import cpu_model

    return (f"{cpu_model()}, torch {torch.__version__}, "
            f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} per run")


def write_page(args: argparse.Namespace, study_seconds: float | None = None) -> Path:
    from vqlab.fileio import atomic_write_text

    root, docs = args.root, args.docs
    data = args.toy_data if args.toy else "photos-wide"
    photos = photo_sets(data, pin_file(args))
    found = collect(root, args, photos)
    runs, order = found["runs"], ["baseline", *(TOY_AXES if args.toy else AXES), "likelihood", "combined"]
    page = ["# Colorizing photographs it has never seen", "",
            (f"Generated by `python experiments/colorize_study.py --root {root}` (resumable; the page alone: "
            f"`python experiments/colorize_page.py --root {root}`). Machine: {machine()}."), "",
            (f"Every run trains on the photos-wide training crops (32x32; {corpus_text(root, data, len(photos['val']), len(photos['test']))}), "
             "evaluates every 500 steps "
            "on a fixed subset of the validation crops and keeps the checkpoint with the best validation PSNR "
            "(`checkpoints/best`). That checkpoint is then measured on **whole photographs**: the validation "
            f"photos shrunk to {VAL_SIDE} px on the longer side, and the test photos (astronaut, coffee, flower) "
            "at full size, colorized with `vqlab.load(run, checkpoint=\"best\").colorize`. Per photo: the PSNR of "
            "the colorized photo against the true one, the PSNR of the gray baseline (the photo's luminance, "
            "what the input already is), the **gain** (their difference), and the colourfulness (Hasler & "
            "Suesstrunk) as a share of the true photo's. *+ chroma shrinkage* rows are the same checkpoint with "
            "its predicted colour scaled by the gain s fitted on the validation crops at that step "
            "(`--chroma-shrink`, `vqlab/eval/chroma.py`). The *likelihood chroma-bins* runs (stage `heads`) "
            "treat colour as classification (Zhang et al. 2016; `--likelihood chroma-bins`): a categorical over "
            "32 bins per chroma channel, shown as the annealed mean at temperature T (1: the mean, lower: towards "
            "the most likely colour); they are measured at their own T = 0.38 and at T = 1, 0.6 and 0.2, each as it "
            "comes and with the chroma gain fitted on the validation crops at that temperature."), "",
            *([(f"**Toy run** on `{data}` (a tiny model for a few steps, for the integration test): its numbers "
               "say nothing about colorization."), ""] if args.toy else []),
            ("The validation photos choose the checkpoint, the chroma gain, the combined run and the chosen "
            "recipe, so their numbers flatter the choices somewhat; the three test photos choose nothing."), ""]
    if found["missing"]:
        n = len(found["missing"])
        page += [(f"**{n} planned run{' is' if n == 1 else 's are'} not finished yet** "
                  f"({', '.join(f'`{name}`' for name in found['missing'])}); "
                  "the tables show the finished ones."), ""]
    if not runs:
        page += ["No finished runs yet.", ""]
    else:
        rows = variants(runs, order)
        baseline_gains = [runs[k]["trained"]["val_mean_gain"] for k in runs if k.startswith("baseline")]
        # The recipes: the baseline's seed-0 run, each change and the combined run (the other seeds only measure
        # the spread), each as trained and with chroma shrinkage.
        label, variant = chosen_variant(runs)
        summary = runs[label][variant]
        scale = runs[label]["measured"]["variants"][variant]["chroma_scale"]
        seeds = confirmation(runs, label, variant)
        page += [f"## Result: {describe(label, variant, scale, runs[label])}", "",
                 ("The chosen recipe is the measured variant with the highest mean gain on the validation photos "
                 "(the baseline's other seeds only measure the spread). A lead of one seed may be luck, so the "
                 "chosen recipe is trained again with seed 1 (stage `confirm`) and measured the same way; the goals "
                 "are checked on seed 0 and on the mean over the seeds."),
                 "", *goal_lines(summary, mean_summary(seeds) if len(seeds) > 1 else None, len(seeds)), ""]
        if len(seeds) > 1:
            page += [("| seed | chroma gain s | val mean gain (dB) | worst val photo (dB) | colourfulness | "
                      "test mean gain (dB) |"), "|---|---|---|---|---|---|"]
            for r in seeds:
                run = runs[label] if r["seed"] == 0 else runs[f"confirm {label_slug(label)} s{r['seed']}"]
                sc = run["measured"]["variants"][variant]["chroma_scale"]
                page.append(f"| {r['seed']} | {sc:.2f} | {_f(r['val_mean_gain'])} | {_f(r['val_worst']['gain'])} "
                            f"({r['val_worst']['photo']}) | {r['colour_ratio']:.0%} | {_f(r['test_mean_gain'])} |")
            page.append("")
        else:
            page += ["Not confirmed with a second seed yet.", ""]
        page += calibration_lines(root, label, docs, photos)
        page += shipped_lines(root, photos)
        page += two_seed_lines(runs)
        page += ["## One change at a time", "",
                 ("| variant | steps | best step | training (min) | val mean gain (dB) | worst val photo (dB) | "
                 "colourfulness | test mean gain (dB) |"), "|---|---|---|---|---|---|---|---|"]
        for lab, var, s in rows:
            facts = run_facts(Path(runs[lab]["run_dir"]))
            sc = runs[lab]["measured"]["variants"][var]["chroma_scale"]
            worst = s["val_worst"]
            page.append(f"| {describe(lab, var, sc, runs[lab])} | {facts['steps']}/{facts['planned']} | {facts['best_step']} | "
                        f"{facts['wall_min']:.1f} | {_f(s['val_mean_gain'])} | "
                        f"{_f(worst['gain']) + ' (' + worst['photo'] + ')' if worst else '–'} | "
                        f"{s['colour_ratio']:.0%} | {_f(s['test_mean_gain'])} |")
        trade = docs / "figures" / "colorize" / "gain_vs_colour.png"
        tradeoff_figure(trade, rows)
        page += ["", ("Every variant above, its validation mean gain against its colourfulness (filled: with the chroma "
                      "gain fitted on validation; hollow: as it comes). The shaded corner is where both goals on the "
                      "validation photos would be met:"), "",
                 f"![gain against colourfulness]({trade.relative_to(docs).as_posix()})"]
        page += ["", (f"Baseline over {len(baseline_gains)} seed(s): validation mean gain "
                 f"{_f(statistics.fmean(baseline_gains))} ± {spread(baseline_gains):.2f} dB (standard deviation)."),
                 "", (f"Rule: a change *helps* when its validation mean gain beats the baseline's mean by more than "
                 f"{HELP_DB} dB and by more than twice the baseline's seed standard deviation; the combined run "
                 "takes every change that helps (the best value of each option) and `--chroma-shrink` when "
                 "shrinkage helped the baseline."), ""]
        plan = root / "combined-plan.json"
        if plan.is_file():
            rule = json.loads(plan.read_text())
            page += [f"Margin used: {rule['margin']:.2f} dB. Helped: "
                     + ("; ".join(rule["reasons"]) if rule["reasons"] else "nothing") + "."
                     + ("" if rule["flags"] else " No combined run was trained."), ""]
        page += [f"## Per photo: {describe(label, variant, scale, runs[label])}", "",
                 ("| photo | split | size | gray PSNR (dB) | colorized PSNR (dB) | gain (dB) | colourfulness "
                 "(output / true) |"), "|---|---|---|---|---|---|---|"]
        for ph in runs[label]["measured"]["variants"][variant]["photos"]:
            page.append(f"| {ph['photo']} | {ph['split']} | {ph['size'][0]}x{ph['size'][1]} | "
                        f"{_f(ph['gray_psnr'], sign=False)} | {_f(ph['psnr'], sign=False)} | {_f(ph['gain'])} | "
                        f"{ph['colorfulness']:.1f} / {ph['colorfulness_target']:.1f} ({ph['colorfulness_ratio']:.0%}) |")
        fig = docs / "figures" / "colorize" / "val_photos.png"
        t = runs[label]["measured"]["variants"][variant].get("temperature")
        if not is_archived(Path(runs[label]["run_dir"])):
            names = figure(fig, runs[label]["run_dir"], None if variant == "trained" else scale, photos["val"], t)
            page += ["", (f"Validation photos ({', '.join(names)}): gray input | colorized by the chosen recipe | "
                     "true colours."), "", f"![gray, colorized, true]({fig.relative_to(docs).as_posix()})", ""]
        elif fig.is_file():  # the chosen run's weights are gone (restored from the archive): its figure stays
            page += ["", ("Validation photos: gray input | colorized by the chosen recipe | true colours (drawn "
                     "when the run was trained; its weights are not kept)."), "",
                     f"![gray, colorized, true]({fig.relative_to(docs).as_posix()})", ""]
    page += ["## Commands and time", "", "```bash",
             "OMP_NUM_THREADS=1 python experiments/colorize_study.py --root " + str(root)]
    for stage in ("choices", "seeds", "heads", "combined", "corpus", "corpus2",
                  *sorted(p.relative_to(root).as_posix() for p in (root / "confirm").glob("*"))):
        cmd = root / stage / "command.txt"
        if cmd.is_file():
            page.append("# " + stage + ": " + cmd.read_text().strip())
    page += ["```", ""]
    walls = {}
    for lab, info in runs.items():
        parents = Path(info["run_dir"]).parents
        stage = "confirm" if parents[2].name == "confirm" else parents[1].name
        walls[stage] = walls.get(stage, 0.0) + run_facts(Path(info["run_dir"]))["wall_min"]
    measure_min = sum(info["measured"]["seconds"] for info in runs.values()) / 60
    page.append("Training wall time: " + (", ".join(f"{k} {v:.1f} min" for k, v in walls.items()) or "none")
                + f"; whole-photo measurement {measure_min:.1f} min"
                + (f"; this invocation of the study {study_seconds / 60:.0f} min." if study_seconds else "."))
    page += ["", f"Page written {time.strftime('%Y-%m-%d %H:%M')}.", ""]
    out = getattr(args, "output", None) or docs / "colorize.md"
    atomic_write_text(out, "\n".join(page))
    print(f"wrote {out}")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies/colorize"))
    p.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    p.add_argument("--output", type=Path, default=None, help="page to write (default: DOCS/colorize.md)")
    p.add_argument("--toy", action="store_true")
    p.add_argument("--toy-data", default=None)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--archive", type=Path, default=None,
                   help="run archive (experiments/results/colorize; ROOT/archive with --toy)")
    args = p.parse_args(argv)
    args.archive = (args.archive or (args.root / "archive" if args.toy else ARCHIVE)).resolve()
    write_page(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
