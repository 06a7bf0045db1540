"""Every quantizer under two-process DDP (gloo on CPU): parameters and buffers stay identical across ranks.

One torchrun launch trains each quantizer in turn (ddp_quantizers_worker.py); the tests read its report."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.train.test_distributed import ROOT, _env, _torchrun
from vqlab.models.registry import QUANTIZERS


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ddpq") / "result.json"
    for _ in range(2):  # one retry, only for gloo's rare abort at process teardown (SIGABRT), never for a failure
        proc = subprocess.run(_torchrun(str(ROOT / "tests" / "train" / "ddp_quantizers_worker.py"), str(out)),
                              env=_env(), capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode == 0 or "SIGABRT" not in proc.stderr:
            break
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(Path(out).read_text())


@pytest.mark.parametrize("name", sorted(QUANTIZERS))
def test_state_stays_identical_across_ranks(report, name):
    assert report["world_size"] == 2
    assert report[name]["max_diff"] == 0.0, report[name]


def test_residual_quantizer_dropout_drew_fewer_levels_on_both_ranks(report):
    depths = report["rvq"]["depths"]  # rank 0's; the state check above covers rank 1 using the same ones
    assert set(depths) <= {1, 2, 3} and min(depths) < 3
