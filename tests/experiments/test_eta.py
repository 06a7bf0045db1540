"""The sweep's wall-time estimate: its arithmetic on made-up costs, priors from checkpoints or a timer, and the
lines the runner prints (stand-in commands instead of training)."""

from __future__ import annotations

import json
import math
import sys

import pytest

from vqlab import config as cfgmod
from vqlab.cli_train import TRAIN_FLAGS
from vqlab.experiments import eta as etamod
from vqlab.experiments.eta import RunCost, SweepETA, minutes, plan_eta, prior_step_seconds, run_cost, shape_key
from vqlab.experiments.sweep import plan_sweep
from vqlab.train.checkpoint import FORMAT


def _eta(jobs: int = 1) -> SweepETA:
    costs = [RunCost("a", "X", 100), RunCost("b", "X", 200), RunCost("c", "Y", 100)]
    return SweepETA({c.name: c for c in costs}, {"X": 0.1, "Y": 0.2}, jobs)


def test_shape_ignores_seed_steps_and_learning_rate():
    a, b, c = cfgmod.Config(), cfgmod.Config(), cfgmod.Config()
    b.train.seed, b.train.steps, b.train.lr, b.train.eval_every = 3, 10, 0.5, 7
    c.model.num_embeddings = 8
    assert shape_key(a) == shape_key(b) != shape_key(c)


def test_the_estimate_is_the_prior_times_the_steps_on_the_job_slots():
    assert [_eta().predicted(n) for n in "abc"] == pytest.approx([10, 20, 20])
    assert _eta(jobs=1).remaining(["a", "b", "c"]) == pytest.approx(50)
    assert _eta(jobs=2).remaining(["a", "b", "c"]) == pytest.approx(30)  # a, then c after a; b alone
    assert _eta(jobs=4).remaining(["a", "b", "c"]) == pytest.approx(20)
    assert _eta().remaining([]) == 0


def test_finished_runs_correct_the_predictions():
    eta = _eta(jobs=2)
    eta.finished("a", 15.0)  # 1.5x the prior
    assert eta.ratio() == pytest.approx(1.5)
    assert eta.predicted("b") == pytest.approx(30)  # its shape's measured 0.15 s/step
    assert eta.predicted("c") == pytest.approx(30)  # the prior scaled by the ratio
    assert eta.remaining(["c"], {"b": 5.0}) == pytest.approx(30)  # b has 25 s left, c runs beside it
    assert eta.remaining([], {"b": 50.0}) == 0  # a run past its prediction is about to end


def test_a_time_budget_caps_a_run():
    eta = SweepETA({"a": RunCost("a", "X", 1000, budget_s=60.0)}, {"X": 0.1})
    assert eta.predicted("a") == pytest.approx(60)


def test_without_a_prior_the_first_finished_run_sets_the_pace():
    eta = SweepETA({n: RunCost(n, n, s) for n, s in (("a", 10), ("b", 30))}, {}, 1)
    assert eta.remaining(["a", "b"]) is None and minutes(None) == "unknown"
    eta.finished("a", 4.0)
    assert eta.remaining(["b"]) == pytest.approx(12)


def test_minutes_are_printed_alike():
    assert minutes(30) == "~0.5 min" and minutes(900) == "~15 min" and minutes(9000) == "~150 min (2.5 h)"
    assert minutes(math.nan) == "unknown" and minutes(2) == "<0.1 min"


def test_priors_come_from_checkpoints_else_the_timer():
    timed = []

    def timer(cfg):
        timed.append(cfg)
        if cfg == "bad":
            raise RuntimeError("out of memory")
        return 0.5

    prior, source = prior_step_seconds({"X": "x", "Y": "y", "Z": "bad"}, {"X": [1.0, 3.0]}, timer)
    assert prior == {"X": 2.0, "Y": 0.5} and timed == ["y", "bad"]
    assert source == ("timing 2 training steps of 1 model shape, without start-up and evaluations; the checkpoints of 1 shape; "
                      "1 shape not timed")
    assert prior_step_seconds({"Y": "y"}, {}, None) == ({}, "1 shape not timed")


