import pytest

from vqlab import config as cfgmod
from vqlab.errors import VQLabError


def test_defaults_and_presets():
    cfg = cfgmod.validate(cfgmod.Config())
    assert cfg.model.name == "vqvae" and cfg.data.dataset == "photos"
    assert (cfg.train.lr, cfg.train.batch_size, cfg.train.steps, cfg.train.lr_schedule) == (1e-3, 32, 3000, "cosine")
    paper = cfgmod.preset("paper")
    assert (paper.model.hidden, paper.model.num_embeddings, paper.model.embedding_dim) == (256, 512, 64)
    assert (paper.train.batch_size, paper.train.lr, paper.train.steps) == (128, 2e-4, 250_000)
    assert paper.quantizer.beta == 0.25 and not paper.quantizer.ema and paper.train.lr_schedule == "constant"
    assert cfgmod.preset("default").to_dict() == cfgmod.Config().to_dict()
    with pytest.raises(VQLabError, match="unknown preset"):
        cfgmod.preset("nope")


@pytest.mark.parametrize("task,model,likelihood,expected", [
    ("reconstruct", "vqvae", "mse", "rgb"),
    ("colorize", "vqvae", "mse", "ycbcr"),
    ("colorize", "vae", "mse", "ycbcr"),
    ("colorize", "vqvae", "logistic", "rgb"),
    ("colorize", "vimco", "mse", "rgb"),
])
def test_auto_color_space_resolves_before_a_config_is_saved(task, model, likelihood, expected):
    cfg = cfgmod.Config()
    assert cfg.data.color_space == "auto"
    cfg.data.task, cfg.model.name, cfg.model.likelihood = task, model, likelihood
    assert cfgmod.validate(cfg).data.color_space == "auto"  # validation only checks
    assert cfgmod.resolve(cfg).data.color_space == expected
    cfg.data.color_space = "lab"  # an explicit choice stays
    if expected != "rgb" or task == "reconstruct":
        assert cfgmod.resolve(cfgmod.validate(cfg)).data.color_space == "lab"
    else:
        with pytest.raises(VQLabError, match="--color-space"):
            cfgmod.validate(cfg)


def test_yaml_overrides_and_round_trip(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  num_embeddings: 64\ntrain:\n  steps: 7\n")
    cfg = cfgmod.validate(cfgmod.load_yaml(path, cfgmod.preset("paper")))  # a saved config is a validated one
    assert cfg.model.num_embeddings == 64 and cfg.model.hidden == 256 and cfg.train.steps == 7
    assert cfgmod.from_dict(cfg.to_dict()).to_dict() == cfg.to_dict()


@pytest.mark.parametrize("section,field,value,needle", [
    ("model", "num_embeddings", 0, "num-embeddings"),
    ("model", "embedding_dim", 0, "embedding-dim"),
    ("model", "hidden", 2.5, "hidden"),
    ("quantizer", "beta", -1, "beta"),
    ("quantizer", "decay", 1.0, "decay"),
    ("quantizer", "name", "pq", "quantizer"),
    ("vae", "sigma", 0, "vae-sigma"),
    ("vimco", "samples", 1, "vimco-samples"),
    ("model", "name", "gan", "gan"),
    ("data", "task", "x", "task"),
    ("data", "image_size", 30, "image-size"),
    ("train", "steps", 0, "steps"),
    ("train", "lr", 0, "lr"),
    ("train", "batch_size", True, "batch_size"),
    ("train", "precision", "fp16", "precision"),
    ("train", "lr_schedule", "step", "lr-schedule"),
    ("train", "warmup_steps", -2, "warmup-steps"),
    ("data", "hflip", "yes", "hflip"),
    ("data", "random_crop", 0, "random-crop"),
    ("data", "random_crop", 1.5, "random-crop"),
    ("data", "chroma_shrink", 1, "chroma_shrink"),
    ("data", "chroma_shrink", True, "chroma-shrink"),  # with the default task, reconstruct
    ("train", "weight_decay", -0.1, "weight-decay"),
    ("train", "val_images", -1, "val-images"),
    ("data", "color_space", "hsv", "color space"),
    ("model", "chroma_bins", 1, "chroma-bins"),
    ("model", "chroma_temperature", 0, "chroma-temperature"),
    ("model", "likelihood", "chroma-bins", "chroma-bins"),  # with the default task, reconstruct
])
def test_validation_names_the_bad_option(section, field, value, needle):
    cfg = cfgmod.Config()
    setattr(getattr(cfg, section), field, value)
    with pytest.raises(VQLabError, match=needle):
        cfgmod.validate(cfg)


def test_unknown_keys_are_errors():
    with pytest.raises(VQLabError, match="model.widht"):
        cfgmod.apply_overrides(cfgmod.Config(), {"model": {"widht": 3}}, "test")
    with pytest.raises(VQLabError, match="section"):
        cfgmod.apply_overrides(cfgmod.Config(), {"optim": {}}, "test")


@pytest.mark.parametrize("size,ok", [(4, False), (6, False), (8, True), (12, True)])
def test_image_size_is_a_multiple_of_4_and_at_least_8(size, ok):
    cfg = cfgmod.Config()
    cfg.data.image_size = size
    if ok:
        assert cfgmod.validate(cfg).data.image_size == size
    else:
        with pytest.raises(VQLabError, match="at least 8"):
            cfgmod.validate(cfg)


def test_generalisation_options_default_to_today():
    cfg = cfgmod.Config()
    assert (cfg.train.weight_decay, cfg.data.random_crop, cfg.data.chroma_shrink) == (0.0, 1.0, False)
    assert cfg.train.val_images == 2048
    cfg.data.task, cfg.data.chroma_shrink = "colorize", True
    assert cfgmod.resolve(cfgmod.validate(cfg)).data.color_space == "ycbcr"  # auto: a chroma target, allowed
    cfg.data.color_space = "rgb"
    with pytest.raises(VQLabError, match="chroma-shrink"):
        cfgmod.validate(cfg)


def test_chroma_bins_is_for_the_colour_of_colorize_runs():
    cfg = cfgmod.Config()
    cfg.data.task, cfg.model.likelihood = "colorize", "chroma-bins"
    resolved = cfgmod.resolve(cfgmod.validate(cfg))
    assert resolved.data.color_space == "ycbcr"  # auto: the colour, as with mse
    assert (resolved.model.chroma_bins, resolved.model.chroma_temperature) == (32, 0.38)
    for space, ok in (("lab", True), ("ycbcr", True), ("rgb", False)):
        cfg = cfgmod.Config()
        cfg.data.task, cfg.model.likelihood, cfg.data.color_space = "colorize", "chroma-bins", space
        if ok:
            cfgmod.validate(cfg)
        else:
            with pytest.raises(VQLabError, match="chroma-bins"):
                cfgmod.validate(cfg)
    cfg = cfgmod.Config()
    cfg.data.task, cfg.model.likelihood, cfg.model.name = "colorize", "chroma-bins", "vae"
    with pytest.raises(VQLabError, match="--model vqvae"):
        cfgmod.validate(cfg)
