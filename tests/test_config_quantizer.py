import math

import pytest

from vqlab import config as cfgmod
from vqlab.cli_options import add_option_flags
from vqlab.cli_sweep import _sweep_value
from vqlab.config_quantizer import FSQ_LEVELS, PAPER_SIZES, auto_levels, parse_levels
from vqlab.errors import VQLabError


def _cfg(**quantizer) -> cfgmod.Config:
    cfg = cfgmod.Config()
    for k, v in quantizer.items():
        setattr(cfg.quantizer, k, v)
    return cfg


def test_every_registered_quantizer_is_a_valid_name():
    from vqlab.models.registry import QUANTIZERS

    assert set(QUANTIZERS) == set(cfgmod.QUANTIZERS) == {"vq", "fsq", "simvq", "rvq"}


def test_paper_levels_and_table():
    assert auto_levels(2**8) == (8, 6, 5) and auto_levels(2**10) == (8, 5, 5, 5)
    assert auto_levels(2**12) == (7, 5, 5, 5, 5) and auto_levels(2**14) == (8, 8, 8, 6, 5)
    assert auto_levels(2**16) == (8, 8, 8, 5, 5, 5)
    for k, levels in FSQ_LEVELS.items():  # every entry is within 10% of its nominal size
        assert abs(math.prod(levels) / k - 1) < 0.1, k
    assert set(PAPER_SIZES) <= set(FSQ_LEVELS)


@pytest.mark.parametrize("k,levels,resolved_k", [(1024, "8,5,5,5", 1000), (512, "8,8,8", 512), (4096, "7,5,5,5,5", 4375)])
def test_fsq_auto_levels_resolve_from_k_and_k_becomes_their_product(k, levels, resolved_k):
    cfg = _cfg(name="fsq")
    cfg.model.num_embeddings = k
    assert cfgmod.validate(cfg).quantizer.fsq_levels == "auto"  # validation only checks
    cfgmod.resolve(cfg)
    assert cfg.quantizer.fsq_levels == levels and cfg.model.num_embeddings == resolved_k
    again = cfgmod.from_dict(cfg.to_dict())  # a saved config reloads unchanged, and resolves to itself
    assert cfgmod.resolve(again).to_dict() == cfg.to_dict()


def test_fsq_explicit_levels_decide_k():
    cfg = _cfg(name="fsq", fsq_levels="8, 5,5,5")
    cfg.model.num_embeddings = 7  # ignored
    cfgmod.resolve(cfgmod.validate(cfg))
    assert cfg.quantizer.fsq_levels == "8,5,5,5" and cfg.model.num_embeddings == 1000


def test_fsq_levels_only_touch_fsq_runs():
    cfg = _cfg(name="vq", fsq_levels="8,5,5,5")
    cfgmod.resolve(cfgmod.validate(cfg))
    assert cfg.model.num_embeddings == 512 and cfg.quantizer.fsq_levels == "8,5,5,5"


@pytest.mark.parametrize("quantizer,needle", [
    ({"name": "fsq"}, "fsq-levels"),  # K = 1000 has no auto levels (set below)
    ({"fsq_levels": "8,x"}, "fsq-levels"),
    ({"fsq_levels": "8,1"}, "between 2 and 256"),
    ({"fsq_levels": [8, 5]}, "fsq-levels"),
    ({"fsq_levels": "256,256,256,256"}, "at most"),
    ({"num_codebooks": 0}, "num-codebooks"),
    ({"name": "rvq", "num_codebooks": 1}, "num-codebooks >= 2"),
    ({"quantizer_dropout": 1.5}, "quantizer-dropout"),
    ({"rotation_trick": "yes"}, "rotation_trick"),
    ({"name": "fsq", "fsq_levels": "8,5", "rotation_trick": True}, "rotation-trick"),
    ({"name": "rvq", "cosine_codes": True}, "cosine-codes"),
    ({"name": "simvq", "cosine_codes": True}, "cosine-codes"),
])
def test_bad_quantizer_options_are_named(quantizer, needle):
    cfg = _cfg(**quantizer)
    cfg.model.num_embeddings = 1000
    with pytest.raises(VQLabError, match=needle):
        cfgmod.validate(cfg)


def test_valid_combinations_pass():
    for q in ({"name": "vq", "rotation_trick": True, "cosine_codes": True}, {"name": "simvq", "rotation_trick": True},
              {"name": "rvq", "rotation_trick": True, "num_codebooks": 3, "quantizer_dropout": 0.0}):
        cfgmod.resolve(cfgmod.validate(_cfg(**q)))


def test_parse_levels():
    assert parse_levels("8,5,5,5") == (8, 5, 5, 5) and parse_levels("2") == (2,)
    with pytest.raises(VQLabError):
        parse_levels("")


def test_sweep_lists_of_fsq_levels_use_slashes():
    import argparse

    p = argparse.ArgumentParser()
    add_option_flags(p, as_lists=_sweep_value)
    args = p.parse_args(["--fsq-levels", "8,5,5,5/7,5,5,5,5", "-K", "512,1024", "--quantizer", "vq,fsq"])
    assert args.fsq_levels == ["8,5,5,5", "7,5,5,5,5"]
    assert args.num_embeddings == [512, 1024] and args.quantizer == ["vq", "fsq"]


def test_train_flags_parse(tmp_path):
    import argparse

    from vqlab.cli_train import add_train, config_from_args

    parser = argparse.ArgumentParser()
    add_train(parser.add_subparsers())
    args = parser.parse_args(["train", "--out", str(tmp_path), "--quantizer", "fsq", "--fsq-levels", "8,5,5,5"])
    cfg = config_from_args(args)
    assert cfg.model.num_embeddings == 1000 and cfg.quantizer.name == "fsq"
    args = parser.parse_args(["train", "--out", str(tmp_path), "--quantizer", "rvq", "--num-codebooks", "3",
                              "--quantizer-dropout", "0.5", "--rotation-trick"])
    cfg = config_from_args(args)
    assert (cfg.quantizer.num_codebooks, cfg.quantizer.quantizer_dropout, cfg.quantizer.rotation_trick) == (3, 0.5, True)
