"""Flags of `train` and `sweep` are generated from the option declarations in vqlab.config."""

import pytest

from vqlab import config as cfgmod
from vqlab.cli import build_parser
from vqlab.cli_options import FLAGS, RESUMABLE, declared


def test_every_declared_option_is_a_train_and_a_sweep_flag():
    commands = build_parser()._subparsers._group_actions[0].choices
    train_help, sweep_help = commands["train"].format_help(), commands["sweep"].format_help()
    for section, f in declared():
        assert f.metadata["flag"] in train_help and f.metadata["flag"] in sweep_help, (section, f.name)
    assert set(FLAGS.values()) == {(s, f.name) for s, f in declared()}


def test_flags_set_their_config_field_with_the_declared_type():
    from vqlab.cli_train import config_from_args

    args = build_parser().parse_args(["train", "--out", "x", "-K", "64", "--no-ema", "--vae-sigma", "0.2",
                                      "--vimco-samples", "4", "--image-size", "16", "--max-minutes", "1.5",
                                      "--quantizer", "vq", "--downsample", "8"])
    cfg = config_from_args(args)
    assert cfg.model.num_embeddings == 64 and cfg.quantizer.ema is False and cfg.vae.sigma == 0.2
    assert cfg.vimco.samples == 4 and cfg.data.image_size == 16 and cfg.train.max_minutes == 1.5
    assert cfg.model.downsample == 8
    assert cfg.data.color_space == "rgb"  # resolved, not "auto"


def test_sweep_flags_take_comma_lists():
    args = build_parser().parse_args(["sweep", "--out", "s", "-K", "8,16", "--ema", "true,false", "--lr", "1e-3"])
    assert args.num_embeddings == [8, 16] and args.ema == [True, False] and args.lr == [1e-3]


def test_resumable_options_are_the_ones_that_do_not_change_what_was_computed():
    assert RESUMABLE == {"steps", "log_every", "eval_every", "checkpoint_every", "max_minutes", "download"}
    assert cfgmod.is_resumable("train", "keep_checkpoints") and not cfgmod.is_resumable("model", "hidden")


@pytest.mark.parametrize("legacy,section,name", [("beta", "quantizer", "beta"), ("vae_sigma", "vae", "sigma"),
                                                 ("vimco_samples", "vimco", "samples")])
def test_configs_of_earlier_versions_move_their_keys_to_the_new_sections(legacy, section, name):
    cfg = cfgmod.apply_overrides(cfgmod.Config(), {"model": {legacy: 0.5 if legacy != "vimco_samples" else 7}}, "t")
    assert getattr(getattr(cfg, section), name) == (0.5 if legacy != "vimco_samples" else 7)
