#!/usr/bin/env python3
"""Regenerate docs/experiments.md (and its figures) from the sweeps of experiments/kd_study.py.

Reads whatever is finished: a sweep still running, or stopped part-way, gives a page with the finished runs and
says how many are missing. Every number on the page comes from the run directories (their metrics.jsonl and the
cached `vqlab evaluate` metrics), and every verdict from the fixed rules in RULES, printed on the page.

The archive (--archive, default experiments/results/STAGE.jsonl, committed): a record per finished run (its
config and its row of the page), added or refreshed for every finished run found here. A run whose folder is gone
(a study spread over sessions on machines that do not keep their files) is read from its record when the record
has the planned settings, and kd_study.py does not train it again.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import math
import re
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

from vqlab.train.device import cpu_name

STAGES = {
    "fm-budget": "Fashion-MNIST, reconstruct: choosing the budget",
    "fm-kd": "Fashion-MNIST, reconstruct: K and D",
    "color-kd": "photos, colorize: K and D",
    "photos-budget": "photos, reconstruct: choosing the budget",
    "photos-kd": "photos, reconstruct: K and D",
}
# Check stages: seed 0 of every K/D setting at twice its stage's budget (kd_study.py), shown under that stage.
CHECKS = {"fm-kd": "fm-check", "photos-kd": "photos-check"}
# More stages: the settings that have not converged at their stage's budget, doubled again (seed 0) until they
# have, then trained with every seed at the steps where they converged; one sweep folder per (K, D, steps).
MORE = {"fm-kd": "fm-more", "photos-kd": "photos-more"}
MORE_FOLDER = re.compile(r"K(\d+)-D(\d+)-steps(\d+)")
CONVERGED_DB = 0.25
GAIN_DB = 0.25  # the budget rule's threshold (pick_budget)
# The most steps a budget sweep or a more stage doubles to (kd_study.py --max-budget). It was 48000 until two
# Fashion-MNIST settings (D=8, K=2048) gained 0.25 dB from 24000 to 48000, at the rule's threshold: the cap was
# raised so that their next doubling decides, rather than the cap.
MAX_BUDGET = 96000
ARCHIVE = Path(__file__).resolve().parent / "results"
RULES = (
    'A claim "more X lowers M" is *confirmed* when the means of M at the smallest and the largest X (over seeds) '
    "differ in the claimed direction by more than twice their combined seed spread (sqrt(std_a^2 + std_b^2)), "
    "*refuted* when they differ by that much the other way, and *within seed spread* otherwise; with one seed "
    "only the direction is given. A reconstruct setting counts as *converged* when doubling its steps (seed 0, "
    f"the same settings otherwise) raises its test PSNR by less than {CONVERGED_DB} dB; a setting that has not "
    "is doubled again until it has (up to the cap), trained with every seed at the steps where it converged, and "
    "shown there in the K/D tables (their `steps` column); until both ends of an axis are shown where they "
    "converged, its claims are marked *provisional*. Each run's own PSNR gain "
    "over the last quarter of its steps is shown too, but it is a weak test: a cosine schedule flattens every "
    "curve at its end. A colorize setting "
    "*beats gray* when every seed's test PSNR is above that of the gray baseline (the input's luminance as output). "
    "The final training loss is the mean total loss (reconstruction + codebook + commitment terms) over the last "
    "5% of the steps; its reconstruction part is shown beside it."
)
METRICS = [("final_train_loss", "final train loss", 5), ("final_train_recon", "its reconstruction part", 5),
           ("psnr", "test PSNR (dB)", 2), ("ssim", "SSIM", 3),
           ("codebook_usage", "usage", 3), ("perplexity", "perplexity", 1)]
COLOR_METRICS = [("colorfulness", "colourfulness", 1), ("gray_psnr", "gray PSNR (dB)", 2)]


def local_row(run_dir: Path, planned: dict[str, Any]) -> dict[str, Any] | None:
    """The page's row of a finished run folder (settings, final loss, test metrics, convergence, machine), or
    None when the folder holds no finished run."""
    from vqlab.experiments.evaluation import evaluate_run
    from vqlab.experiments.results import final_train_loss
    from vqlab.train.run import read_config, read_metrics

    if not (run_dir / "config.json").is_file():
        return None
    cfg, _ = read_config(run_dir)
    history = read_metrics(run_dir)
    tests = [r for r in history if r.get("split") == "test"]
    if not tests or tests[-1]["step"] < cfg.train.steps:
        return None
    metrics = evaluate_run(run_dir)
    quarter = [r for r in tests if r["step"] <= 0.75 * cfg.train.steps]
    late_gain = tests[-1]["psnr"] - quarter[-1]["psnr"] if quarter else math.nan
    return {**planned["settings"], "setting": planned["setting"], "steps": cfg.train.steps,
            "final_train_loss": final_train_loss(history, cfg.train.steps),
            "final_train_recon": final_train_loss(history, cfg.train.steps, key="recon_loss"), "late_gain": late_gain,
            "train_seconds": tests[-1].get("wall_time", math.nan), "machine": cpu_name(), **metrics}


def read_plan(sweep: Path, archive: Path | None) -> tuple[dict[str, Any] | None, str | None]:
    """(the sweep's plan, its command): from the sweep folder, else from the archive folder, else (None, None)."""
    for folder in (sweep, archive):
        if folder is not None and (folder / "sweep.json").is_file():
            cmd = folder / "command.txt"
            plan = json.loads((folder / "sweep.json").read_text())
            if folder == archive:
                plan["archived"] = [r["name"] for r in plan["runs"]]  # no run folder here: all from the archive
            return plan, cmd.read_text().strip() if cmd.is_file() else None
    return None, None


def run_rows(sweep: Path, archive: Path | None = None) -> tuple[list[dict[str, Any]], int, int]:
    """(a row per finished run of a sweep's plan, the number of planned runs not finished, how many rows came
    from the archive). With ``archive`` (a folder: sweep.json, command.txt, runs.jsonl) every run finished here
    is added to (or refreshed in) the archive, and a run the sweep skipped as archived is read from it."""
    from vqlab.experiments.sweep import read_archive
    from vqlab.fileio import atomic_write_text
    from vqlab.train.run import read_config

    plan, cmd = read_plan(sweep, archive)
    if plan is None:
        return [], 0, 0
    records = {r["name"]: r for r in read_archive(archive / "runs.jsonl")} if archive is not None else {}
    archived = set(plan.get("archived", []))
    rows, missing, from_archive, changed = [], 0, 0, False
    for planned in plan["runs"]:
        run_dir = sweep / "runs" / planned["name"]
        row = local_row(run_dir, planned)
        if row is not None:
            rows.append(row)
            config = read_config(run_dir)[0].to_dict()
            old = records.get(planned["name"], {})
            if old.get("config") != config or old.get("row") != row:
                records[planned["name"]] = {"name": planned["name"], "config": config, "row": row,
                                            "archived": datetime.date.today().isoformat()}
                changed = True
        elif planned["name"] in archived and planned["name"] in records:
            rows.append(records[planned["name"]]["row"])
            from_archive += 1
        else:
            missing += 1
    if changed and archive is not None:
        archive.mkdir(parents=True, exist_ok=True)
        atomic_write_text(archive / "runs.jsonl",
                          "".join(json.dumps(r, sort_keys=True) + "\n" for r in records.values()))
        saved = {k: v for k, v in plan.items() if k != "archived"}
        atomic_write_text(archive / "sweep.json", json.dumps(saved, indent=1) + "\n")
        if cmd:
            atomic_write_text(archive / "command.txt", cmd + "\n")
    return rows, missing, from_archive


def budget_gains(rows: list[dict[str, Any]]) -> list[tuple[int, int, float]]:
    """(steps, doubled steps, test PSNR gain in dB) for each step in a budget sweep's grid, in order."""
    by_steps = sorted((int(r["steps"]), float(r["psnr"])) for r in rows)
    return [(a, b, pb - pa) for (a, pa), (b, pb) in itertools.pairwise(by_steps)]


def pick_budget(rows: list[dict[str, Any]]) -> int:
    """The smallest step count from which every further doubling in the grid gains less than GAIN_DB of test
    PSNR; the largest tried when the last doubling still gains that much (then not shown to be flat)."""
    gains = budget_gains(rows)
    steps = sorted(int(r["steps"]) for r in rows)
    for i, s in enumerate(steps):
        if all(gain < GAIN_DB for _, _, gain in gains[i:]):
            return s
    return steps[-1]


def next_budget(rows: list[dict[str, Any]], cap: int) -> int | None:
    """The step count to add to a budget sweep: double the largest tried while its last doubling still gains
    GAIN_DB or more and the double stays within CAP; None when the sweep already shows the curve flat (or at CAP)."""
    gains = budget_gains(rows)
    if not gains or gains[-1][2] < GAIN_DB or 2 * gains[-1][1] > cap:
        return None
    return 2 * gains[-1][1]


def budget_reading(rows: list[dict[str, Any]]) -> str:
    """One line for the page: the budget the rule picks and whether the sweep shows the curve flat there."""
    chosen, gains = pick_budget(rows), budget_gains(rows)
    steps = ", ".join(f"{a} -> {b}: {g:+.2f} dB" for a, b, g in gains)
    rule = (f"the smallest step count from which every further doubling gains less than {GAIN_DB} dB of test "
            "PSNR")
    if gains and chosen < gains[-1][1]:
        return f"Budget: **{chosen} steps** ({rule}; doublings: {steps})."
    return (f"Budget: **{chosen} steps**, the largest tried: its last doubling still gained {gains[-1][2]:+.2f} dB "
            f"(doublings: {steps}), so the curve is not shown to be flat at this budget (the convergence table under "
            "the K/D tables doubles every setting)." if gains else f"Budget: **{chosen} steps** (one run only).")


def more_name(more: str, k: int, d: int, steps: int) -> str:
    """The sweep (under ROOT and the archive) of a more stage that holds setting (K, D) at STEPS."""
    return f"{more}/K{k}-D{d}-steps{steps}"


def more_rows(root: Path, more: str, archive: Path | None, only: tuple[int, int] | None = None
              ) -> tuple[list[dict[str, Any]], int]:
    """(a row per finished run of a more stage, each with its K and D; the number planned but not finished), from
    its sweep folders here and in the archive; with ONLY, those of that (K, D) setting alone."""
    names: set[str] = set()
    for base in (root / more, archive / more if archive is not None else None):
        if base is not None and base.is_dir():
            names |= {f.name for f in base.iterdir() if f.is_dir() and MORE_FOLDER.fullmatch(f.name)}
    rows, missing = [], 0
    for name in sorted(names):
        k, d, _ = (int(v) for v in MORE_FOLDER.fullmatch(name).groups())  # type: ignore[union-attr]
        if only is not None and (k, d) != only:
            continue
        got, miss, _ = run_rows(root / more / name, archive / more / name if archive is not None else None)
        rows += [{**r, "num_embeddings": k, "embedding_dim": d, "setting": f"K{k}-D{d}"} for r in got]
        missing += miss
    return rows, missing


Runs = dict[tuple[int, int], dict[int, dict[int, dict[str, Any]]]]


def setting_runs(kd: list[dict[str, Any]], check: list[dict[str, Any]], more: list[dict[str, Any]],
                 budget: list[dict[str, Any]], default: tuple[int, int]) -> Runs:
    """Every finished run of each (K, D) setting, by steps and seed: the K/D stage's, its check's, its more
    stage's and the budget sweep's (the default setting's). Where two hold the same (setting, steps, seed), the
    first in that order counts."""
    runs: Runs = {}
    for row in [*kd, *check, *more, *({**r, "num_embeddings": default[0], "embedding_dim": default[1]} for r in budget)]:
        key = (int(row["num_embeddings"]), int(row["embedding_dim"]))
        runs.setdefault(key, {}).setdefault(int(row["steps"]), {}).setdefault(int(row.get("seed", 0)), row)
    return runs


def convergence(psnr0: dict[int, float], start: int, cap: int = MAX_BUDGET) -> tuple[int, bool | None]:
    """Where one setting's doublings from START stop, by the test PSNR of its seed 0 at each step count:
    (steps, True) at the first step count whose doubling gains less than CONVERGED_DB; (steps, False) when the
    doublings reach CAP still gaining that much; (steps, None) when the next doubling has not been run."""
    s = start
    while 2 * s in psnr0:
        if psnr0[2 * s] - psnr0[s] < CONVERGED_DB:
            return s, True
        s *= 2
    return s, (False if 2 * s > cap else None)


def seed0_psnr(by_steps: dict[int, dict[int, dict[str, Any]]]) -> dict[int, float]:
    return {s: float(by_seed[0]["psnr"]) for s, by_seed in by_steps.items() if 0 in by_seed}


def more_step(by_steps: dict[int, dict[int, dict[str, Any]]], start: int, seeds: int, cap: int = MAX_BUDGET
              ) -> tuple[int, list[int]] | None:
    """The runs the more stage trains next for one setting (its runs by steps and seed): (steps, seeds), or None
    when nothing is left. Seed 0 at the next doubling while the last one still gained CONVERGED_DB or more (up to
    CAP); then seeds 0..SEEDS-1 at the step count where the doublings stopped."""
    psnr0 = seed0_psnr(by_steps)
    if start not in psnr0:
        return None
    s, converged = convergence(psnr0, start, cap)
    if converged is None:
        return 2 * s, [0]
    need = [i for i in range(seeds) if i not in by_steps.get(s, {})]
    return (s, need) if need else None


def table_steps(by_steps: dict[int, dict[int, dict[str, Any]]], start: int, cap: int = MAX_BUDGET) -> int:
    """The step count whose runs the K/D tables show for one setting: where its doublings stopped, once it has as
    many seeds there as at START; until then the largest step count below that which has them."""
    s, _ = convergence(seed0_psnr(by_steps), start, cap)
    while s > start and len(by_steps.get(s, {})) < len(by_steps[start]):
        s //= 2
    return s


def mean_std(values: list[float]) -> tuple[float, float]:
    vals = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not vals:
        return math.nan, math.nan
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def fmt(mean: float, std: float | None, digits: int) -> str:
    if not math.isfinite(mean):
        return "–"
    return f"{mean:.{digits}f}" + (f" ± {std:.{digits}f}" if std is not None and math.isfinite(std) else "")


def axis_table(rows: list[dict[str, Any]], axis: str, fixed: tuple[str, Any], colorize: bool
               ) -> tuple[str, dict[Any, dict[str, tuple[float, float]]]]:
    """Markdown table over one axis (the other at its default ``fixed``) and the per-value summary."""
    sel = [r for r in rows if r.get(fixed[0]) == fixed[1]]
    metrics = METRICS + (COLOR_METRICS if colorize else [])
    head = ["K" if axis == "num_embeddings" else "D", "seeds", *([] if colorize else ["steps"])] + [m[1] for m in metrics]
    head.append("beats gray (all seeds)" if colorize else "PSNR gain, last quarter (dB)")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    summary: dict[Any, dict[str, tuple[float, float]]] = {}
    for value in sorted({r[axis] for r in sel}):
        group = [r for r in sel if r[axis] == value]
        summary[value] = {m: mean_std([r.get(m) for r in group]) for m, _, _ in metrics}
        summary[value]["seeds"] = (len(group), 0.0)
        summary[value]["steps"] = (max(int(r.get("steps", 0)) for r in group), 0.0)
        summary[value]["undecided"] = (float(any(r.get("undecided") for r in group)), 0.0)
        steps = [] if colorize else ["/".join(str(v) for v in sorted({int(r["steps"]) for r in group}))]
        cells = [str(value), str(len(group)), *steps] + [fmt(*summary[value][m], d) for m, _, d in metrics]
        if colorize:
            cells.append("yes" if all(r["psnr"] > r["gray_psnr"] for r in group) else "**no**")
        else:
            gains = [r["late_gain"] for r in group]
            cells.append(fmt(*mean_std(gains), 2) + ("" if max(gains) < CONVERGED_DB else " (**not flat**)"))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines), summary


