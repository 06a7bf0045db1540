"""The results table of a sweep: ``OUT/results.csv``, a row per run with its settings, its final training loss
and the test metrics of ``vqlab evaluate``; plus the per-setting summary (mean and std over seeds)."""

from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any

from vqlab.errors import VQLabError
from vqlab.fileio import atomic_write_text

RESULTS_FILE = "results.csv"
FINAL_FRACTION = 0.05
# Metrics of evaluate_run first in this order, then the rest alphabetically.
FIRST = ("step", "wall_time", "mse", "psnr", "ssim", "perplexity", "codebook_usage", "bits_per_dim")
SKIP = ("run",)


def final_train_loss(rows: list[dict[str, Any]], steps: int, fraction: float = FINAL_FRACTION,
                     key: str = "loss") -> float:
    """Mean ``key`` (default ``loss``, the total) of the training rows logged in the last ``fraction`` of ``steps``
    (rows with step > steps - ceil(fraction * steps)); the last training row when none falls there; NaN without
    any. Each row is itself the mean over the steps since the previous row, so log often (``--log-every``)."""
    train = [r for r in rows if r.get("split") == "train" and isinstance(r.get(key), (int, float))]
    if not train:
        return math.nan
    last_step = max(r["step"] for r in train)
    cut = min(steps, last_step) - math.ceil(fraction * steps)
    tail = [r[key] for r in train if r["step"] > cut] or [train[-1][key]]
    return float(statistics.fmean(tail))


def loss_curve(rows: list[dict[str, Any]]) -> tuple[list[int], list[float]]:
    """(steps, losses) of a run's training rows."""
    train = [r for r in rows if r.get("split") == "train" and "loss" in r]
    return [r["step"] for r in train], [float(r["loss"]) for r in train]


def collect_results(out: Path, runs: list, iw_samples: int = 100) -> list[dict[str, Any]]:
    """A row per planned run (``sweep.PlannedRun``): name, setting, seed, the varied options, final_train_loss
    and the (cached) metrics of :func:`vqlab.experiments.evaluation.evaluate_run`."""
    from vqlab.experiments.evaluation import evaluate_run
    from vqlab.experiments.sweep import RUNS_DIR
    from vqlab.train.run import read_metrics

    rows = []
    for run in runs:
        run_dir = out / RUNS_DIR / run.name
        metrics = evaluate_run(run_dir, iw_samples=iw_samples)
        row: dict[str, Any] = {"name": run.name, "setting": run.setting, **run.settings,
                               "steps": run.config.train.steps,
                               "final_train_loss": final_train_loss(read_metrics(run_dir), run.config.train.steps)}
        row.update({k: v for k, v in metrics.items() if k not in SKIP and k not in row})
        rows.append(row)
    return rows


def format_results_csv(rows: list[dict[str, Any]]) -> str:
    """CSV text of result rows; columns are the union of the rows' keys, in a stable order."""
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    lead = keys[:keys.index("final_train_loss") + 1] if "final_train_loss" in keys else []
    ordered = lead + [k for k in FIRST if k in keys and k not in lead]
    ordered += sorted(k for k in keys if k not in ordered)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=ordered, lineterminator="\n", restval="")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buf.getvalue()


def write_results(out: Path, runs: list, iw_samples: int = 100) -> list[dict[str, Any]]:
    """Collect the rows and write ``OUT/results.csv`` atomically; returns the rows."""
    rows = collect_results(out, runs, iw_samples)
    atomic_write_text(out / RESULTS_FILE, format_results_csv(rows))
    return rows


def _parse(value: str) -> Any:
    if value == "":
        return None
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return {"True": True, "False": False}.get(value, value)


def read_results(out: Path) -> list[dict[str, Any]]:
    """The rows of ``OUT/results.csv`` with numbers parsed."""
    path = Path(out) / RESULTS_FILE
    try:
        text = path.read_text()
    except OSError:
        raise VQLabError(f"no {path}; run 'vqlab sweep' to finish the sweep first") from None
    return [{k: _parse(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value) of the finite values; NaNs when none."""
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0


SUMMARY_METRICS = ("final_train_loss", "psnr", "ssim", "colorfulness", "codebook_usage", "perplexity", "bits_per_dim")
# Metric -> the same metric of the gray input itself (colorize runs): the baseline a colorization has to beat.
GRAY_BASELINE = {"psnr": "gray_psnr", "ssim": "gray_ssim", "colorfulness": "gray_colorfulness"}


def gray_baseline(rows: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """Mean and std over ``rows`` of the gray input's metrics, keyed by the metric each compares with (``psnr``,
    ``ssim``, ``colorfulness``); empty when no row has them (a sweep without colorize runs)."""
    baseline = {}
    for metric, gray in GRAY_BASELINE.items():
        mean, std = mean_std([r.get(gray) for r in rows])
        if math.isfinite(mean):
            baseline[metric] = (mean, std)
    return baseline


def summarize(rows: list[dict[str, Any]], axes: list[str],
              metrics: tuple[str, ...] = SUMMARY_METRICS) -> list[dict[str, Any]]:
    """A row per setting, in first-seen order: the axes' values, ``seeds`` (how many runs) and for each metric
    ``METRIC_mean`` and ``METRIC_std`` over the seeds."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(str(row["setting"]), []).append(row)
    summary = []
    for setting, members in groups.items():
        entry: dict[str, Any] = {"setting": setting, **{a: members[0].get(a) for a in axes}, "seeds": len(members)}
        for m in metrics:
            entry[f"{m}_mean"], entry[f"{m}_std"] = mean_std([r.get(m) for r in members])
        summary.append(entry)
    return summary


def axis_groups(rows: list[dict[str, Any]], axes: list[str], axis: str) -> dict[tuple, list[dict[str, Any]]]:
    """Rows split by the values of the other axes, keeping only groups in which ``axis`` takes 2+ values
    (with ``--vary`` that is the one group where the others sit at their defaults)."""
    others = [a for a in axes if a != axis]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(a) for a in others), []).append(row)
    return {k: v for k, v in groups.items() if len({r.get(axis) for r in v}) > 1}