def _checkpoint(run_dir, step, wall):
    ckpt = run_dir / "checkpoints" / f"step_{step:08d}"
    ckpt.mkdir(parents=True)
    (ckpt / "state.json").write_text(json.dumps({"format": FORMAT, "step": step, "wall_time": wall}))
    (run_dir / "checkpoints" / "latest").write_text(ckpt.name + "\n")


def test_a_partial_run_costs_its_remaining_steps_and_budget(tmp_path):
    cfg = cfgmod.Config()
    cfg.train.steps, cfg.train.max_minutes = 100, 1.0
    _checkpoint(tmp_path / "r", 40, 20.0)
    cost = run_cost(tmp_path / "r", "r", cfg)
    assert (cost.steps, cost.budget_s) == (60, 40.0)
    assert etamod.measured_step_seconds(tmp_path / "r") == pytest.approx(0.5)
    assert run_cost(tmp_path / "new", "new", cfg).steps == 100
    assert etamod.measured_step_seconds(tmp_path / "new") is None


def test_plan_eta_uses_the_sweep_checkpoints_and_times_the_other_shapes(tmp_path):
    base = cfgmod.Config()
    base.train.steps = 100
    runs = plan_sweep(base, {"num_embeddings": [8, 16], "seed": [0, 1]}, TRAIN_FLAGS)
    _checkpoint(tmp_path / "runs" / "K8-s0", 100, 30.0)  # finished: 0.3 s per step for K8
    timed = []
    eta, line = plan_eta(tmp_path, runs, runs[1:], jobs=1, timer=lambda cfg: timed.append(cfg) or 0.1)
    assert len(timed) == 1 and timed[0].model.num_embeddings == 16
    assert eta.remaining([r.name for r in runs[1:]]) == pytest.approx(30 + 10 + 10)
    assert line == ("estimated: ~0.8 min for 3 runs (from timing 2 training steps of 1 model shape, without "
                    "start-up and evaluations; the checkpoints of 1 shape)")
    _, line = plan_eta(tmp_path, runs, runs[2:], jobs=1, timing=False)
    assert line.startswith("estimated: unknown for 2 runs") and "first finished run" in line


def test_timing_a_tiny_model(image_folder):
    cfg = cfgmod.Config()
    cfg.model.hidden, cfg.model.num_embeddings, cfg.model.embedding_dim = 16, 8, 4
    cfg.data.dataset, cfg.train.batch_size, cfg.train.precision = f"folder:{image_folder}", 4, "fp32"
    seconds = etamod.time_training_steps(cfg, threads=1)
    assert math.isfinite(seconds) and seconds > 0


def test_the_runner_prints_the_estimate_and_an_eta(tmp_path, monkeypatch, image_folder):
    from vqlab.experiments import sweep as sw

    def fake(run_dir, config_file, cfg, resume):
        return [sys.executable, "-c", "import time; time.sleep(0.3)"]

    monkeypatch.setattr(sw, "train_command", fake)
    monkeypatch.setattr(etamod, "time_training_steps", lambda cfg, threads, data: 0.001)
    base = cfgmod.Config()
    base.data.dataset, base.train.steps = f"folder:{image_folder}", 600
    runs = plan_sweep(base, {"num_embeddings": [8, 16]}, TRAIN_FLAGS)
    lines = []
    sw.run_sweep(tmp_path, runs, echo=lines.append, estimate=True)
    assert lines[0] == "2 runs: 0 finished, 2 to train (1 at a time)"
    assert lines[1] == ("estimated: <0.1 min for 2 runs (from timing 2 training steps of 2 model shapes, without "
                        "start-up and evaluations)")
    done = [ln for ln in lines if ln.startswith("[")]
    assert [ln.split(" done in ")[0] for ln in done] == ["[1/2] K8-s0", "[2/2] K16-s0"]
    assert " s; ETA " in done[0] and done[1].endswith("; ETA <0.1 min")
