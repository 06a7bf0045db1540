"""The K/D study scripts (experiments/kd_study.py, kd_page.py) at toy size: they run their sweeps on a tiny
folder dataset, pick a budget by their rule and regenerate a page from the finished runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.experiments.conftest import experiment

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, *args], check=False, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def test_pick_budget_rule():
    pick_budget = experiment("kd_study").pick_budget
    rows = [{"steps": "10", "psnr": "20.0"}, {"steps": "20", "psnr": "21.0"}, {"steps": "40", "psnr": "21.1"}]
    assert pick_budget(rows) == 20  # 10 -> 20 gains 1 dB, 20 -> 40 only 0.1
    assert pick_budget([{"steps": "10", "psnr": "20"}, {"steps": "20", "psnr": "22"}]) == 20  # still gaining
    # A small first doubling does not make a budget flat when the next one gains again (photos-budget, issue 12:
    # 1500 -> 3000 gained 0.13 dB, 3000 -> 6000 0.39 dB).
    bumpy = [{"steps": 1500, "psnr": 24.32}, {"steps": 3000, "psnr": 24.45}, {"steps": 6000, "psnr": 24.84}]
    assert pick_budget(bumpy) == 6000
    assert pick_budget([*bumpy, {"steps": 12000, "psnr": 24.9}]) == 6000


def test_a_budget_sweep_is_doubled_while_it_still_gains():
    next_budget = experiment("kd_page").next_budget
    # Fashion-MNIST, issue 12: 6000 -> 12000 still gained 0.43 dB, so the sweep gets a 24000-step run.
    fashion = [{"steps": 1500, "psnr": 23.30}, {"steps": 3000, "psnr": 23.97}, {"steps": 6000, "psnr": 24.43},
               {"steps": 12000, "psnr": 24.86}]
    assert next_budget(fashion, cap=48000) == 24000
    assert next_budget(fashion, cap=20000) is None  # the double would pass the cap
    assert next_budget([*fashion, {"steps": 24000, "psnr": 25.0}], cap=48000) is None  # +0.14 dB: flat
    photos = [{"steps": 1500, "psnr": 24.32}, {"steps": 3000, "psnr": 24.45}, {"steps": 6000, "psnr": 24.84},
              {"steps": 12000, "psnr": 24.91}]
    assert next_budget(photos, cap=48000) is None
    assert next_budget(photos[:1], cap=48000) is None  # one run: nothing to compare


def test_the_budget_stage_adds_doublings_until_one_gains_little(monkeypatch, tmp_path):
    """kd_study's budget stage sweeps again with the doubled step count while next_budget asks for it."""
    study = experiment("kd_study")
    psnr = {10: 20.0, 20: 21.0, 40: 21.6, 80: 21.7, 160: 21.72}
    grids = []

    def fake_sweep(root, name, args, archive, log):
        steps = [int(v) for v in args[args.index("--steps") + 1].split(",")]
        grids.append(steps)
        return [{"steps": s, "psnr": psnr[s]} for s in steps]

    monkeypatch.setattr(study, "sweep", fake_sweep)
    assert study.main(["--root", str(tmp_path), "--toy", "--stages", "fm-budget", "--max-budget", "160"]) == 0
    assert grids == [[10, 20, 40], [10, 20, 40, 80]]  # 20 -> 40 gained 0.6 dB, 40 -> 80 only 0.1
    grids.clear()
    assert study.main(["--root", str(tmp_path), "--toy", "--stages", "fm-budget"]) == 0
    assert grids == [[10, 20, 40]]  # toy mode: no extension unless --max-budget is given


def test_the_page_says_whether_the_budget_is_shown_flat():
    reading = experiment("kd_page").budget_reading
    flat = [{"steps": 10, "psnr": 20.0}, {"steps": 20, "psnr": 21.0}, {"steps": 40, "psnr": 21.1}]
    assert "**20 steps**" in reading(flat) and "not shown to be flat" not in reading(flat)
    rising = [{"steps": 10, "psnr": 20.0}, {"steps": 20, "psnr": 20.1}, {"steps": 40, "psnr": 20.5}]
    assert "**40 steps**, the largest tried" in reading(rising) and "+0.40 dB" in reading(rising)


