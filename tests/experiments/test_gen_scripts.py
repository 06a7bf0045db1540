"""The generation and comparison study scripts (experiments/generation_study.py, comparison_study.py) at toy
size, and a dry run of experiments/paper_cifar10.sh whose every vqlab command must parse."""

import gzip
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS = ROOT / "experiments"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def generation_study():
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        import generation_study
    finally:
        sys.path.pop(0)
    return generation_study


@pytest.fixture(scope="module")
def comparison_study():
    sys.path.insert(0, str(EXPERIMENTS))
    try:
        import comparison_study
    finally:
        sys.path.pop(0)
    return comparison_study


def test_full_size_commands_parse_and_validate(generation_study, comparison_study, tmp_path, monkeypatch):
    """What the studies would run at their default (full) size is a valid vqlab command line and config."""
    from vqlab.cli import build_parser
    from vqlab.cli_train import config_from_args
    from vqlab.train.prior import PriorConfig

    parser = build_parser()
    gen = generation_study.build_parser().parse_args([])
    for part, dataset in (("fashion", "fashion-mnist"), ("photos", "photos")):
        cfg = config_from_args(parser.parse_args(["train", "--out", "x", *generation_study.train_flags(gen, part)]))
        assert (cfg.data.dataset, cfg.train.steps, cfg.model.hidden, cfg.model.num_embeddings,
                cfg.model.embedding_dim) == (dataset, 6000, 128, 512, 64)
        a = parser.parse_args(["prior", "x", *generation_study.prior_flags(gen, part)])
        PriorConfig(dim=a.dim, layers=a.layers, kernel=a.kernel, steps=a.steps, batch_size=a.batch_size, lr=a.lr,
                    seed=a.seed, max_minutes=a.max_minutes).validate()
        assert (a.dim, a.layers, a.max_minutes, a.json) == (128, 12, 40.0, True)
    monkeypatch.chdir(tmp_path)  # the study's commands run in its root, next to this file
    (tmp_path / comparison_study.KEEP_ALL).write_text("train:\n  keep_checkpoints: 1000000\n")
    cmp_args = comparison_study.build_parser().parse_args(["--vimco-minutes", "90"])
    for dataset in ("photos-wide", "fashion"):
        for model in ("vqvae", "vae", "vimco"):
            flags = comparison_study.train_flags(cmp_args, dataset, model)
            cfg = config_from_args(parser.parse_args(["train", "--out", "x", *flags]))
            assert (cfg.model.name, cfg.model.likelihood, cfg.model.hidden, cfg.train.lr_schedule) == \
                (model, "softmax256", 128, "cosine")
            assert cfg.train.max_minutes == (90 if model == "vimco" else 60)
            assert cfg.train.keep_checkpoints == 1000000 and cfg.train.steps > 1000 * cfg.train.checkpoint_every
            assert model != "vimco" or cfg.vimco.samples == 10


def test_fashion_labels_from_idx1_files(generation_study, tmp_path):
    labels = np.array([9, 2, 1, 1, 6, 1, 4, 6, 5, 7, 4, 5, 7, 3, 4, 1, 2, 4, 8, 0], dtype=np.uint8)
    header = np.array([0x00000801, labels.size], dtype=">u4").tobytes()
    (tmp_path / "plain").write_bytes(header + labels.tobytes())
    with gzip.open(tmp_path / "packed.gz", "wb") as f:
        f.write(header + labels.tobytes())
    for name in ("plain", "packed.gz"):
        assert generation_study.read_idx_labels(tmp_path / name).tolist() == labels.tolist()
    first = generation_study.first_of_each_class(labels)
    assert first == {0: 19, 1: 2, 2: 1, 3: 13, 4: 6, 5: 8, 6: 4, 7: 9, 8: 18, 9: 0}
    (tmp_path / "short").write_bytes(header + labels[:-1].tobytes())
    with pytest.raises(ValueError, match="not an idx1-ubyte"):
        generation_study.read_idx_labels(tmp_path / "short")


def test_photo_mix_images(generation_study, tmp_path):
    from PIL import Image

    study = generation_study.Study(tmp_path)
    plan = generation_study.choose_images(study, "photos", toy_data="folder:unused")
    (a, b, caption), = plan["mixes"]
    assert (a, b) == ("photos/images/astronaut_128.png", "photos/images/coffee_128.png")
    assert caption.startswith("top of astronaut + bottom of coffee")
    (ia, ib, _), = plan["interpolations"]
    assert Image.open(tmp_path / a).size == (128, 128) and Image.open(tmp_path / ia).size == (32, 32)
    assert Image.open(tmp_path / ib).mode == "RGB"


