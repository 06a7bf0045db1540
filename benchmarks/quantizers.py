"""The quantizers side by side: each trained for the same compute time at several codebook sizes, then scored.

Equal wall time, made robust to a shared machine: for every dataset x codebook size, the training step of every
quantizer is timed here, interleaved (ROUNDS rounds, the fastest of each kept, so load from other processes
does not favour one quantizer), and each gets ``--steps round(60 M / seconds per step)``: the number of steps it
does in M minutes on a quiet core. The step budgets are kept in OUT/budgets.json, so a rerun uses the same ones.
``vqlab train --steps N`` then trains each run into OUT/runs/NAME (one process at a time); a finished run is
skipped and a started one is resumed, so the script can be run again after an interruption. Each finished run
is scored on its test split and the table is written to OUT/results.csv and OUT/quantizers.md:

- test PSNR (dB), codebook usage (fraction of codes used on the test split; rvq: mean over its codebooks) and
  perplexity of the test codes;
- bits per image: the rate of the code maps under a uniform prior, N h w log2 K (what the .vqz bit-packing
  stores, before entropy coding), and bits/dim, the VQ-VAE's bound on -log2 p(x) per dimension;
- training steps reached, seconds per step, and the peak resident memory of the training process.

Quantizers: vq-paper (the 2017 paper's: codebook loss, random initialisation, no restarts), vq (vqlab's
default: EMA codebook, k-means initialisation, restarts of dead codes), vq-cosine (vq with l2-normalised codes
and inputs), vq-rotation (vq with the rotation trick), fsq (``--fsq-levels auto``: the paper's levels for K, so
K is the product of the levels), simvq, and rvq with 2 codebooks of 2^ceil(b/2) codes for a size 2^b (the same
rate as the others except at odd b).

    python benchmarks/quantizers.py --out study/quantizers --minutes 8     # photos and fashion-mnist, 2^9..2^16
    python benchmarks/quantizers.py --out /tmp/q --toy --data folder:PATH  # seconds, tiny model (the test)
"""

from __future__ import annotations

import argparse
import csv
import fcntl
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SIZES = (2**9, 2**12, 2**14, 2**16)
ROUNDS = 3
DATASETS = ("photos", "fashion-mnist")
TOY_SIZES = (2**4, 2**5)
TOY_MODEL = ["--hidden", "16", "-D", "8", "--batch-size", "8", "--precision", "fp32"]
COLUMNS = [("dataset", "s"), ("quantizer", "s"), ("size", "d"), ("codes", "s"), ("psnr", ".2f"),
           ("usage", ".3f"), ("perplexity", ".1f"), ("bits_per_image", ".0f"), ("bits_per_dim", ".3f"),
           ("steps", "d"), ("sec_per_step", ".3f"), ("peak_mb", ".0f")]


def variants(size: int) -> dict[str, list[str]]:
    """Quantizer name -> its ``vqlab train`` flags at codebook size ``size`` (a power of two)."""
    half = 2 ** math.ceil(math.log2(size) / 2)
    return {
        "vq-paper": ["--quantizer", "vq", "--no-ema", "--no-kmeans-init", "--restart-after", "0", "-K", str(size)],
        "vq": ["--quantizer", "vq", "-K", str(size)],
        "vq-cosine": ["--quantizer", "vq", "--cosine-codes", "-K", str(size)],
        "vq-rotation": ["--quantizer", "vq", "--rotation-trick", "-K", str(size)],
        "fsq": ["--quantizer", "fsq", "-K", str(size)],
        "simvq": ["--quantizer", "simvq", "-K", str(size)],
        "rvq": ["--quantizer", "rvq", "--num-codebooks", "2", "-K", str(half)],
    }


def _label(dataset: str) -> str:
    return dataset.split(":")[0] if dataset.startswith("folder:") else dataset