def test_a_setting_is_doubled_until_it_converges_then_trained_with_every_seed():
    page = experiment("kd_page")

    def row(psnr):
        return {"psnr": psnr}

    # photos, K=8 (issue 12): 6000 -> 12000 steps gained 0.42 dB, so seed 0 goes on to 24000 steps.
    runs = {6000: {0: row(21.23), 1: row(21.30), 2: row(21.20)}, 12000: {0: row(21.65)}}
    assert page.convergence(page.seed0_psnr(runs), 6000) == (12000, None)
    assert page.more_step(runs, 6000, 3) == (24000, [0])
    assert page.table_steps(runs, 6000) == 6000
    runs[24000] = {0: row(21.80)}  # +0.15 dB: converged at 12000, where seeds 1 and 2 are still missing
    assert page.convergence(page.seed0_psnr(runs), 6000) == (12000, True)
    assert page.more_step(runs, 6000, 3) == (12000, [1, 2])
    assert page.table_steps(runs, 6000) == 6000  # the tables keep the 6000-step seeds until those are there
    runs[12000].update({1: row(21.60), 2: row(21.70)})
    assert page.more_step(runs, 6000, 3) is None
    assert page.table_steps(runs, 6000) == 12000
    # Converged at the start: nothing to train. Still gaining at the cap: every seed at the largest step count.
    flat = {10: {0: row(20.0), 1: row(20.1)}, 20: {0: row(20.1)}}
    assert page.more_step(flat, 10, 2) is None and page.table_steps(flat, 10) == 10
    rising = {10: {0: row(1.0), 1: row(1.1)}, 20: {0: row(2.0)}, 40: {0: row(3.0)}}
    assert page.convergence(page.seed0_psnr(rising), 10, cap=40) == (40, False)
    assert page.more_step(rising, 10, 2, cap=40) == (40, [1])
    assert page.more_step(rising, 10, 2, cap=80) == (80, [0])
    assert page.more_step({20: {0: row(1.0)}}, 10, 2) is None  # the stage's own runs are not there yet