def test_generation_study_and_page_at_toy_size(image_folder, tmp_path):
    root = tmp_path / "gen"
    script = str(EXPERIMENTS / "generation_study.py")
    args = ["--root", str(root), "--toy", "--toy-data", f"folder:{image_folder}", "--parts", "fashion"]
    proc = _run(script, *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    figures = root / "fashion" / "figures"
    assert {p.name for p in figures.glob("*.png")} == {
        "samples_t1.0.png", "samples_t0.7.png", "mix_test-image-0_test0_test-image-1_test1.png",
        "interpolate_test-image-0_test0_test-image-1_test1.png"}
    prior = json.loads((root / "fashion" / "prior.json").read_text())
    assert prior["uniform_bits_per_latent"] == 5.0 and prior["vqvae_step"] == 40
    logged = [json.loads(line) for line in (root / "commands.jsonl").read_text().splitlines()]
    assert [r["tag"] for r in logged] == ["fashion:train", "fashion:prior", "fashion:sample", "fashion:sample",
                                          "fashion:top-bottom", "fashion:interpolate"]
    assert logged[0]["command"].startswith("vqlab train --out fashion/vqvae --preset tiny")

    again = _run(script, *args, cwd=tmp_path)  # everything is done: nothing runs again
    assert again.returncode == 0, again.stderr[-2000:]
    assert "finished, skipped" in again.stdout and "] vqlab " not in again.stdout
    assert len((root / "commands.jsonl").read_text().splitlines()) == len(logged)

    docs = tmp_path / "docs"
    docs.mkdir()
    proc = _run(script, "--page", "--root", str(root), "--docs", str(docs), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (docs / "generation.md").read_text()
    assert "| uniform over K=32: log2 K | 5.000 |" in page and "| PixelCNN | **" in page
    assert "![samples, temperature 0.7](figures/generation/fashion/samples_t0.7.png)" in page
    assert "## photos (32x32 colour crops)\n\nNot run yet." in page
    assert "`vqlab prior fashion/vqvae --dim 16" in page
    assert (docs / "figures" / "generation" / "fashion" / "samples_t1.0.png").is_file()

    # The photos part on a machine that kept no folder of the fashion part: its section stays on the page as it was.
    begin, end = "<!-- generation:fashion:begin -->", "<!-- generation:fashion:end -->"
    fashion = page[page.index(begin):page.index(end)]
    shutil.rmtree(root)
    args = ["--root", str(root), "--toy", "--toy-data", f"folder:{image_folder}", "--parts", "photos"]
    proc = _run(script, *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = _run(script, "--page", "--root", str(root), "--docs", str(docs), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (docs / "generation.md").read_text()
    assert page[page.index(begin):page.index(end)] == fashion
    assert "Not run yet" not in page and "`vqlab prior photos/vqvae --dim 16" in page


def test_comparison_study_and_page_at_toy_size(image_folder, tmp_path):
    root = tmp_path / "cmp"
    script = str(EXPERIMENTS / "comparison_study.py")
    args = ["--root", str(root), "--toy", "--toy-data", f"folder:{image_folder}"]
    proc = _run(script, *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again = _run(script, *args, cwd=tmp_path)  # everything is done: nothing runs again
    assert again.returncode == 0 and "] vqlab " not in again.stdout, again.stdout + again.stderr[-2000:]
    table = (root / "toy" / "compare.md").read_text().splitlines()
    assert [line.split("|")[2].strip() for line in table[2:]] == ["vqvae", "vae", "vimco"]
    assert "vae: IWAE k=2" in table[3] and "softmax256" in table[2]
    for model in ("vqvae", "vae", "vimco"):  # the plateau check's two checkpoints (of 4, 8, 12), the others removed
        names = sorted(p.name for p in (root / "toy" / "plateau").glob(f"{model}-step*"))
        assert len(names) == 2 and names[0] == f"{model}-step12" and names[1] in {f"{model}-step4", f"{model}-step8"}
        assert sorted(p.name for p in (root / "toy" / model / "checkpoints").iterdir()) == ["latest", "step_00000012"]

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "comparison.md").write_text("# Title\n\nkept above\n\n<!-- comparison-study:begin -->\nold\n"
                                        "<!-- comparison-study:end -->\n\nkept below\n")
    proc = _run(script, "--page", "--root", str(root), "--docs", str(docs), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (docs / "comparison.md").read_text()
    assert page.startswith("# Title\n\nkept above\n\n<!-- comparison-study:begin -->\n## The study")
    assert page.endswith("<!-- comparison-study:end -->\n\nkept below\n") and "\nold\n" not in page
    assert "| Gaussian VAE | 4.51 |" in page and "The paper's ordering (VAE < VQ-VAE < VIMCO) **" in page
    assert "| model | at ~75% of the time: step (min) |" in page and "| 12 (" in page
    assert "vqlab evaluate toy/vimco --iw-samples 2 --json" in page

    # Another session on a machine that kept no run folder: every run is restored from the archive (no weights),
    # nothing is trained or evaluated again, and the page shows the same table.
    archive = root / "archive"
    assert (archive / "toy" / "vae" / "evaluation.json").is_file() and not list(archive.rglob("*.safetensors"))
    moved = tmp_path / "archive"
    archive.rename(moved)
    table_before = (root / "toy" / "compare.md").read_text()
    shutil.rmtree(root)
    proc = _run(script, *args, "--archive", str(moved), cwd=tmp_path)
    assert proc.returncode == 0 and "] vqlab " not in proc.stdout, proc.stdout + proc.stderr[-2000:]
    assert proc.stdout.count("restored from") == 3
    assert (root / "toy" / "compare.md").read_text() == table_before
    proc = _run(script, "--page", "--root", str(root), "--docs", str(docs), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    again_page = (docs / "comparison.md").read_text()
    assert table_before.strip() in again_page and "vqlab evaluate toy/vimco --iw-samples 2 --json" in again_page
    assert "Still training" not in again_page and "different machines" not in again_page
    # one run trained elsewhere (as when a study is spread over sessions): the page says so
    (root / "toy" / "vimco" / "machine.txt").write_text("Some Other CPU\n")
    proc = _run(script, "--page", "--root", str(root), "--docs", str(docs), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "were trained on different machines** (" in (docs / "comparison.md").read_text()
    assert "VIMCO: Some Other CPU" in (docs / "comparison.md").read_text()


def test_comparison_study_splits_its_runs_over_processes(image_folder, tmp_path):
    # --models: two processes train different models of one dataset; the table appears once all three are done.
    root = tmp_path / "cmp"
    script = str(EXPERIMENTS / "comparison_study.py")
    args = ["--root", str(root), "--toy", "--toy-data", f"folder:{image_folder}"]
    first = _run(script, *args, "--models", "vimco", cwd=tmp_path)
    assert first.returncode == 0 and "table waits" in first.stdout, first.stdout + first.stderr[-2000:]
    assert not (root / "toy" / "compare.md").exists()
    second = _run(script, *args, "--models", "vqvae,vae", cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "toy/vimco: finished" not in second.stdout and (root / "toy" / "compare.md").is_file()
    bad = _run(script, *args, "--models", "vqvae,gan", cwd=tmp_path)
    assert bad.returncode == 2 and "--models" in bad.stderr


def test_paper_cifar10_script_commands_parse(tmp_path):
    from vqlab.cli import build_parser
    from vqlab.cli_train import config_from_args, resume_config
    from vqlab.train.run import write_config

    script = EXPERIMENTS / "paper_cifar10.sh"
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    runs = tmp_path / "runs"

    def dry_run() -> list[list[str]]:
        env = dict(os.environ, DRY_RUN="1", RUNS=str(runs))
        proc = subprocess.run(["bash", str(script)], env=env, check=True, capture_output=True, text=True)
        return [shlex.split(line) for line in proc.stdout.splitlines()]

    lines = dry_run()
    assert [words[1] for words in lines] == ["train", "prior", "sample", "sample", "train", "train", "compare"]
    parser = build_parser()
    for words in lines:
        assert words[0] == "vqlab"
        args = parser.parse_args(words[1:])
        if args.command == "train":
            cfg = config_from_args(args)
            assert (cfg.model.hidden, cfg.model.likelihood, cfg.data.dataset) == (256, "softmax256", "cifar10")
            assert cfg.data.download and not args.resume
    models = [parser.parse_args(w[1:]).model for w in lines if w[1] == "train"]
    assert models == ["vqvae", "vae", "vimco"]

    # A started VAE run resumes with its own settings; a finished VQ-VAE run is skipped.
    vae_args = parser.parse_args(lines[4][1:])
    write_config(runs / "vae", config_from_args(vae_args), 3)
    (runs / "vqvae" / "checkpoints").mkdir(parents=True)
    (runs / "vqvae" / "checkpoints" / "latest").write_text("step_00250000\n")
    lines = dry_run()
    assert [words[1] for words in lines] == ["prior", "sample", "sample", "train", "train", "compare"]
    resumed = parser.parse_args(lines[3][1:])
    assert resumed.resume and resumed.out == runs / "vae"
    from vqlab.train.run import read_config

    resume_config(read_config(runs / "vae")[0], resumed)  # raises if the resume changed a fixed option


def test_plateau_check_tells_overfitting_from_a_plateau(comparison_study, tmp_path):
    def view(model: str, step: int, bits: float) -> None:
        folder = tmp_path / "ds" / "plateau" / f"{model}-step{step}"
        folder.mkdir(parents=True)
        metrics = {"bits_per_dim": bits, "step": step, "wall_time": step * 1.0}
        (folder / "evaluation.json").write_text(json.dumps({"metrics": metrics}))

    view("vqvae", 150, 8.28), view("vqvae", 200, 8.46)  # rose: overfitting
    view("vae", 150, 5.00), view("vae", 200, 4.99)  # flat: a plateau
    view("vimco", 150, 6.00), view("vimco", 200, 5.50)  # still falling
    rows = {r["model"]: r for r in comparison_study.plateau_rows(tmp_path, "ds")}
    assert (rows["vqvae"]["rising"], rows["vqvae"]["plateau"]) == (True, False)
    assert (rows["vae"]["rising"], rows["vae"]["plateau"]) == (False, True)
    assert (rows["vimco"]["rising"], rows["vimco"]["plateau"]) == (False, False)
    section, _ = comparison_study.dataset_section(tmp_path, "ds", {})
    text = "\n".join(section)
    assert "**no: test NLL rose (overfitting)**" in text and "Test NLL rising at the end of the budget: VQ-VAE" in text
    assert "Not at a plateau within the budget: VIMCO;" in text
