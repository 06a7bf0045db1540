"""Run under torchrun by test_distributed.py: trains a tiny VQ-VAE with DDP on rank-specific data and writes the
largest difference between any rank's parameters/buffers and rank 0's to the JSON file named in argv[1]."""

import json
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from vqlab.models.vqvae import VQVAE

dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = VQVAE(3, 3, hidden=8, num_embeddings=16, embedding_dim=4, ema=True, kmeans_init=True, restart_after=2)
ddp = DistributedDataParallel(model, broadcast_buffers=False)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
gen = torch.Generator().manual_seed(100 + rank)  # every rank sees different images
for _ in range(6):
    x = torch.rand(4, 3, 8, 8, generator=gen) - 0.5
    out = ddp(x)
    opt.zero_grad()
    out.loss.backward()
    opt.step()
state = torch.cat([v.detach().double().flatten() for v in model.state_dict().values()])
reference = state.clone()
dist.broadcast(reference, 0)
diff = torch.tensor([(state - reference).abs().max().item()], dtype=torch.double)
dist.all_reduce(diff, op=dist.ReduceOp.MAX)
restarted = int(model.quantizer.unused_steps.max() < 2)
if rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump({"max_diff": diff.item(), "initialized": bool(model.quantizer.initialized),
                   "restart_counter_ok": restarted, "world_size": dist.get_world_size()}, f)
dist.destroy_process_group()
