import pytest
import torch
from torch import nn

from vqlab.models.layers import Decoder, Encoder, ResidualBlock


@pytest.mark.parametrize("h,w", [(32, 32), (12, 20), (4, 8), (36, 28)])
def test_encoder_decoder_shapes_for_any_multiple_of_four(h, w):
    enc, dec = Encoder(3, 16, 8), Decoder(8, 16, 3)
    z = enc(torch.randn(2, 3, h, w))
    assert z.shape == (2, 8, h // 4, w // 4)
    assert dec(z).shape == (2, 3, h, w)


def test_paper_architecture_layers():
    enc = Encoder(3, 256, 64)
    convs = [m for m in enc.net if isinstance(m, nn.Conv2d)]
    assert [(c.kernel_size, c.stride) for c in convs] == [((4, 4), (2, 2)), ((4, 4), (2, 2)), ((1, 1), (1, 1))]
    blocks = [m for m in enc.net if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2
    kinds = [type(m).__name__ for m in blocks[0].block]
    assert kinds == ["ReLU", "Conv2d", "ReLU", "Conv2d"]
    assert blocks[0].block[1].kernel_size == (3, 3) and blocks[0].block[3].kernel_size == (1, 1)
    dec = Decoder(64, 256, 3)
    tconvs = [m for m in dec.net if isinstance(m, nn.ConvTranspose2d)]
    assert [(t.kernel_size, t.stride, t.out_channels) for t in tconvs] == [((4, 4), (2, 2), 256), ((4, 4), (2, 2), 3)]
    assert sum(isinstance(m, ResidualBlock) for m in dec.net) == 2


def test_residual_block_is_identity_plus_branch():
    block = ResidualBlock(4)
    for p in block.block[3].parameters():
        nn.init.zeros_(p)
    x = torch.randn(1, 4, 5, 5)
    assert torch.equal(block(x), x)


@pytest.mark.parametrize("factor", [2, 4, 8, 16])
def test_downsample_factor_sets_the_latent_grid(factor):
    from vqlab.models.vqvae import VQVAE

    model = VQVAE(3, 3, hidden=8, num_res_blocks=1, num_embeddings=8, embedding_dim=4, downsample=factor).eval()
    x = torch.rand(2, 3, 64, 64)
    codes = model.encode(x)
    assert codes.shape == (2, 64 // factor, 64 // factor)
    assert model.decode(codes).shape == (2, 3, 64, 64)
    assert model.latent_grid((64, 32)) == (64 // factor, 32 // factor)
    strided = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d) and m.stride == (2, 2)]
    assert len(strided) == factor.bit_length() - 1


def test_paper_factor_keeps_the_parameter_names_of_earlier_checkpoints():
    enc, dec = Encoder(3, 8, 4, 2), Decoder(4, 8, 3, 2)
    assert [k for k in enc.state_dict() if "block" not in k] == ["net.0.weight", "net.0.bias", "net.2.weight",
                                                                  "net.2.bias", "net.6.weight", "net.6.bias"]
    assert [k for k in dec.state_dict() if "block" not in k] == ["net.0.weight", "net.0.bias", "net.4.weight",
                                                                  "net.4.bias", "net.6.weight", "net.6.bias"]
    with pytest.raises(ValueError, match="power of two"):
        Encoder(3, 8, 4, 2, downsample=6)
