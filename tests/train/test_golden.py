"""Golden run directories written by earlier vqlab versions (tests/golden/VERSION/MODEL) must keep loading and
computing exactly what they computed when they were written: a renamed attribute, a moved config key or a
changed default cannot silently break old runs.

Each golden folder holds config.json, one checkpoint (without its optimizer state) and expected.safetensors:
uint8 ``images`` and the ``reconstruct`` output (and ``indices`` for discrete models) that the writing version
computed for them. ``make_golden.py`` beside this file writes a new set with the current version.
"""

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vqlab.train.run import load_run

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
RUNS = sorted(p for p in GOLDEN.glob("*/*") if (p / "expected.safetensors").is_file())


def test_golden_runs_exist_for_every_model():
    names = {p.name for p in RUNS}
    assert {"vqvae", "vae", "vimco"} <= names
    assert len({p.parent.name for p in RUNS}) >= 1


@pytest.mark.parametrize("run_dir", RUNS, ids=[f"{p.parent.name}-{p.name}" for p in RUNS])
def test_golden_run_loads_and_reproduces_its_outputs(run_dir):
    expected = load_file(str(run_dir / "expected.safetensors"))
    run = load_run(run_dir)
    assert run.config.model.name == run_dir.name and run.step >= 1
    inputs, _ = run.task.prepare(expected["images"])
    with torch.no_grad():
        out = run.model.reconstruct(inputs)
    torch.testing.assert_close(out.float(), expected["reconstruct"], atol=1e-5, rtol=1e-5)
    if "indices" in expected:
        assert torch.equal(run.model.encode(inputs), expected["indices"])
        assert run.model.discrete
