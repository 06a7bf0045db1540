"""The colorization study (experiments/colorize_study.py, colorize_page.py) at toy size on a generated folder with
train/, val/ and test/ subfolders: it trains the choices and the seeds, measures whole photographs with the best
checkpoints, applies its rules and writes the page; run again, it trains nothing new."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_images
from tests.experiments.conftest import experiment

ROOT = Path(__file__).resolve().parents[2]


def _study():
    return experiment("colorize_study")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def study_grid() -> list[float]:
    return list(_study().GAIN_GRID)


def _summary(gain: float, shrunk: float | None = None) -> dict:
    out = {"trained": {"val_mean_gain": gain}}
    if shrunk is not None:
        out["shrink"] = {"val_mean_gain": shrunk}
    return out


def test_helping_changes_rule():
    study = _study()
    results = {"baseline": _summary(0.0, 0.5), "baseline seed 1": _summary(0.1), "hflip=true": _summary(0.05),
               "weight-decay=0.1": _summary(0.6), "weight-decay=1": _summary(0.9), "hidden=64": _summary(-1.0)}
    rule = study.helping_changes(results, [0.0, 0.1])
    assert rule["margin"] == pytest.approx(max(study.HELP_DB, 2 * 0.0707), rel=1e-2)
    assert rule["flags"] == ["--weight-decay", "1"]  # the best value of the one option that helped
    assert rule["shrink"]  # +0.5 dB with the fitted chroma gain
    wide = study.helping_changes(results, [0.0, 0.8])  # a large seed spread: nothing is distinguishable
    assert wide["flags"] == [] and not wide["shrink"]


def test_chosen_variant_and_its_flags(tmp_path):
    study = _study()

    def run(**variants):
        return {"measured": {"variants": dict.fromkeys(variants)},
                **{k: {"val_mean_gain": v} for k, v in variants.items()}}

    runs = {"baseline": run(trained=-0.2, shrink=0.1), "baseline seed 1": run(trained=0.9),
            "likelihood=chroma-bins, weight-decay=1": run(trained=-0.3, **{"T=0.6 shrink": 0.4}),
            "confirm likelihood_chroma-bins-weight-decay_1 s1": run(**{"T=0.6 shrink": 0.8}),
            "hidden=64": run(trained=0.2)}
    # The extra baseline seed and the confirmation run choose nothing.
    assert study.chosen_variant(runs) == ("likelihood=chroma-bins, weight-decay=1", "T=0.6 shrink")
    assert study.label_flags("likelihood=chroma-bins, weight-decay=1", tmp_path) == [
        "--likelihood", "chroma-bins", "--weight-decay", "1"]
    assert study.label_flags("baseline", tmp_path) == [] and study.label_flags("hidden=64", tmp_path) == [
        "--hidden", "64"]
    (tmp_path / "combined-plan.json").write_text(json.dumps({"flags": ["--hflip", "true"], "shrink": True}))
    assert study.label_flags("combined", tmp_path) == ["--hflip", "true", "--chroma-shrink", "true"]
    assert study.label_slug("likelihood=chroma-bins, weight-decay=1") == "likelihood_chroma-bins-weight-decay_1"
    assert study.chosen_variant({}) is None
    corpus = "corpus: likelihood=mse, weight-decay=1, steps=10000"
    assert study.label_flags(corpus, tmp_path) == ["--likelihood", "mse", "--weight-decay", "1", "--steps", "10000",
                                                   "--data-root", str((tmp_path / "corpus" / "corpus.json").resolve())]
    assert study.label_slug(corpus) == "corpus-likelihood_mse-weight-decay_1-steps_10000"
    corpus2 = "corpus2: likelihood=chroma-bins, weight-decay=1, steps=10000"
    assert study.label_flags(corpus2, tmp_path) == ["--likelihood", "chroma-bins", "--weight-decay", "1", "--steps",
                                                    "10000"]


def test_each_choice_run_is_labelled_by_the_one_option_it_changed(tmp_path):
    """The real axes, on the configs the choices sweep plans: the baseline is no change; --downsample 8 and
    --image-size 64 (the receptive-field axes) are told apart from it like the others."""
    import argparse

    from vqlab import config as cfgmod
    from vqlab.cli_train import TRAIN_FLAGS
    from vqlab.experiments.sweep import plan_sweep

    study = _study()
    base = cfgmod.preset("default")
    base.data.dataset, base.data.task, base.data.image_size = "photos-wide", "colorize", 32
    axes = {flag.replace("-", "_"): values for flag, values in study.AXES.items()}
    kinds = study.baseline_values(argparse.Namespace(toy=False))
    typed = {dest: [type(kinds[dest.replace("_", "-")])(v == "true" if dest == "hflip" else float(v))
                    for v in values] for dest, values in axes.items()}
    runs = plan_sweep(base, typed, TRAIN_FLAGS, vary=True)
    labels = set()
    for run in runs:
        run_dir = tmp_path / run.name
        run_dir.mkdir()
        (run_dir / "config.json").write_text(run.config.to_json())
        change = study.changed_option(run_dir, kinds)
        labels.add("baseline" if change is None else f"{change[0]}={change[1]}")
    assert labels == {"baseline", "hflip=true", "random-crop=0.5", "weight-decay=0.1", "weight-decay=1", "hidden=64",
                      "hidden=256", "steps=10000", "downsample=8", "image-size=64"}
    assert len(runs) == len(labels)  # the first value of every axis is the baseline's: one shared run


def test_study_and_page_at_toy_size(tmp_path):
    data = tmp_path / "data"
    for split, n, seed in (("train", 24, 0), ("val", 4, 1), ("test", 3, 2)):
        make_images(data / split, n=n, seed=seed)
    # --root relative to the working directory, as a user gives it
    root, docs = tmp_path / "studies", tmp_path / "docs"
    args = ["--root", "studies", "--toy", "--toy-data", f"folder:{data}", "--docs", str(docs), "--seeds", "2"]
    proc = _run(str(ROOT / "experiments" / "colorize_study.py"), *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # 4 choices, 1 more seed, 2 heads, 2 corpus, 2 corpus2 (seeds 0 and 1)
    assert "measured 11 runs (0 planned runs not finished)" in proc.stdout
    page = (docs / "colorize.md").read_text()
    assert "**Toy run**" in page and "| goal (from the issue) |" in page
    for label in ("| baseline |", "| hflip true |", "| random-crop 0.5 |", "| h=8 |", "| baseline seed 1 |",
                  "+ chroma shrinkage (s=", "| likelihood chroma-bins, T=0.38 |", "| likelihood chroma-bins, T=1 |",
                  "| likelihood chroma-bins, weight-decay 1, T=0.2 + chroma shrinkage (s=",
                  "| corpus: likelihood mse, weight-decay 1, steps=8 |",
                  "| corpus: likelihood chroma-bins, weight-decay 1, steps=8, T=0.38 |"):
        assert label in page, label
    assert "| img_000.png | val | 16x16 |" in page and "| img_000.png | test | 16x16 |" in page
    assert (docs / "figures" / "colorize" / "val_photos.png").is_file()
    assert (docs / "figures" / "colorize" / "gain_vs_colour.png").is_file() and "![gain against colourfulness]" in page
    assert "The colorizer shipped with vqlab" in page
    record = json.loads((root / "corpus" / "corpus.json").read_text())
    assert record["crops"] == {"train": 24, "val": 4, "test": 3} and record["data"].startswith("folder:")
    assert "# corpus: " in page and "# corpus2: " in page
    # corpus2: seed 1 is the confirmation of the seed-0 label, and the stage's table shows both seeds
    assert json.loads((root / "corpus2" / "corpus.json").read_text())["crops"]["train"] == 24
    assert "## Two seeds on the bigger corpus (stage `corpus2`)" in page
    assert "| corpus2: likelihood mse, weight-decay 1, steps=8 | " in page
    assert "| corpus2: likelihood mse, weight-decay 1, steps=8 + chroma shrinkage | " in page
    plan = json.loads((root / "combined-plan.json").read_text())
    assert set(plan) == {"flags", "shrink", "margin", "baseline", "reasons"}
    measured = json.loads((root / "choices" / "runs").glob("*-s0").__next__().joinpath("photos.json").read_text())
    assert [p["split"] for p in measured["variants"]["trained"]["photos"]] == ["val"] * 4 + ["test"] * 3
    heads = json.loads(next((root / "heads" / "runs").glob("*weight-decay_0-*")).joinpath("photos.json").read_text())
    assert set(heads["variants"]) == {"trained", "shrink", "T=1", "T=1 shrink", "T=0.6", "T=0.6 shrink", "T=0.2",
                                      "T=0.2 shrink"}
    # The chosen recipe trained again with seed 1 and reported on both seeds; a corpus2 recipe has its seed 1.
    confirm = list((root / "confirm").glob("*/runs/s1"))
    if "has its seed-1 run already" in proc.stdout:
        assert not confirm and "## Result: corpus2: " in page
    else:
        assert len(confirm) == 1 and "confirm: the chosen recipe is" in proc.stdout
    assert "| goal (from the issue) | target | chosen recipe, seed 0 | met | mean over 2 seeds | met |" in page
    assert "| seed | chroma gain s |" in page and "\n| 1 | " in page
    assert "# confirm/" in page or "## Result: corpus2: " in page
    # calibrate: the chosen recipe's gain chosen on the whole validation photos, over its two seeds
    cal = json.loads((root / "calibration.json").read_text())
    assert cal["scale"] in study_grid() and set(cal["exact"]) == {"0", "1"} and len(cal["curves"]["0"]) == 21
    assert all(c["scale"] == g for c, g in zip(cal["curves"]["1"], study_grid()))
    means = [(cal["curves"]["0"][i]["val_mean_gain"] + cal["curves"]["1"][i]["val_mean_gain"]) / 2 for i in range(21)]
    assert means[study_grid().index(cal["scale"])] == max(means)
    assert cal["curves"]["0"][0]["val_mean_gain"] == pytest.approx(0.0, abs=0.02)  # gain 0: the gray photo
    assert json.loads((root / "archive" / "calibration.json").read_text())["scale"] == cal["scale"]
    shipped_form = json.loads((tmp_path / cal["exact"]["0"]["run_dir"] / "photo-gain.json").read_text())
    assert shipped_form["variants"]["photo-gain"]["chroma_scale"] == cal["scale"]
    assert "## The chroma gain chosen on whole photos (stage `calibrate`)" in page
    assert f"| **{cal['scale']:.2f}** |" in page and f"At s = {cal['scale']:.2f}, measured exactly" in page
    assert (docs / "figures" / "colorize" / "calibrated_photos.png").is_file()
    assert "![gray, colorized at the chosen gain, true](figures/colorize/calibrated_photos.png)" in page
    rows = [line.split(" |")[0] for line in page.splitlines() if line.startswith("| likelihood chroma-bins, T=")]
    assert [r.split("T=")[1].split(" ")[0] for r in rows] == ["0.38", "0.38", "1", "1", "0.6", "0.6", "0.2", "0.2"]
    assert heads["variants"]["T=1"]["chroma_scale"] == 1.0 and 0 <= heads["variants"]["T=1 shrink"]["chroma_scale"] <= 1
    # again: every run is finished and measured, so nothing is trained or measured twice
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("photos.json")}
    proc = _run(str(ROOT / "experiments" / "colorize_study.py"), *args, "--stages", "choices,measure", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "0 to train" in proc.stdout
    assert {p: p.stat().st_mtime_ns for p in root.rglob("photos.json")} == stamps
    # A new machine: the run folders are gone, the archive (committed with the page) is all there is. The page
    # comes back with the same tables, and the study trains nothing the archive has.
    archive = root / "archive"
    assert sorted(p.relative_to(archive).as_posix() for p in archive.glob("**/runs.jsonl")) == [
        f"{s}/runs.jsonl" for s in sorted(["choices", "seeds", "heads", "combined", "corpus", "corpus2",
                                           *(f"confirm/{p.name}" for p in (root / "confirm").glob("*"))])
        if (archive / s).is_dir()]
    records = [json.loads(line) for line in (archive / "heads" / "runs.jsonl").read_text().splitlines()]
    assert len(records) == 2 and {"name", "config", "facts", "measured"} <= set(records[0])
    tables = [line for line in page.splitlines() if line.startswith("|")]
    moved = tmp_path / "moved"
    moved.mkdir()
    (root / "archive").rename(moved / "archive")
    for child in root.iterdir():
        (child.rename(moved / child.name) if child.is_dir() else child.unlink())
    (moved / "archive").rename(root / "archive")
    proc = _run(str(ROOT / "experiments" / "colorize_page.py"), "--root", "studies", "--toy", "--toy-data",
                f"folder:{data}", "--docs", str(docs), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = (docs / "colorize.md").read_text()
    assert [line for line in again.splitlines() if line.startswith("|")] == tables
    assert "its weights are not kept" in again or "![gray, colorized, true]" in again
    assert not list(root.glob("*/runs/*/checkpoints"))  # nothing was trained for the page
    proc = _run(str(ROOT / "experiments" / "colorize_study.py"), *args, "--stages", "choices,seeds,heads,corpus",
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(root.glob("*/runs/*/checkpoints")), "archived runs were trained again"
    assert "planned runs are in" in proc.stdout


def test_measurement_photos_are_pinned(tmp_path, monkeypatch):
    """photos-wide: the first call pins today's val/test photos; later calls measure on the pinned ones even when
    the corpus has grown, and a pinned photo that went missing or into training is an error."""
    from vqlab.data import photos_wide

    study = _study()

    class FakePhoto:
        def __init__(self, name):
            self.name = name

        def load(self, side):
            return side

    def fake_selection(splits):
        class Sel:
            photos = tuple(FakePhoto(n) for n in splits)

            def __init__(self):
                self.splits = dict(splits)

            def names(self, split):
                return [n for n, s in self.splits.items() if s == split]

        return lambda: Sel()

    pin = tmp_path / "archive" / study.PIN_FILE
    monkeypatch.setattr(photos_wide, "select_photos", fake_selection({"a": "train", "v1": "val", "t": "test"}))
    first = study.photo_sets("photos-wide", pin)
    assert [n for n, _ in first["val"]] == ["v1"] and json.loads(pin.read_text()) == {"val": ["v1"], "test": ["t"]}
    assert first["val"][0][1]() == study.VAL_SIDE and first["test"][0][1]() is None
    grown = {"a": "train", "v1": "val", "v2": "val", "t": "test"}
    monkeypatch.setattr(photos_wide, "select_photos", fake_selection(grown))
    assert [n for n, _ in study.photo_sets("photos-wide", pin)["val"]] == ["v1"]  # v2 is new: not measured
    assert [n for n, _ in study.photo_sets("photos-wide")["val"]] == ["v1", "v2"]  # no pin: today's photos
    monkeypatch.setattr(photos_wide, "select_photos", fake_selection({"v1": "train", "t": "test"}))
    with pytest.raises(SystemExit, match="v1"):
        study.photo_sets("photos-wide", pin)


def test_a_corpus_stage_is_not_resumed_on_other_photos(tmp_path, monkeypatch):
    """A corpus stage records its photos (corpus.json); when photos-wide has others today it is left as it is."""
    import argparse

    from vqlab.data import photos_wide

    study = _study()
    today = {"train": ["a", "b"], "val": ["v"], "test": ["t"]}

    class Selection:
        def names(self, split):
            return today[split]

    monkeypatch.setattr(photos_wide, "select_photos", lambda: Selection())
    args = argparse.Namespace(toy=False)
    folder = tmp_path / "corpus"
    assert not study.corpus_changed(folder, args)  # nothing recorded yet: the stage starts
    folder.mkdir()
    (folder / "corpus.json").write_text(json.dumps({"data": "photos-wide", "photos": dict(today)}))
    assert not study.corpus_changed(folder, args)
    today["train"] = ["a", "b", "c"]  # a package installed since
    assert study.corpus_changed(folder, args)
    assert not study.corpus_changed(folder, argparse.Namespace(toy=True))