def verdict(summary: dict[Any, dict[str, tuple[float, float]]], metric: str, lower_is_claimed: bool) -> str:
    """The rule of the module docstring, comparing the smallest and the largest value of the axis."""
    values = sorted(summary)
    if len(values) < 2:
        return "not enough settings yet"
    (ma, sa), (mb, sb) = summary[values[0]][metric], summary[values[-1]][metric]
    if not (math.isfinite(ma) and math.isfinite(mb)):
        return "no data"
    spread = math.sqrt(sa**2 + sb**2)
    change = mb - ma
    text = f"{ma:.4g} at {values[0]} → {mb:.4g} at {values[-1]} (spread {spread:.2g})"
    if min(len_a := summary[values[0]]["seeds"][0], summary[values[-1]]["seeds"][0]) < 2:
        ruling = f"one seed only ({len_a:.0f}): {'up' if change > 0 else 'down'}, {text}"
    elif abs(change) <= 2 * spread or change == 0:
        ruling = f"within seed spread: {text}"
    else:
        claimed = change < 0 if lower_is_claimed else change > 0
        ruling = f"{'confirmed' if claimed else 'refuted'}: {text}"
    # A study part-way through its convergence stage: an end of the axis not yet shown where it converged.
    open_ends = [f"{v} not converged yet, at {summary[v]['steps'][0]:.0f} steps" for v in (values[0], values[-1])
                 if summary[v].get("undecided", (0.0, 0.0))[0]]
    if open_ends:
        ruling = f"provisional ({'; '.join(open_ends)}), {ruling}"
    return ruling


