import pytest
import torch

from vqlab.errors import VQLabError
from vqlab.models.vqvae import VQVAE
from vqlab.train.checkpoint import (
    latest_checkpoint,
    load_training_state,
    load_weights,
    read_state,
    save_checkpoint,
)
from vqlab.train.loop import EpochSampler


def _model():
    return VQVAE(3, 3, hidden=8, num_embeddings=8, embedding_dim=4, ema=True, kmeans_init=True)


def test_round_trip_restores_weights_buffers_optimizer_and_rng(tmp_path):
    torch.manual_seed(0)
    model = _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model(torch.randn(2, 3, 8, 8)).loss.backward()
    opt.step()
    save_checkpoint(tmp_path, 5, model, opt, {"wall_time": 1.5})
    expected_rand = torch.rand(3)

    torch.manual_seed(123)
    other = _model()
    other_opt = torch.optim.Adam(other.parameters(), lr=1e-3)
    ckpt = latest_checkpoint(tmp_path)
    assert read_state(ckpt)["step"] == 5 and read_state(ckpt)["wall_time"] == 1.5
    load_weights(ckpt, other)
    load_training_state(ckpt, other_opt)
    for (k, a), b in zip(model.state_dict().items(), other.state_dict().values()):
        assert torch.equal(a, b), k
    assert bool(other.quantizer.initialized)
    assert other_opt.state_dict()["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert torch.equal(torch.rand(3), expected_rand)  # RNG continues where the saved run was


def test_keeps_newest_checkpoints_and_latest_pointer(tmp_path):
    model = _model()
    opt = torch.optim.Adam(model.parameters())
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, model, opt, {}, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir())
    assert names == ["step_00000002", "step_00000003"]
    assert latest_checkpoint(tmp_path).name == "step_00000003"
    (tmp_path / "checkpoints" / "latest").write_text("step_00000099\n")  # dangling pointer: fall back
    assert latest_checkpoint(tmp_path).name == "step_00000003"
    (tmp_path / "checkpoints" / ".tmp-step_00000004").mkdir()  # half-written checkpoint is ignored
    assert latest_checkpoint(tmp_path).name == "step_00000003"


def test_incompatible_or_corrupt_files_raise_user_errors(tmp_path):
    model, opt = _model(), None
    opt = torch.optim.Adam(model.parameters())
    ckpt = save_checkpoint(tmp_path, 1, model, opt, {})
    bigger = VQVAE(3, 3, hidden=8, num_embeddings=16, embedding_dim=4, ema=True)
    with pytest.raises(VQLabError, match="do not match"):
        load_weights(ckpt, bigger)
    (ckpt / "optimizer.pt").write_bytes(b"\x80\x04junk")
    with pytest.raises(VQLabError, match="optimizer.pt"):
        load_training_state(ckpt, opt)
    (ckpt / "state.json").write_text("[]")
    with pytest.raises(VQLabError, match="not a"):
        read_state(ckpt)


def test_sampler_is_a_function_of_seed_and_step():
    s = EpochSampler(10, 3, seed=1)
    epoch0 = torch.cat([s(i) for i in range(3)])
    assert len(set(epoch0.tolist())) == 9  # no repeats within an epoch, remainder dropped
    assert torch.equal(EpochSampler(10, 3, seed=1)(4), s(4))
    assert not torch.equal(EpochSampler(10, 3, seed=2)(0), s(0))
    with pytest.raises(VQLabError, match="batch-size"):
        EpochSampler(2, 3, seed=0)


@pytest.mark.parametrize("protocol,reason", [(2, "print"), (4, "Unsupported operand")])
def test_a_refused_pickle_in_optimizer_pt_is_one_error_line(image_folder, tmp_path, protocol, reason):
    """A plain pickle with a global that weights_only refuses (protocol 4: torch also warns before refusing)."""
    import pickle

    from tests.conftest import run_cli
    from tests.train.test_run import tiny_run

    class Payload:
        def __reduce__(self):
            return (print, ("payload ran",))

    _, _, _, ckpt = tiny_run(tmp_path / "run", data=f"folder:{image_folder}")
    (ckpt / "optimizer.pt").write_bytes(pickle.dumps({"optimizer": Payload(), "rng": {}}, protocol=protocol))
    proc = run_cli("train", "--out", str(tmp_path / "run"), "--resume", "--steps", "3", "--no-progress")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot restore training state from"), proc.stderr
    assert "optimizer.pt" in lines[0] and "refused to unpickle" in lines[0] and reason in lines[0]
    assert "payload ran" not in proc.stdout


def test_best_checkpoint_survives_the_rotation_until_replaced(tmp_path):
    from vqlab.train.checkpoint import best_checkpoint, find_checkpoint, mark_best

    model = _model()
    opt = torch.optim.Adam(model.parameters())
    assert best_checkpoint(tmp_path) is None
    save_checkpoint(tmp_path, 1, model, opt, {}, keep=2)
    mark_best(tmp_path, 1, keep=2)
    for step in (2, 3, 4):
        save_checkpoint(tmp_path, step, model, opt, {}, keep=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir())
    assert names == ["step_00000001", "step_00000003", "step_00000004"]
    assert find_checkpoint(tmp_path, "best").name == "step_00000001"
    assert find_checkpoint(tmp_path, "latest").name == "step_00000004"
    mark_best(tmp_path, 4, keep=2)  # the old best is now just an old checkpoint
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if p.is_dir())
    assert names == ["step_00000003", "step_00000004"] and best_checkpoint(tmp_path).name == "step_00000004"
    with pytest.raises(VQLabError, match="not a complete checkpoint"):
        mark_best(tmp_path, 2)
    with pytest.raises(VQLabError, match="unknown checkpoint"):
        find_checkpoint(tmp_path, "first")
    with pytest.raises(VQLabError, match="no best checkpoint"):
        find_checkpoint(tmp_path / "other", "best")
