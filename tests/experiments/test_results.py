"""results.csv: the final training loss over the last 5% of steps, CSV round trip, per-setting summary."""

from __future__ import annotations

import math

import pytest

from vqlab.errors import VQLabError
from vqlab.experiments.results import (
    axis_groups,
    final_train_loss,
    format_results_csv,
    loss_curve,
    mean_std,
    read_results,
    summarize,
)


def _rows(n: int, every: int = 1) -> list[dict]:
    rows = [{"split": "train", "step": s, "loss": float(s)} for s in range(every, n + 1, every)]
    return rows + [{"split": "test", "step": n, "mse": 0.1}]


def test_final_loss_is_the_mean_over_the_last_five_percent_of_steps():
    assert final_train_loss(_rows(100), 100) == pytest.approx(98.0)  # steps 96..100
    assert final_train_loss(_rows(100, every=10), 100) == pytest.approx(100.0)  # only the row at 100 is that late
    assert final_train_loss(_rows(10), 10) == pytest.approx(10.0)  # ceil(0.5) = 1 step
    assert final_train_loss(_rows(50), 100) == pytest.approx(48.0)  # stopped early (time budget): its last 5%
    assert math.isnan(final_train_loss([{"split": "test", "step": 1}], 10))
    # Another logged term, e.g. the reconstruction part of the loss, the same way.
    parts = [{**r, "recon_loss": r["loss"] / 2} for r in _rows(100) if r["split"] == "train"]
    assert final_train_loss(parts, 100, key="recon_loss") == pytest.approx(49.0)
    assert math.isnan(final_train_loss(_rows(100), 100, key="recon_loss"))


def test_loss_curve_keeps_training_rows_only():
    assert loss_curve(_rows(3)) == ([1, 2, 3], [1.0, 2.0, 3.0])


def test_csv_round_trip_and_column_order(tmp_path):
    rows = [{"name": "K8-s0", "setting": "K8", "num_embeddings": 8, "seed": 0, "steps": 10, "final_train_loss": 0.5,
             "psnr": 20.0, "model": "vqvae", "bound": "a, b", "mse": 0.01, "K": None}]
    text = format_results_csv(rows)
    assert text.splitlines()[0].startswith("name,setting,num_embeddings,seed,steps,final_train_loss,mse,psnr")
    (tmp_path / "results.csv").write_text(text)
    back = read_results(tmp_path)[0]
    assert back["num_embeddings"] == 8 and back["psnr"] == 20.0 and back["bound"] == "a, b" and back["K"] is None
    with pytest.raises(VQLabError, match="vqlab sweep"):
        read_results(tmp_path / "missing")


def test_summary_and_axis_groups():
    rows = [{"setting": f"K{k}-D{d}", "num_embeddings": k, "embedding_dim": d, "final_train_loss": loss}
            for k, d, loss in ((8, 64, 1.0), (8, 64, 3.0), (32, 64, 2.0), (512, 4, 5.0), (512, 64, 4.0))]
    s = summarize(rows, ["num_embeddings", "embedding_dim"])
    assert s[0]["seeds"] == 2 and s[0]["final_train_loss_mean"] == 2.0
    assert s[0]["final_train_loss_std"] == pytest.approx(math.sqrt(2))
    k_groups = axis_groups(rows, ["num_embeddings", "embedding_dim"], "num_embeddings")
    assert list(k_groups) == [(64,)] and len(k_groups[(64,)]) == 4
    assert list(axis_groups(rows, ["num_embeddings", "embedding_dim"], "embedding_dim")) == [(512,)]
    assert mean_std([1.0, float("nan")]) == (1.0, 0.0) and all(map(math.isnan, mean_std([])))
