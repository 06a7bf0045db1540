"""vqlab sweep: planning (names, product, --vary), skip/resume after a kill, and its user errors."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.experiments.conftest import finished_runs
from vqlab import config as cfgmod
from vqlab.cli_train import TRAIN_FLAGS
from vqlab.errors import VQLabError
from vqlab.experiments.sweep import _child_env, plan_sweep, run_state, train_command


def test_full_product_names_runs_by_their_settings():
    runs = plan_sweep(cfgmod.Config(), {"num_embeddings": [8, 32], "embedding_dim": [4, 16], "seed": [0, 1, 2]},
                      TRAIN_FLAGS)
    assert len(runs) == 12 and runs[0].name == "K8-D4-s0" and runs[-1].name == "K32-D16-s2"
    assert runs[0].setting == "K8-D4" and runs[0].config.model.num_embeddings == 8
    assert runs[-1].config.model.embedding_dim == 16 and runs[-1].config.train.seed == 2


def test_vary_moves_one_option_at_a_time_and_plans_shared_runs_once():
    base = cfgmod.Config()  # K=512, D=64
    runs = plan_sweep(base, {"num_embeddings": [8, 512], "embedding_dim": [4, 64], "seed": [0, 1]}, TRAIN_FLAGS,
                      vary=True)
    assert [r.name for r in runs] == ["K8-D64-s0", "K8-D64-s1", "K512-D64-s0", "K512-D64-s1", "K512-D4-s0",
                                      "K512-D4-s1"]


def test_other_option_labels_are_readable():
    runs = plan_sweep(cfgmod.Config(), {"lr": [1e-3, 2e-4], "ema": [True, False]}, TRAIN_FLAGS)
    assert [r.name for r in runs] == ["lr0.001-ema_true-s0", "lr0.001-ema_false-s0", "lr0.0002-ema_true-s0",
                                      "lr0.0002-ema_false-s0"]


def test_auto_colour_space_is_resolved_per_run_not_on_the_base():
    runs = plan_sweep(cfgmod.Config(), {"task": ["reconstruct", "colorize"]}, TRAIN_FLAGS)
    assert [r.config.data.color_space for r in runs] == ["rgb", "ycbcr"]
    base = cfgmod.Config()
    base.data.task = "colorize"
    runs = plan_sweep(base, {"likelihood": ["mse", "logistic"]}, TRAIN_FLAGS)
    assert [r.config.data.color_space for r in runs] == ["ycbcr", "rgb"]


def test_bad_values_name_the_setting():
    with pytest.raises(VQLabError, match="K0"):
        plan_sweep(cfgmod.Config(), {"num_embeddings": [8, 0]}, TRAIN_FLAGS)


def test_a_folder_with_another_run_is_refused(tmp_path):
    cfg = cfgmod.Config()
    other = cfgmod.Config()
    other.model.hidden = 7
    (tmp_path / "config.json").write_text(json.dumps({**other.to_dict(), "channels": 3}))
    with pytest.raises(VQLabError, match="other settings"):
        run_state(tmp_path, cfg)
    assert run_state(tmp_path / "missing", cfg) == "new"


def test_resume_command_and_thread_split(tmp_path):
    cfg = cfgmod.Config()
    cmd = train_command(tmp_path / "r", tmp_path / "c.json", cfg, resume=True)
    assert "--resume" in cmd and "--config" not in cmd and cmd[cmd.index("--steps") + 1] == str(cfg.train.steps)
    assert _child_env(1)["OMP_NUM_THREADS"] == "1"
    src = _child_env(None)["PYTHONPATH"].split(os.pathsep)[0]
    assert (Path(src) / "vqlab" / "cli.py").is_file()


@pytest.mark.parametrize("args,needle", [
    (["-K", "8,x"], "invalid int"),
    (["--ema", "maybe"], "true/false"),
    (["--seeds", "2", "--seed", "0,1"], "either --seeds"),
    (["-K", "8,16", "--jobs", "0"], "--jobs"),
])
def test_user_errors_are_one_line(tmp_path, args, needle):
    proc = run_cli("sweep", "--out", str(tmp_path / "s"), "--steps", "1", *args)
    assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr


def test_interrupted_sweep_skips_finished_runs_and_resumes_the_rest(interrupted_sweep):
    out, second = interrupted_sweep["out"], interrupted_sweep["second"]
    assert second.returncode == 0, second.stderr
    assert interrupted_sweep["killed_done"], "the sweep was killed before any run finished"
    names = ["K8-D4-s0", "K8-D8-s0", "K16-D4-s0", "K16-D8-s0"]
    assert finished_runs(out) == sorted(names)
    for name, stamps in interrupted_sweep["stamps"].items():  # finished runs were not trained again
        now = {str(p): p.stat().st_mtime_ns for p in (out / "runs" / name / "checkpoints").rglob("*")}
        assert now == stamps
        assert (out / "runs" / name / "train.log").read_text().count("test: ") == 1
    assert f"{len(interrupted_sweep['killed_done'])} finished" in second.stdout
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sorted(r["name"] for r in rows) == sorted(names)
    for r in rows:
        assert float(r["final_train_loss"]) > 0 and float(r["psnr"]) > 0 and r["num_embeddings"] in ("8", "16")
    assert json.loads((out / "sweep.json").read_text())["axes"] == ["num_embeddings", "embedding_dim"]


def test_jobs_run_at_once_and_a_failed_run_is_named(tmp_path, monkeypatch):
    """Runner only, with stand-in commands instead of training: two at once, failures reported at the end."""
    import sys

    from vqlab.experiments import sweep as sw

    def fake(run_dir, config_file, cfg, resume):
        code = ("import os, sys, time; open(sys.argv[1] + '/started', 'w').write(os.environ['OMP_NUM_THREADS']); "
                "time.sleep(1.0); print('boom'); sys.exit(1 if 'K16' in sys.argv[1] else 0)")
        return [sys.executable, "-c", code, str(run_dir)]

    monkeypatch.setattr(sw, "train_command", fake)
    runs = plan_sweep(cfgmod.Config(), {"num_embeddings": [8, 16]}, TRAIN_FLAGS)
    lines = []
    with pytest.raises(VQLabError, match=r"K16-s0 \(boom\)"):
        sw.run_sweep(tmp_path, runs, jobs=2, echo=lines.append)
    assert lines[1].startswith("start") and lines[2].startswith("start")  # both started before either ended
    threads = str(max(1, (os.cpu_count() or 1) // 2))
    assert all((tmp_path / "runs" / r.name / "started").read_text() == threads for r in runs)


def test_a_run_with_other_settings_is_refused_naming_the_run_option_and_values(tmp_path):
    import copy

    from vqlab.experiments.sweep import RUNS_DIR, write_plan

    runs = plan_sweep(cfgmod.Config(), {"num_embeddings": [8, 16]}, TRAIN_FLAGS)
    run_dir = tmp_path / RUNS_DIR / runs[0].name

    def saved(**changes) -> None:
        cfg = copy.deepcopy(runs[0].config)
        for name, value in changes.items():
            section, field = name.split("__")
            setattr(getattr(cfg, section), field, value)
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps({**cfg.to_dict(), "channels": 3}))

    saved(model__hidden=16, train__lr=0.01)
    with pytest.raises(VQLabError, match="other settings") as err:
        run_state(run_dir, runs[0].config)
    message = str(err.value)
    assert message.startswith("sweep run K8-s0: ")
    assert "model.hidden: 16 in the run, 128 planned" in message and "train.lr: 0.01 in the run, 0.001 planned" in message
    assert "steps" not in message and "num_embeddings" not in message
    # The plan is not rewritten either: a refused sweep leaves the existing one in place.
    (tmp_path / "sweep.json").write_text("the old plan")
    with pytest.raises(VQLabError, match="sweep run K8-s0"):
        write_plan(tmp_path, runs, ["num_embeddings"], vary=False)
    assert (tmp_path / "sweep.json").read_text() == "the old plan"
    # What a resume may change stays allowed: the run is resumed with the planned values.
    saved(train__log_every=3, train__eval_every=3, train__checkpoint_every=3, train__max_minutes=2.0)
    assert run_state(run_dir, runs[0].config) == "partial"
    write_plan(tmp_path, runs, ["num_embeddings"], vary=False)
    assert json.loads((tmp_path / "sweep.json").read_text())["axes"] == ["num_embeddings"]


def test_a_cosine_run_is_not_resumed_to_other_steps_but_a_constant_rate_run_is(tmp_path):
    """A resume to more steps re-stretches a cosine schedule from the saved step on (the rate jumps back up), so
    the result is not the planned run trained for those steps: the sweep refuses it and says why. Under a
    constant rate the resumed run is the planned one."""
    import copy

    run_dir = tmp_path / "K8-s0"
    run_dir.mkdir()
    planned = cfgmod.Config()
    assert planned.train.lr_schedule == "cosine" and planned.train.steps == 3000
    started = copy.deepcopy(planned)
    started.train.steps = 1500
    (run_dir / "config.json").write_text(json.dumps(started.to_dict()))
    with pytest.raises(VQLabError, match=r"train.steps: 1500 in the run, 3000 planned; its cosine learning-rate"):
        run_state(run_dir, planned)
    planned.train.lr_schedule = started.train.lr_schedule = "constant"
    (run_dir / "config.json").write_text(json.dumps(started.to_dict()))
    assert run_state(run_dir, planned) == "partial"


def test_an_archived_result_stands_only_for_a_run_of_the_same_steps(tmp_path):
    """A study that raises its budget trains again the runs its archive records at the old budget (their results
    are for fewer steps), whatever the schedule."""
    from vqlab.experiments.sweep import archived_runs

    for schedule in ("cosine", "constant"):
        base = cfgmod.Config()
        base.train.lr_schedule = schedule
        base.train.steps = 6000
        runs = plan_sweep(base, {"num_embeddings": [8, 16]}, TRAIN_FLAGS)
        old = copy_with_steps(runs[0].config, 3000)
        records = [{"name": runs[0].name, "config": old.to_dict(), "row": {"psnr": 20.0}},
                   {"name": runs[1].name, "config": runs[1].config.to_dict(), "row": {"psnr": 21.0}}]
        archive = tmp_path / f"{schedule}.jsonl"
        archive.write_text("".join(json.dumps(r) + "\n" for r in records))
        assert archived_runs(archive, runs) == ([runs[1].name], [runs[0].name])


def copy_with_steps(cfg: cfgmod.Config, steps: int) -> cfgmod.Config:
    import copy

    out = copy.deepcopy(cfg)
    out.train.steps = steps
    return out


def test_rerunning_a_finished_sweep_with_another_option_changes_nothing(interrupted_sweep, image_folder):
    from tests.experiments.conftest import cli_env, sweep_command

    out = interrupted_sweep["out"]
    before = {str(p): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    plan = (out / "sweep.json").read_text()
    proc = subprocess.run([*sweep_command(out, image_folder), "--hidden", "32", "-K", "8,16,32"], env=cli_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: sweep run K8-D4-s0: "), proc.stderr
    assert "model.hidden: 16 in the run, 32 planned" in lines[0]
    assert (out / "sweep.json").read_text() == plan
    assert {str(p): p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before
    assert not (out / "runs" / "K32-D4-s0").exists()


def test_the_sweep_prints_an_estimate_and_an_eta_per_trained_run(interrupted_sweep):
    stdout = interrupted_sweep["second"].stdout
    todo = 4 - len(interrupted_sweep["killed_done"])
    done = [ln for ln in stdout.splitlines() if ln.startswith("[")]
    assert len(done) == todo and all(f"/{todo}] " in ln and " s; ETA " in ln for ln in done)
    if todo:
        estimate = next(ln for ln in stdout.splitlines() if ln.startswith("estimated: "))
        assert f" for {todo} runs (from " in estimate and "unknown" not in estimate


def test_a_run_written_by_an_earlier_version_counts_as_the_same_settings(tmp_path):
    """tests/golden/v1 holds a config.json in the first version's layout (quantizer options under model, the
    data's channel count beside the sections); a sweep planning the same settings resumes it instead of refusing."""
    golden = Path(__file__).resolve().parents[1] / "golden" / "v1" / "vqvae" / "config.json"
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(golden.read_text())
    old = json.loads(golden.read_text())
    planned = cfgmod.resolve(cfgmod.from_dict({k: v for k, v in old.items() if k in cfgmod.SECTIONS}))
    assert "beta" in old["model"] and "channels" in old  # the old layout, as written then
    assert run_state(run_dir, planned) == "partial"  # resumed (its config is there), not refused
    planned.model.num_embeddings += 1
    with pytest.raises(VQLabError, match=r"model.num_embeddings"):
        run_state(run_dir, planned)