def machines_line(rows: list[dict[str, Any]], of: str = "") -> str:
    """'Machine(s)OF: ...' naming the CPUs the ROWS ran on."""
    machines = sorted({r.get("machine", "not recorded") for r in rows})
    return f"Machine{'s' if len(machines) > 1 else ''}{of}: {'; '.join(machines)}."


def stage_section(root: Path, stage: str, figures: Path, docs: Path, archive: Path | None = None,
                  cap: int = MAX_BUDGET) -> list[str]:
    sweep = root / stage
    stage_archive = archive / stage if archive is not None else None
    plan, cmd = read_plan(sweep, stage_archive)
    if plan is None:
        return [f"## {STAGES[stage]}", "", "Not run yet.", ""]
    rows, missing, from_archive = run_rows(sweep, stage_archive)
    out = [f"## {STAGES[stage]}", ""]
    if cmd:
        out += ["```bash", cmd, "```", ""]
    seconds = sum(r["train_seconds"] for r in rows if math.isfinite(r["train_seconds"]))
    out.append(f"{len(rows)} runs finished ({seconds / 60:.0f} min of training wall time in all)"
               + (f", {from_archive} of them read from the archive" if from_archive else "")
               + (f"; **{missing} planned run{'' if missing == 1 else 's'} not finished yet**." if missing else "."))
    if rows:
        out.append(machines_line(rows))
    out.append("")
    if not rows:
        return out
    colorize = rows[0].get("task") == "colorize"
    if stage.endswith("-budget"):
        out += ["| steps | test PSNR (dB) | final train loss | training wall time (s) |", "|---|---|---|---|"]
        for r in sorted(rows, key=lambda r: r["steps"]):
            out.append(f"| {r['steps']} | {r['psnr']:.2f} | {r['final_train_loss']:.5f} | {r['train_seconds']:.0f} |")
        out += ["", budget_reading(rows), ""]
        return out
    extra: list[str] = []
    if stage in CHECKS:
        rows, extra = converged_rows(root, stage, rows, archive, cap)
    for axis, other, name in (("num_embeddings", "embedding_dim", "K"), ("embedding_dim", "num_embeddings", "D")):
        # With --vary the other axis sits at its default in every run of this axis: its most common planned value.
        fixed = (other, statistics.mode(r["settings"][other] for r in plan["runs"]))
        table, summary = axis_table(rows, axis, fixed, colorize)
        out += [f"### {name} ({fixed[0].replace('num_embeddings', 'K').replace('embedding_dim', 'D')} = {fixed[1]})",
                "", table, ""]
        if name == "K":
            out.append(f"- More K, lower final training loss: {verdict(summary, 'final_train_loss', True)}.")
            out.append(f"- More K, higher test PSNR: {verdict(summary, 'psnr', False)}.")
            if colorize:
                out.append(f"- More K, more colourful: {verdict(summary, 'colorfulness', False)}.")
        else:
            out.append(f"- Larger D, higher final training loss: {verdict(summary, 'final_train_loss', False)}.")
            out.append("  - Its reconstruction part alone (the loss without the codebook and commitment terms): "
                       f"{verdict(summary, 'final_train_recon', False)}.")
            out.append(f"- Larger D, blurrier (lower SSIM): {verdict(summary, 'ssim', True)}.")
            if colorize:
                out.append(f"- Larger D, more faded (less colourful): {verdict(summary, 'colorfulness', True)}.")
        out.append("")
    out += extra
    dest = figures / stage
    dest.mkdir(parents=True, exist_ok=True)
    axis_figures(rows, plan, dest, colorize)
    # The grid of test images needs the runs' weights: copied from the sweep when it has one, else the page keeps
    # the grid an earlier session made (the runs it shows are then named in its labels).
    grid = sweep / "figures" / "test_images.png"
    if grid.is_file():
        shutil.copy(grid, dest / grid.name)
    for name in ("psnr_vs_K", "psnr_vs_D", "usage_vs_K", "test_images"):
        if (dest / f"{name}.png").is_file():
            out.append(f"![{stage} {name}]({(dest / f'{name}.png').relative_to(docs).as_posix()})")
    out.append("")
    return out


