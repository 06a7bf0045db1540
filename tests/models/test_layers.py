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