def test_study_and_page_at_toy_size(image_folder, tmp_path):
    root = tmp_path / "studies"
    proc = _run(str(ROOT / "experiments" / "kd_study.py"), "--root", str(root), "--toy", "--seeds", "1",
                "--toy-data", f"folder:{image_folder}", "--stages", "fm-budget,fm-kd,fm-check,fm-more", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The more stage: every setting ends converged or at the cap (4x the kd steps in toy mode), each doubling in
    # its own sweep folder.
    assert proc.stdout.count("fm-more: K") == 4 and "fm-more: K4-D8: done" in proc.stdout
    more = sorted(f.name for f in (root / "fm-more").iterdir()) if (root / "fm-more").is_dir() else []
    assert all(name.endswith("-steps80") for name in more), more
    assert "fm-budget: budget" in proc.stdout
    # The check stage: every setting once at twice the kd steps; toy D values are 2 and the tiny preset's default 8,
    # so the default setting (K=32, D=8) stays in (without it the D axis would have a single value).
    check = json.loads((root / "fm-check" / "sweep.json").read_text())
    assert sorted(r["name"] for r in check["runs"]) == ["K32-D2-s0", "K32-D8-s0", "K4-D8-s0", "K8-D8-s0"]
    assert {json.loads((root / "fm-check" / "runs" / r["name"] / "config.json").read_text())["train"]["steps"]
            for r in check["runs"]} == {40}
    axis_without = experiment("kd_study").axis_without
    assert axis_without("8,32,128,512,2048", 512) == ["8", "32", "128", "2048"]
    assert axis_without("2,8", 8) == ["2", "8"]
    assert (root / "fm-kd" / "command.txt").read_text().startswith("OMP_NUM_THREADS=1 vqlab sweep")
    docs = tmp_path / "docs"
    docs.mkdir()
    proc = _run(str(ROOT / "experiments" / "kd_page.py"), "--root", str(root), "--docs", str(docs),
                "--archive", str(tmp_path / "archive"), "--max-budget", "80", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = (docs / "experiments.md").read_text()
    assert "| steps | test PSNR (dB)" in page and "### K (D = 8)" in page and "### D (K = 32)" in page
    # The total training loss and its reconstruction part, each with a verdict for D.
    assert "| final train loss | its reconstruction part |" in page and "  - Its reconstruction part alone" in page
    assert "photos, colorize: K and D\n\nNot run yet." in page
    # Convergence by doubling: the three check runs and the default setting (from the budget sweep's 20 and 40),
    # then the more stage's doublings to 80 steps; no setting is left undecided.
    section = page.split("### Convergence")[1].split("\n## ")[0]
    check_rows = [ln for ln in section.splitlines() if ln.startswith("| ") and "---" not in ln]
    assert len(check_rows) == 1 + 4 and all("| 20: " in ln and " → 40: " in ln for ln in check_rows[1:])
    assert all(("| at 20 |" in ln) != (" → 80: " in ln) for ln in check_rows[1:])
    assert "not yet" not in section and "of 4 settings converged" in section
    assert f"{len(more)} planned" not in section and len(more) == sum(" → 80: " in ln for ln in check_rows[1:])
    # The machine of the doublings is named too: the tables show their runs, which may have run elsewhere.
    machine = section.split("Machine of those two stages: ")[1].split("\n")[0]
    assert machine.endswith(".") and len(machine) > 1 and "not recorded" not in machine
    # A later machine with the study's archive but none of its run folders trains nothing again.
    import shutil

    shutil.copytree(root / "archive", tmp_path / "kept")
    shutil.rmtree(root)
    proc = _run(str(ROOT / "experiments" / "kd_study.py"), "--root", str(root), "--toy", "--seeds", "1",
                "--toy-data", f"folder:{image_folder}", "--stages", "fm-check,fm-more", "--archive",
                str(tmp_path / "kept"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "start " not in proc.stdout and proc.stdout.count(": done") == 4
    assert (docs / "figures" / "kd" / "fm-kd" / "psnr_vs_K.png").is_file()


def test_a_study_continued_on_a_machine_without_its_run_folders_uses_the_archive(image_folder, tmp_path):
    """Session 1 runs the budget stage and archives its runs; session 2 has the archive but no run folders:
    the study trains nothing again, and the page reads the same numbers from the archive."""
    import json
    import shutil

    root, archive = tmp_path / "studies", tmp_path / "archive"
    study = [str(ROOT / "experiments" / "kd_study.py"), "--root", str(root), "--toy", "--seeds", "1",
             "--toy-data", f"folder:{image_folder}", "--stages", "fm-budget", "--archive", str(archive)]
    proc = _run(*study, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    records = [json.loads(line) for line in (archive / "fm-budget" / "runs.jsonl").read_text().splitlines()]
    assert sorted(r["name"] for r in records) == ["steps10-s0", "steps20-s0", "steps40-s0"]
    assert all(r["config"]["train"]["steps"] == r["row"]["steps"] for r in records)

    def page(docs: Path) -> str:
        docs.mkdir()
        proc = _run(str(ROOT / "experiments" / "kd_page.py"), "--root", str(root), "--docs", str(docs),
                    "--archive", str(archive), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        return (docs / "experiments.md").read_text()

    first = page(tmp_path / "docs1")
    shutil.rmtree(root)  # the next session's machine kept nothing but the repository
    second = page(tmp_path / "docs2")
    table = [ln for ln in first.splitlines() if ln.startswith(("| 10 |", "| 40 |"))]
    assert len(table) == 2 and all(ln in second for ln in table)
    assert "3 runs finished" in second and "3 of them read from the archive" in second
    proc = _run(*study, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "3 planned runs are in" in proc.stdout and not (root / "fm-budget" / "runs").exists()
    assert "fm-budget: budget" in proc.stdout


def test_a_failing_stage_ends_with_one_line_and_a_nonzero_exit(tmp_path):
    study = [str(ROOT / "experiments" / "kd_study.py"), "--root", str(tmp_path / "studies"), "--toy"]
    proc = _run(*study, "--toy-data", f"folder:{tmp_path / 'nowhere'}", "--stages", "fm-budget", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ") and "again to continue" in proc.stderr
    proc = _run(*study, "--stages", "photos-more", cwd=tmp_path)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "error: photos-more needs photos-kd, which has not run: run that stage"


def test_the_default_setting_takes_its_doublings_from_the_budget_sweep():
    """The check stage leaves the default setting out (its doubling is in the budget sweep): setting_runs gives it
    the budget sweep's runs, and a run of the K/D stage itself wins where both have the same steps and seed."""
    page = experiment("kd_page")
    kd = [{"num_embeddings": k, "embedding_dim": 64, "steps": 6000, "seed": s, "psnr": 20.0 + k / 1000 + s / 10}
          for k in (8, 512) for s in (0, 1, 2)]
    check = [{"num_embeddings": 8, "embedding_dim": 64, "steps": 12000, "seed": 0, "psnr": 21.0}]
    budget = [{"steps": s, "psnr": p} for s, p in ((3000, 19.0), (6000, 99.0), (12000, 20.9), (24000, 21.0))]
    runs = page.setting_runs(kd, check, [], budget, default=(512, 64))
    assert sorted(runs) == [(8, 64), (512, 64)]
    assert page.seed0_psnr(runs[(512, 64)]) == {3000: 19.0, 6000: 20.512, 12000: 20.9, 24000: 21.0}
    assert sorted(runs[(512, 64)][6000]) == [0, 1, 2]
    # 6000 -> 12000 gains 0.39 dB, 12000 -> 24000 0.1 dB: converged at 12000, where only seed 0 is there yet.
    assert page.convergence(page.seed0_psnr(runs[(512, 64)]), 6000) == (12000, True)
    assert page.more_step(runs[(512, 64)], 6000, 3) == (12000, [1, 2])
    assert page.more_step(runs[(8, 64)], 6000, 3) == (24000, [0])


def test_the_convergence_table_shows_the_seed_spread_of_the_runs_it_points_to():
    cell = experiment("kd_page").shown_cell
    runs = [{"psnr": 21.0}, {"psnr": 21.2}, {"psnr": 21.4}]
    assert cell(runs, 12000) == "12000 steps, 3 seeds (test PSNR s.d. 0.20 dB)"
    assert cell(runs[:1], 6000) == "6000 steps, 1 seed"  # one seed: no spread to show


def test_more_stage_runs_are_evaluated_about_twelve_times():
    study = experiment("kd_study")
    assert [study.more_eval_every(s) for s in (40, 6000, 12000, 24000, 48000)] == [500, 500, 1000, 2000, 4000]
    for steps in (12000, 24000, 48000):  # the page's late gain compares the end with three quarters of the run
        assert (3 * steps // 4) % study.more_eval_every(steps) == 0


def _more_row(k, steps, seed, psnr):
    return {"num_embeddings": k, "embedding_dim": 8, "steps": steps, "seed": seed, "psnr": psnr}


def _fake_more_stage(monkeypatch, study, finished, plans, toy, more=None):
    """kd_study's more stage with its sweeps faked: every run a sweep trains gets test PSNR 11.1 + seed. Returns
    the more stage's runs (MORE, filled as the sweeps run), the sweeps run (name, seeds) and the lines printed."""
    more, sweeps, lines = list(more or []), [], []
    unfinished_check = len(plans.get("fm-check", {"runs": []})["runs"]) > len(finished["fm-check"])

    def fake_run_rows(sweep, archive=None):
        return finished[sweep.name], 1 if sweep.name == "fm-check" and unfinished_check else 0, 0

    def fake_sweep(root, name, args, archive, log):
        steps, k = int(args[args.index("--steps") + 1]), int(args[args.index("--num-embeddings") + 1])
        seeds = [int(s) for s in args[args.index("--seed") + 1].split(",")]
        sweeps.append((name, seeds))
        if not toy:  # the full-size runs are evaluated about twelve times each, checkpointed every 500 steps
            assert args[args.index("--eval-every") + 1] == str(study.more_eval_every(steps))
            assert args[args.index("--checkpoint-every") + 1] == "500"
        more.extend(_more_row(k, steps, s, 11.1 + s) for s in seeds if not any(
            (r["num_embeddings"], r["steps"], r["seed"]) == (k, steps, s) for r in more))
        return []

    monkeypatch.setattr(study, "run_rows", fake_run_rows)
    monkeypatch.setattr(study, "read_plan", lambda sweep, archive: (plans[sweep.name], None))
    monkeypatch.setattr(study, "more_rows", lambda root, stage, archive, only=None: ([r for r in more if only in (
        None, (r["num_embeddings"], r["embedding_dim"]))], 0))
    monkeypatch.setattr(study, "sweep", fake_sweep)
    monkeypatch.setattr(study, "default_kd", lambda toy: (512, 8))
    monkeypatch.setattr("builtins.print", lambda line, **kw: lines.append(line))
    return more, sweeps, lines


@pytest.mark.parametrize("toy", [True, False])
def test_the_more_stage_carries_on_each_setting_whose_check_is_finished(monkeypatch, tmp_path, toy):
    """K=8 gained much from its check, so it is doubled once more (seed 0), then, flat there, gets its second seed
    at the check's steps; K=32's check run is not finished (the check stage still running), so it waits; the
    default setting is flat in the budget sweep: nothing to train."""
    study = experiment("kd_study")
    finished = {
        "fm-kd": [_more_row(k, 20, s, 10.0 + s) for k in (8, 32, 512) for s in (0, 1)],
        "fm-check": [_more_row(8, 40, 0, 11.0)],
        "fm-budget": [{"steps": 20, "psnr": 10.0, "seed": 0}, {"steps": 40, "psnr": 10.1, "seed": 0}],
    }
    plans = {"fm-check": {"runs": [{"settings": {"num_embeddings": k, "embedding_dim": 8}} for k in (8, 32)]}}
    _, sweeps, lines = _fake_more_stage(monkeypatch, study, finished, plans, toy)
    assert study.main(["--root", str(tmp_path), *(["--toy"] if toy else []), "--stages", "fm-more"]) == 0
    assert sweeps == [("fm-more/K8-D8-steps80", [0]), ("fm-more/K8-D8-steps40", [1])]
    assert "fm-more: K32-D8: its fm-check run is not finished; run this stage again after it" in lines
    assert "fm-more: K8-D8: done" in lines and "fm-more: K512-D8: done" in lines


def test_the_more_stage_takes_the_settings_nearest_to_done_first(monkeypatch, tmp_path):
    """K=32 has had its doubling to 80 steps (flat: only its second seed at 40 is left), so it goes before K=8 and
    K=128, which both still need theirs; those two keep the order of K."""
    study = experiment("kd_study")
    finished = {
        "fm-kd": [_more_row(k, 20, s, 10.0 + s) for k in (8, 32, 128, 512) for s in (0, 1)],
        "fm-check": [_more_row(k, 40, 0, 11.0) for k in (8, 32, 128)],
        "fm-budget": [{"steps": 20, "psnr": 10.0, "seed": 0}, {"steps": 40, "psnr": 10.1, "seed": 0}],
    }
    _, sweeps, lines = _fake_more_stage(monkeypatch, study, finished, {}, toy=True,
                                        more=[_more_row(32, 80, 0, 11.05)])
    assert study.main(["--root", str(tmp_path), "--toy", "--stages", "fm-more", "--jobs", "1"]) == 0
    assert sweeps == [("fm-more/K32-D8-steps40", [1]), ("fm-more/K8-D8-steps80", [0]),
                      ("fm-more/K8-D8-steps40", [1]), ("fm-more/K128-D8-steps80", [0]),
                      ("fm-more/K128-D8-steps40", [1])]
    assert lines[:2] == ["fm-more: K32-D8: done", "fm-more: K8-D8: done"]


def test_a_claim_is_provisional_while_an_end_of_its_axis_has_not_converged():
    """Part-way through the more stage an end of an axis may still be shown at its first steps, not yet decided:
    its verdict is then marked provisional. Ends that converged at different step counts are not."""
    page = experiment("kd_page")

    def summary(undecided_b, loss_b=0.0053):
        return {2: {"final_train_loss": (0.0033, 0.0001), "seeds": (3, 0.0), "steps": (24000, 0.0),
                    "undecided": (0.0, 0.0)},
                256: {"final_train_loss": (loss_b, 0.0002), "seeds": (3, 0.0), "steps": (6000, 0.0),
                      "undecided": (float(undecided_b), 0.0)}}

    assert page.verdict(summary(False), "final_train_loss", False).startswith("confirmed: 0.0033 at 2")
    mixed = page.verdict(summary(True), "final_train_loss", False)
    assert mixed.startswith("provisional (256 not converged yet, at 6000 steps), confirmed: 0.0033 at 2"), mixed
    assert page.verdict(summary(True, 0.0034), "final_train_loss", False).startswith(
        "provisional (256 not converged yet, at 6000 steps), within seed spread")