def shown_cell(runs: list[dict[str, Any]], steps: int) -> str:
    """The convergence table's last cell: the steps and seeds the K/D tables show for a setting, with the seed
    spread of their test PSNR (sample s.d.), the noise a 0.25 dB gain of seed 0 is to be read against."""
    cell = f"{steps} steps, {len(runs)} seed{'' if len(runs) == 1 else 's'}"
    psnr = [float(r["psnr"]) for r in runs if math.isfinite(float(r.get("psnr", math.nan)))]
    return cell + (f" (test PSNR s.d. {statistics.stdev(psnr):.2f} dB)" if len(psnr) > 1 else "")


def converged_rows(root: Path, stage: str, rows: list[dict[str, Any]], archive: Path | None,
                   cap: int = MAX_BUDGET) -> tuple[list[dict[str, Any]], list[str]]:
    """(the rows the K/D tables of a reconstruct stage show: each setting's runs at the step count where it
    converged, see table_steps; the page's convergence section). A setting counts as converged at S when seed 0
    at 2S gains less than CONVERGED_DB of test PSNR: 2S comes from the check stage (every setting at twice the
    stage's steps), the budget sweep (the default setting) or the more stage (further doublings)."""
    check, more = CHECKS[stage], MORE[stage]
    sub = lambda name: archive / name if archive is not None else None
    budget_stage = stage.replace("-kd", "-budget")
    budget_rows, _, _ = run_rows(root / budget_stage, sub(budget_stage))
    check_rows, check_missing, _ = run_rows(root / check, sub(check))
    extra_rows, more_missing = more_rows(root, more, archive)
    # With --vary the default setting lies on both axes: its K and its D are the most common values.
    default = (statistics.mode(r.get("num_embeddings") for r in rows), statistics.mode(r.get("embedding_dim") for r in rows))
    runs = setting_runs(rows, check_rows, extra_rows, budget_rows, default)
    start = min(int(r["steps"]) for r in rows)
    kd_settings = {(int(r["num_embeddings"]), int(r["embedding_dim"])) for r in rows}
    out = [f"### Convergence: every setting doubled until it gains less than {CONVERGED_DB} dB (seed 0)", ""]
    if budget_rows and start < (budget := pick_budget(budget_rows)):
        out += [(f"The K/D runs above started at {start} steps, fewer than the budget the rule now picks ({budget} "
                 f"steps, from the budget sweep): each setting that gains {CONVERGED_DB} dB or more from doubling "
                 f"its steps is carried on by stage `{more}`, and the tables show it at the steps where it "
                 "converged (their `steps` column)."), ""]
    _, cmd = read_plan(root / check, sub(check))
    out += ["```bash", *([cmd] if cmd else []),
            f"python experiments/kd_study.py --root studies --stages {more} --jobs 2  # the doublings after it", "```", ""]
    out += ["| K | D | test PSNR of seed 0 by steps (gain from doubling) | converged | the tables show (seed spread) |",
            "|---|---|---|---|---|"]
    table, flat, pending = [], 0, 0
    for key in sorted(kd_settings):
        by_steps = runs[key]
        psnr0 = seed0_psnr(by_steps)
        at, converged = convergence(psnr0, start, cap)
        chain = []
        for s in sorted(x for x in psnr0 if x >= start):
            gain = f" ({psnr0[s] - psnr0[s // 2]:+.2f})" if s > start and s // 2 in psnr0 else ""
            chain.append(f"{s}: {psnr0[s]:.2f}{gain}")
        state = {True: f"at {at}", False: f"**no**: still gaining at {at} (the cap)",
                 None: f"**not yet**: {2 * at} to run"}
        flat += converged is True
        pending += converged is None
        shown = table_steps(by_steps, start, cap)
        table += ({**r, "undecided": converged is None} for r in by_steps[shown].values())
        out.append(f"| {key[0]} | {key[1]} | {' → '.join(chain)} | {state[converged]} | "
                   f"{shown_cell(list(by_steps[shown].values()), shown)} |")
    # Doublings that lowered test PSNR while the training loss still fell: fitting the training images better.
    worse = [(float(a[0]["psnr"]) - float(b[0]["psnr"]))
             for key in kd_settings for s, a in runs[key].items() if s >= start and 0 in a
             and (b := runs[key].get(2 * s, {})) and 0 in b and float(b[0]["psnr"]) < float(a[0]["psnr"])
             and float(b[0]["final_train_loss"]) < float(a[0]["final_train_loss"])]
    extra = [r for r in [*check_rows, *extra_rows] if math.isfinite(r["train_seconds"])]
    missing = check_missing + more_missing
    out += ["", f"{flat} of {len(kd_settings)} settings converged"
            + (f", {pending} not decided yet" if pending else "")
            + (f"; **{missing} planned run{'' if missing == 1 else 's'} of `{check}`/`{more}` not finished yet**"
               if missing else "")
            + f" ({sum(r['train_seconds'] for r in extra) / 60:.0f} min of training wall time in those two stages).",
            ""]
    if check_rows or extra_rows:  # a study spread over sessions: the doublings may have run elsewhere
        out[-1:] = [machines_line([*check_rows, *extra_rows], " of those two stages"), ""]
    if worse:
        out += [(f"{len(worse)} doubling{'s' if len(worse) > 1 else ''} lowered the test PSNR of seed 0 (by up to "
                 f"{max(worse):.2f} dB) while its final training loss still fell: past that point, longer training "
                 "fits the training images better, not the test images."), ""]
    return table, out


