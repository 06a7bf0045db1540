"""Run under torchrun by test_distributed_quantizers.py: for every quantizer of the registry (with its own options
switched on), trains a tiny VQ-VAE with DDP on rank-specific data and records the largest difference between any
rank's parameters/buffers and rank 0's, in the JSON file named in argv[1]."""

import json
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from vqlab.config import QuantizerConfig
from vqlab.models.registry import QUANTIZERS
from vqlab.models.vqvae import VQVAE

# name -> quantizer options; loss-based codebooks where there is a choice (the harder case for DDP's reducer)
SETTINGS = {
    "vq": {"rotation_trick": True, "cosine_codes": True, "ema": False, "kmeans_init": True, "restart_after": 2},
    "fsq": {"fsq_levels": "4,3,2"},
    "simvq": {"rotation_trick": True},
    "rvq": {"num_codebooks": 3, "quantizer_dropout": 1.0, "ema": False, "kmeans_init": True, "restart_after": 2,
            "rotation_trick": True},
}

dist.init_process_group("gloo")
rank = dist.get_rank()
result = {}
for name, options in SETTINGS.items():
    torch.manual_seed(0)
    quantizer = QUANTIZERS[name](QuantizerConfig(name=name, **options), 16, 4)
    model = VQVAE(3, 3, hidden=8, embedding_dim=4, quantizer=quantizer)
    ddp = DistributedDataParallel(model, broadcast_buffers=False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(100 + rank)  # every rank sees different images
    depths = []
    for _ in range(6):
        x = torch.rand(4, 3, 8, 8, generator=gen) - 0.5
        out = ddp(x)
        depths.append(out.indices.shape[1] if out.indices.dim() == 4 else 1)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    state = torch.cat([v.detach().double().flatten() for v in model.state_dict().values()])
    reference = state.clone()
    dist.broadcast(reference, 0)
    diff = torch.tensor([(state - reference).abs().max().item()], dtype=torch.double)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    result[name] = {"max_diff": diff.item(), "depths": depths, "loss": float(out.loss.detach())}
if rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump({"world_size": dist.get_world_size(), **result}, f)
dist.barrier()  # leave together: a rank tearing gloo down while the other still finishes sometimes aborts
dist.destroy_process_group()
