"""The evaluation cache: an unchanged run is evaluated once per set of options; a changed checkpoint (same step)
or other options are evaluated again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from vqlab import config as cfgmod
from vqlab.eval import bits, metrics
from vqlab.experiments.evaluation import EVAL_FILE, evaluate_run
from vqlab.train.checkpoint import FORMAT, latest_checkpoint


@pytest.fixture(scope="module")
def trained(image_folder, tmp_path_factory) -> Path:
    from vqlab.train.loop import train

    cfg = cfgmod.Config()
    cfg.model.hidden, cfg.model.num_embeddings, cfg.model.embedding_dim = 16, 8, 4
    cfg.data.dataset = f"folder:{image_folder}"
    t = cfg.train
    t.steps, t.batch_size, t.precision, t.log_every, t.eval_every, t.checkpoint_every = 2, 8, "fp32", 1, 2, 2
    run_dir = tmp_path_factory.mktemp("evalcache") / "run"
    train(cfg, run_dir, progress=False)
    return run_dir


@pytest.fixture()
def calls(monkeypatch) -> dict[str, int]:
    """Count the calls of the expensive parts (image metrics, bits/dim with its sigma fit), still running them."""
    counts = {"metrics": 0, "bits": 0}
    real_metrics, real_bits = metrics.evaluate_model, bits.bits_per_dim

    def counted_metrics(*args, **kwargs):
        counts["metrics"] += 1
        return real_metrics(*args, **kwargs)

    def counted_bits(*args, **kwargs):
        counts["bits"] += 1
        return real_bits(*args, **kwargs)

    monkeypatch.setattr(metrics, "evaluate_model", counted_metrics)
    monkeypatch.setattr(bits, "bits_per_dim", counted_bits)
    return counts


def test_an_unchanged_run_is_evaluated_once(trained, calls):
    (trained / EVAL_FILE).unlink(missing_ok=True)
    first = evaluate_run(trained, iw_samples=2, batch_size=16)
    assert calls == {"metrics": 1, "bits": 1}
    again = evaluate_run(trained, iw_samples=2, batch_size=16)
    assert calls == {"metrics": 1, "bits": 1} and again == json.loads(json.dumps(first))
    key = json.loads((trained / EVAL_FILE).read_text())["key"]
    assert key["step"] == 2 and key["iw_samples"] == 2 and key["batch_size"] == 16 and len(key["checkpoint"]) == 32


@pytest.mark.parametrize("options", [{"iw_samples": 3, "batch_size": 16}, {"iw_samples": 2, "batch_size": 8}])
def test_other_options_are_evaluated_again(trained, calls, options):
    evaluate_run(trained, iw_samples=2, batch_size=16)
    before = dict(calls)
    evaluate_run(trained, **options)
    assert calls["bits"] == before["bits"] + 1 and calls["metrics"] == before["metrics"] + 1
    evaluate_run(trained, **options)  # and then cached under the new options
    assert calls["bits"] == before["bits"] + 1


def test_a_retrained_checkpoint_at_the_same_step_is_evaluated_again(trained, calls, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    old = evaluate_run(run, iw_samples=2, batch_size=16)
    n = calls["bits"]
    weights_file = latest_checkpoint(run) / "model.safetensors"
    weights = load_file(str(weights_file))
    save_file({k: v * 0.5 if v.is_floating_point() else v for k, v in weights.items()}, str(weights_file),
              metadata={"format": FORMAT})
    new = evaluate_run(run, iw_samples=2, batch_size=16)
    assert calls["bits"] == n + 1 and new["step"] == old["step"] and new["mse"] != old["mse"]


def test_a_cache_of_the_previous_format_is_not_trusted(trained, calls, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained, run)
    stale = {"key": {"version": 1, "step": 2, "iw_samples": 2}, "metrics": {"mse": -1.0}}
    (run / EVAL_FILE).write_text(json.dumps(stale))
    assert evaluate_run(run, iw_samples=2, batch_size=16)["mse"] >= 0 and calls["bits"] == 1


def test_the_evaluate_command_always_evaluates(trained, calls):
    evaluate_run(trained, iw_samples=2, batch_size=16)
    n = calls["bits"]
    evaluate_run(trained, iw_samples=2, batch_size=16, use_cache=False)
    assert calls["bits"] == n + 1