def test_runs_in_an_archive_are_not_trained_again_unless_their_settings_differ(interrupted_sweep, image_folder,
                                                                                tmp_path):
    """A study spread over sessions keeps finished runs in an archive (JSON lines of name, config, results). A
    sweep given that archive trains only the runs it lacks; a record with other settings does not count."""
    from tests.experiments.conftest import cli_env, sweep_command
    from vqlab.experiments.sweep import archived_runs, local_runs, read_plan

    done = interrupted_sweep["out"]
    config = {name: json.loads((done / "runs" / name / "config.json").read_text())
              for name in ("K8-D4-s0", "K8-D8-s0", "K16-D4-s0")}
    config["K16-D4-s0"]["model"]["hidden"] = 32  # recorded with other settings than planned: trained again
    # Recorded before an option existed (here: the chroma-bins ones, added later with defaults that keep the old
    # behaviour): still the planned settings, not trained again.
    for field in ("chroma_bins", "chroma_temperature"):
        del config["K8-D8-s0"]["model"][field]
    archive = tmp_path / "runs.jsonl"
    archive.write_text("".join(json.dumps({"name": n, "config": c, "row": {}}) + "\n" for n, c in config.items()))
    out = tmp_path / "kd"
    proc = subprocess.run([*sweep_command(out, image_folder), "--skip-archived", str(archive)], env=cli_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "2 planned runs are in" in proc.stdout and "1 recorded there with other settings are trained " \
        "(K16-D4-s0)" in proc.stdout
    assert sorted(p.name for p in (out / "runs").iterdir()) == ["K16-D4-s0", "K16-D8-s0"]
    plan = read_plan(out)
    assert plan["archived"] == ["K8-D4-s0", "K8-D8-s0"] and len(plan["runs"]) == 4
    assert [r["name"] for r in local_runs(plan)] == ["K16-D4-s0", "K16-D8-s0"]
    with open(out / "results.csv", newline="") as f:
        assert sorted(r["name"] for r in csv.DictReader(f)) == ["K16-D4-s0", "K16-D8-s0"]
    # Nothing left to train: every run is here or archived (the folders here win over the archive).
    again = subprocess.run([*sweep_command(out, image_folder), "--skip-archived", str(archive)], env=cli_env(),
                           capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0 and "2 runs: 2 finished, 0 to train" in again.stdout, again.stdout
    # A corrupt archive is a user error, and so the sweep trains nothing.
    archive.write_text("not json\n")
    with pytest.raises(VQLabError, match="is not a run archive"):
        archived_runs(archive, [])
