"""Checks that need a CUDA GPU (skipped elsewhere; benchmarks/gpu_check.sh runs them on a GPU machine)."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import TINY, run_cli
from vqlab.models.quantize import VectorQuantizer, nearest_codes
from vqlab.models.vqvae import VQVAE
from vqlab.train import run as rundir
from vqlab.train.device import resolve_precision

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_search_on_gpu_matches_cpu():
    g = torch.Generator().manual_seed(0)
    z, codebook = torch.randn(4096, 64, generator=g), torch.randn(65536, 64, generator=g)
    cpu = nearest_codes(z, codebook)
    gpu = nearest_codes(z.cuda(), codebook.cuda(), max_chunk_elements=1 << 22).cpu()
    chosen = lambda idx: (z.double() - codebook.double()[idx]).pow(2).sum(1)
    assert torch.allclose(chosen(gpu), chosen(cpu), rtol=1e-5, atol=1e-5)


def test_bf16_autocast_keeps_the_quantizer_in_float32_on_gpu():
    vq = VectorQuantizer(64, 8).cuda()
    z = torch.randn(2, 8, 4, 4, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = vq(z.bfloat16())
    assert out.quantized.dtype == torch.float32 and out.loss.dtype == torch.float32
    assert resolve_precision("auto", torch.device("cuda")) in (torch.bfloat16, None)


def test_training_step_on_gpu_lowers_the_loss():
    torch.manual_seed(0)
    model = VQVAE(hidden=32, num_embeddings=64, embedding_dim=16, ema=True, kmeans_init=True).cuda()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(16, 3, 32, 32, device="cuda") - 0.5
    first = None
    for _ in range(30):
        with torch.autocast("cuda", dtype=torch.bfloat16):
            out = model(x)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        first = first if first is not None else out.loss.item()
    assert out.loss.item() < 0.5 * first


def test_cli_trains_on_the_gpu(image_folder, tmp_path):
    run = tmp_path / "gpu"
    args = [a for a in TINY if a not in ("--precision", "fp32")]
    proc = run_cli("train", "--out", str(run), "--data", f"folder:{image_folder}", *args, "--steps", "20")
    assert proc.returncode == 0, proc.stderr
    assert any(r["split"] == "test" for r in rundir.read_metrics(run))


@pytest.mark.parametrize("name,options", [("vq", {"rotation_trick": True, "cosine_codes": True}),
                                          ("fsq", {"fsq_levels": "8,8,8,5,5,5"}), ("simvq", {"rotation_trick": True}),
                                          ("rvq", {"num_codebooks": 4, "ema": False})])
def test_every_quantizer_on_gpu_under_bf16_at_65536_codes(name, options):
    from vqlab.config import QuantizerConfig
    from vqlab.models.registry import QUANTIZERS

    torch.manual_seed(0)
    q = QUANTIZERS[name](QuantizerConfig(name=name, **options), 65536, 64).cuda().train()
    z = torch.randn(8, 64, 32, 32, device="cuda", requires_grad=True)
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = q(z.bfloat16())
    (out.quantized.square().mean() + out.loss).backward()
    assert out.quantized.dtype == torch.float32 and out.loss.dtype == torch.float32
    assert torch.cuda.max_memory_allocated() - base < 256 * 2**20
    q.eval()
    idx = q.encode(z.detach())
    assert torch.allclose(q.lookup(idx), q(z.detach()).quantized, atol=1e-4)