def axis_figures(rows: list[dict[str, Any]], plan: dict[str, Any], dest: Path, colorize: bool) -> None:
    """psnr_vs_K, psnr_vs_D and usage_vs_K (mean and std over seeds; the gray baseline for colorize) from the
    page's rows, so they include the runs read from the archive."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for axis, other, short, metric, label in (
            ("num_embeddings", "embedding_dim", "K", "psnr", "test PSNR (dB)"),
            ("embedding_dim", "num_embeddings", "D", "psnr", "test PSNR (dB)"),
            ("num_embeddings", "embedding_dim", "K", "codebook_usage", "codebook usage")):
        fixed = statistics.mode(r["settings"][other] for r in plan["runs"])
        sel = [r for r in rows if r.get(other) == fixed and isinstance(r.get(metric), (int, float))]
        values = sorted({r[axis] for r in sel})
        if not values:
            continue
        stats = [mean_std([r[metric] for r in sel if r[axis] == v]) for v in values]
        fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=120)
        ax.errorbar(values, [m for m, _ in stats], yerr=[sd for _, sd in stats], marker="o", capsize=3,
                    label="vqlab (mean ± std over seeds)")
        if colorize and metric == "psnr":
            gray = [r["gray_psnr"] for r in sel if isinstance(r.get("gray_psnr"), (int, float))]
            if gray:
                ax.axhline(statistics.fmean(gray), color="gray", linestyle="--", label="gray input")
        ax.set_xscale("log", base=2)
        ax.set_xlabel(short)
        ax.set_ylabel(label)
        ax.set_title(f"{label} vs {short} ({'D' if short == 'K' else 'K'} = {fixed})", fontsize=9)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(dest / f"{metric.replace('codebook_usage', 'usage')}_vs_{short}.png")
        plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", type=Path, default=Path("studies"), help="folder of the sweeps (kd_study.py --root)")
    p.add_argument("--docs", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    p.add_argument("--output", type=Path, default=None, help="page to write (default: DOCS/experiments.md)")
    p.add_argument("--archive", type=Path, default=ARCHIVE,
                   help="folder of the run archive, one subfolder per stage (experiments/results)")
    p.add_argument("--max-budget", type=int, default=MAX_BUDGET,
                   help=f"the study's --max-budget: a setting still gaining there is not converged ({MAX_BUDGET})")
    args = p.parse_args(argv)
    figures = args.docs / "figures" / "kd"
    page = ["# Experiments: codebook size K and code dimension D", "",
            ("Generated by `python experiments/kd_page.py --root studies` from the sweeps that "
             "`python experiments/kd_study.py --root studies` runs (resumable; run it again to continue). "
             "One thread per run (`OMP_NUM_THREADS=1`), `--precision auto`; the machine of each stage is named "
             "under it. Runs finished in earlier sessions are read from the committed archive "
             "(`experiments/results/STAGE/runs.jsonl`) when their folders are gone."), "",
            f"How to read the verdicts: {RULES}", "",
            ("An earlier study of the same questions at 150 training steps, where no model had learned yet, is "
             "kept in [experiments-150-steps.md](experiments-150-steps.md)."), ""]
    for stage in STAGES:
        page += stage_section(args.root, stage, figures, args.docs, args.archive, args.max_budget)
    out = args.output or args.docs / "experiments.md"
    out.write_text("\n".join(page) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