def train_run(run: Path, flags: list[str], log) -> None:
    """Train (or resume) one run in its own process; its peak RSS is kept in RUN/peak_memory.json."""
    resume = (run / "config.json").is_file()
    cmd = [sys.executable, "-m", "vqlab", "train", "--out", str(run), "--no-progress", *flags]
    if resume:
        cmd.append("--resume")
    run.mkdir(parents=True, exist_ok=True)
    log(f"{'resume' if resume else 'train '} {run.name}")
    with open(run / "train.log", "a") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage (ru_maxrss in KiB on Linux)
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{run.name} failed (exit {proc.returncode}); see {run / 'train.log'}")
    peak_file = run / "peak_memory.json"
    previous = json.loads(peak_file.read_text())["peak_mb"] if peak_file.is_file() else 0.0
    peak_file.write_text(json.dumps({"peak_mb": max(previous, usage.ru_maxrss / 1024)}) + "\n")


def finished(run: Path, steps: int) -> bool:
    """The run's newest checkpoint has reached its step budget."""
    from vqlab.train.checkpoint import latest_checkpoint, read_state

    ckpt = latest_checkpoint(run) if (run / "config.json").is_file() else None
    return ckpt is not None and read_state(ckpt)["step"] >= steps


def train_config(flags: list[str]):
    """The resolved config ``vqlab train FLAGS`` would train."""
    from vqlab.cli import build_parser
    from vqlab.cli_train import config_from_args

    return config_from_args(build_parser().parse_args(["train", "--out", "unused", *flags]))


def step_budgets(out: Path, key: str, flags: dict[str, list[str]], minutes: float, log) -> dict[str, Any]:
    """Steps each variant (name -> train flags) does in ``minutes`` on one thread, timed interleaved; cached.

    Returns ``{"minutes", "seconds_per_step": {name: s}, "steps": {name: n}}``."""
    from vqlab.data import load_dataset
    from vqlab.experiments.eta import time_training_steps

    out.mkdir(parents=True, exist_ok=True)
    path = out / "budgets.json"
    with open(out / "budgets.lock", "w") as lock:  # one invocation per dataset may run at once; they share the file
        fcntl.flock(lock, fcntl.LOCK_EX)
        budgets = json.loads(path.read_text()) if path.is_file() else {}
        if key in budgets and set(budgets[key]["steps"]) >= set(flags):
            return budgets[key]
        configs = {name: train_config(f) for name, f in flags.items()}
        d = next(iter(configs.values())).data
        data = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
        seconds: dict[str, float] = {}
        for _ in range(ROUNDS):
            for name, cfg in configs.items():
                t = time_training_steps(cfg, threads=1, dataset=data)
                seconds[name] = min(seconds.get(name, math.inf), t)
        steps = {name: max(1, round(60 * minutes / t)) for name, t in seconds.items()}
        log(f"{key}: seconds per step " + ", ".join(f"{n} {t:.3f}" for n, t in seconds.items()))
        budgets[key] = {"minutes": minutes, "seconds_per_step": seconds, "steps": steps}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(budgets, indent=1) + "\n")
        tmp.replace(path)
    return budgets[key]


def score(run: Path, dataset: str, quantizer: str, size: int, sec_per_step: float) -> dict[str, Any]:
    """One row of the table for a finished run."""
    from vqlab.data import load_dataset
    from vqlab.experiments.evaluation import evaluate_run
    from vqlab.train.run import load_run, read_metrics

    m = evaluate_run(run, iw_samples=1)
    loaded = load_run(run)
    d = loaded.config.data
    data = load_dataset(d.dataset, root=d.root, image_size=d.image_size, download=False)
    dims = int(math.prod(data.test.shape[1:]))
    train = [r for r in read_metrics(run) if r["split"] == "train"]
    steps = train[-1]["step"]
    q = loaded.config.quantizer
    peak = run / "peak_memory.json"  # absent for a run trained by other means
    codes = str(loaded.model.num_codes) + (f"x{loaded.model.num_codebooks}" if loaded.model.num_codebooks > 1 else "")
    if q.name == "fsq":
        codes += f" ({q.fsq_levels})"
    return {
        "dataset": dataset, "quantizer": quantizer, "size": size, "codes": codes, "psnr": m["psnr"],
        "usage": m["codebook_usage"], "perplexity": m["perplexity"],
        "bits_per_image": m["rate_bits_per_dim"] * dims, "bits_per_dim": m["bits_per_dim"], "steps": steps,
        "sec_per_step": sec_per_step, "wall_sec_per_step": train[-1]["wall_time"] / max(steps, 1),
        "peak_mb": json.loads(peak.read_text())["peak_mb"] if peak.is_file() else math.nan,
    }


