"""--weight-decay: plain Adam at 0 (today's runs unchanged), AdamW on the convolution weights otherwise."""

import torch

from vqlab import config as cfgmod
from vqlab.models.registry import build_model
from vqlab.train.optim import decayed_parameters, make_optimizer


def _model(ema: bool = False):
    cfg = cfgmod.Config()
    cfg.model.hidden, cfg.model.num_embeddings, cfg.model.embedding_dim = 8, 16, 4
    cfg.quantizer.ema = ema
    torch.manual_seed(0)
    return build_model(cfg, 1, 2)


def test_zero_weight_decay_is_plain_adam_over_every_parameter():
    model = _model()
    opt = make_optimizer(model, 1e-3, 0.0)
    assert type(opt) is torch.optim.Adam and len(opt.param_groups) == 1
    assert opt.param_groups[0]["weight_decay"] == 0 and len(opt.param_groups[0]["params"]) == len(
        list(model.parameters()))


def test_weight_decay_is_adamw_on_convolution_weights_only():
    model = _model()
    opt = make_optimizer(model, 1e-2, 0.5)
    assert type(opt) is torch.optim.AdamW
    decayed = {id(p) for p in decayed_parameters(model)}
    names = {n for n, p in model.named_parameters() if id(p) in decayed}
    assert names and all(n.endswith(".weight") for n in names)
    assert "quantizer.codebook" not in names and not any(n.endswith(".bias") for n in names)
    groups = {g["weight_decay"]: {id(p) for p in g["params"]} for g in opt.param_groups}
    assert groups[0.5] == decayed and groups[0.0] == {id(p) for p in model.parameters()} - decayed
    # with zero gradients only the decayed weights move: shrunk by lr * weight_decay
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    for n, p in model.named_parameters():
        if n in names:
            assert torch.allclose(p, before[n] * (1 - 1e-2 * 0.5))
        else:
            assert torch.equal(p, before[n]), n


def test_quantizer_parameters_are_never_decayed():
    cfg = cfgmod.Config()
    cfg.model.hidden, cfg.model.embedding_dim = 8, 4
    cfg.quantizer.name = "fsq"  # its 1x1 projections are convolutions inside the quantizer
    cfgmod.resolve(cfgmod.validate(cfg))
    model = build_model(cfg, 1, 2)
    names = {n for n, p in model.named_parameters() if id(p) in {id(q) for q in decayed_parameters(model)}}
    assert names and not any(n.startswith("quantizer.") for n in names)
    assert any(n.startswith("quantizer.") for n, _ in model.named_parameters())
