import pytest

from vqlab import config as cfgmod
from vqlab.errors import VQLabError


def _cfg(**quantizer) -> cfgmod.Config:
    cfg = cfgmod.Config()
    for k, v in quantizer.items():
        setattr(cfg.quantizer, k, v)
    return cfg


@pytest.mark.parametrize("quantizer,needle", [
    ({"rotation_trick": "yes"}, "rotation_trick"),
    ({"cosine_codes": 1}, "cosine_codes"),
])
def test_bad_quantizer_options_are_named(quantizer, needle):
    cfg = _cfg(**quantizer)
    with pytest.raises(VQLabError, match=needle):
        cfgmod.validate(cfg)


def test_valid_combinations_pass():
    for q in ({"name": "vq", "rotation_trick": True, "cosine_codes": True},):
        cfgmod.resolve(cfgmod.validate(_cfg(**q)))