def markdown(rows: list[dict[str, Any]], minutes: float) -> str:
    """The results as a Markdown page: one table per dataset, then the command of each row."""
    lines = [f"# Quantizers at equal compute time ({minutes:g} min per run on one thread)", "",
             ("bits/image: code rate under a uniform prior (N h w log2 K); bits/dim: the VQ-VAE bound; usage: "
              "fraction of codes used on the test split (rvq: mean over codebooks); s/step: the timed training "
              f"step that set the step budget (steps = 60 x {minutes:g} / s/step); peak MB: resident memory of "
              "the training process."), "", "![PSNR and usage against codebook size](figures/quantizers.png)", ""]
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        lines += [f"## {dataset}", "",
                  ("| quantizer | size | codes | test PSNR | usage | perplexity | bits/image | bits/dim | steps "
                   "| s/step | peak MB |"), "|" + " --- |" * 11]
        for r in (r for r in rows if r["dataset"] == dataset):
            cells = [format(r[k], f) if f != "s" else str(r[k]) for k, f in COLUMNS[1:]]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Commands", "", "Each row's run (`OMP_NUM_THREADS=1`), written by `benchmarks/quantizers.py`:", ""]
    lines += [f"- {r['dataset']} {r['quantizer']} {r['size']}: `{r['command']}`" for r in rows]
    return "\n".join(lines) + "\n"


def figure(rows: list[dict[str, Any]], path: Path) -> None:
    """Test PSNR and codebook usage against codebook size, one line per quantizer, one column per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.5 * len(datasets), 7), squeeze=False)
    for col, dataset in enumerate(datasets):
        mine = [r for r in rows if r["dataset"] == dataset]
        for quantizer in dict.fromkeys(r["quantizer"] for r in mine):
            pts = sorted((r["size"], r["psnr"], r["usage"]) for r in mine if r["quantizer"] == quantizer)
            sizes = [math.log2(p[0]) for p in pts]
            axes[0, col].plot(sizes, [p[1] for p in pts], marker="o", label=quantizer)
            axes[1, col].plot(sizes, [100 * p[2] for p in pts], marker="o", label=quantizer)
        axes[0, col].set_title(dataset)
        axes[0, col].set_ylabel("test PSNR (dB)")
        axes[1, col].set_ylabel("codebook usage (%)")
        axes[1, col].set_xlabel("log2 codebook size")
        axes[1, col].set_ylim(0, 105)
        for ax in axes[:, col]:
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


READING = ("<!-- reading -->", "<!-- /reading -->")


def with_reading(page: str, previous: Path) -> str:
    """``page`` with the hand-written reading (between the READING markers) of the page it replaces kept after
    its first paragraph, so regenerating the tables does not erase the interpretation."""
    if not previous.is_file():
        return page
    old = previous.read_text()
    start, end = old.find(READING[0]), old.find(READING[1])
    if start < 0 or end < start:
        return page
    title, _, rest = page.partition("\n\n")
    return f"{title}\n\n{old[start:end + len(READING[1])]}\n\n{rest}"


def write_results(out: Path, rows: list[dict[str, Any]], minutes: float, docs: Path | None = None) -> None:
    """OUT/results.csv, OUT/quantizers.md and OUT/figures/quantizers.png from the rows so far (and the same page
    and figure in DOCS, keeping the reading written there)."""
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k, _ in COLUMNS] + ["wall_sec_per_step", "command"])
        writer.writeheader()
        writer.writerows(rows)
    for folder in (out, docs) if docs is not None else (out,):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "quantizers.md").write_text(with_reading(markdown(rows, minutes), folder / "quantizers.md"))
        figure(rows, folder / "figures" / "quantizers.png")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="study folder (runs/, results.csv, quantizers.md)")
    p.add_argument("--minutes", type=float, default=8.0, help=(
        "compute time per run (8): each quantizer trains for the steps it does in this time on one thread"))
    p.add_argument("--data", default=",".join(DATASETS), help="comma list of datasets (photos,fashion-mnist)")
    p.add_argument("--sizes", default=None, help="comma list of codebook sizes, powers of two (512,...,65536)")
    p.add_argument("--quantizers", default=None, help="comma list (default: all)")
    p.add_argument("--toy", action="store_true", help="tiny model, sizes 16,32 and 0.05 minutes (for tests)")
    p.add_argument("--page-only", action="store_true", help=(
        "train nothing: score the finished runs and write the table, page and figure from them"))
    p.add_argument("--docs", type=Path, default=None, help=(
        "also write the page and figure here (docs: docs/quantizers.md, keeping its hand-written reading)"))
    p.add_argument("--extra", default="", help="more vqlab train flags for every run, e.g. '--hidden 64'")
    args = p.parse_args()
    sizes = [int(v) for v in args.sizes.split(",")] if args.sizes else list(TOY_SIZES if args.toy else SIZES)
    if any(s < 2 or s & (s - 1) for s in sizes):
        p.error("--sizes must be powers of two")
    minutes = 0.05 if args.toy and args.minutes == 8.0 else args.minutes
    names = args.quantizers.split(",") if args.quantizers else list(variants(sizes[0]))
    unknown = [n for n in names if n not in variants(sizes[0])]
    if unknown:
        p.error(f"unknown --quantizers {', '.join(unknown)} (choose from {', '.join(variants(sizes[0]))})")
    common = ["--checkpoint-every", "20" if args.toy else "500", "--log-every", "10" if args.toy else "50",
              *(TOY_MODEL if args.toy else []), *args.extra.split()]

    def log(line: str) -> None:
        print(line, flush=True)

    rows = []
    for dataset in args.data.split(","):
        for size in sizes:
            flags = {name: ["--data", dataset, *variants(size)[name], *common] for name in names}
            key = f"{_label(dataset)}-K{size}"
            timed = args.out / "budgets.json"
            budgets = json.loads(timed.read_text()) if args.page_only and timed.is_file() else {}
            if args.page_only and key not in budgets:
                log(f"{key}: not timed yet, left out of the page")
                continue
            budget = budgets[key] if args.page_only else step_budgets(args.out, key, flags, minutes, log)
            for name in names:
                run = args.out / "runs" / f"{_label(dataset)}-{name}-K{size}"
                steps = budget["steps"][name]
                run_flags = [*flags[name], "--steps", str(steps), "--eval-every", str(steps)]
                if not finished(run, steps):
                    if args.page_only:
                        log(f"{run.name}: not finished, left out of the page")
                        continue
                    train_run(run, run_flags, log)
                rows.append(score(run, _label(dataset), name, size, budget["seconds_per_step"][name]))
                rows[-1]["command"] = " ".join(["vqlab", "train", "--out", f"runs/{run.name}", *run_flags])
                r = rows[-1]
                log(f"{run.name}: PSNR {r['psnr']:.2f} dB, usage {r['usage']:.3f}, {r['steps']} steps")
                write_results(args.out, rows, minutes, args.docs)
    if not rows:
        raise SystemExit(f"error: no finished runs in {args.out}")
    print(f"wrote {args.out / 'results.csv'} and {args.out / 'quantizers.md'}")


if __name__ == "__main__":
    main()
