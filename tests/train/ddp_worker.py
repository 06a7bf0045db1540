"""Run under torchrun by test_distributed.py: trains a tiny VQ-VAE with DDP on rank-specific data and writes the
largest difference between any rank's parameters/buffers and rank 0's to the JSON file named in argv[1].

It also follows the dead-code restart counter by hand from the global code histograms (summed over ranks) that
every step reports: the quantizer's counter must equal it on every rank, restarts must have happened, and some
code must have been used on one rank only (so a counter fed by local histograms would differ)."""

import json
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from vqlab.models.vqvae import VQVAE

RESTART_AFTER = 2
dist.init_process_group("gloo")
rank = dist.get_rank()
torch.manual_seed(0)
model = VQVAE(3, 3, hidden=8, num_embeddings=16, embedding_dim=4, ema=True, kmeans_init=True,
              restart_after=RESTART_AFTER)
ddp = DistributedDataParallel(model, broadcast_buffers=False)
opt = torch.optim.Adam(model.parameters(), lr=1e-2)
gen = torch.Generator().manual_seed(100 + rank)  # every rank sees different images
counter = torch.zeros(16, dtype=torch.long)  # the restart counter, followed by hand
restarts, local_only, matches = 0, 0, True
for _ in range(6):
    x = torch.rand(4, 3, 8, 8, generator=gen) - 0.5
    out = ddp(x)
    opt.zero_grad()
    out.loss.backward()
    opt.step()
    global_counts = out.counts.detach()
    local_counts = torch.bincount(out.indices.flatten(), minlength=16)
    local_only += int(((local_counts == 0) & (global_counts > 0)).sum())
    counter = torch.where(global_counts > 0, torch.zeros_like(counter), counter + 1)
    dead = counter >= RESTART_AFTER
    restarts += int(dead.sum())
    counter[dead] = 0
    matches = matches and torch.equal(model.quantizer.unused_steps, counter)
state = torch.cat([v.detach().double().flatten() for v in model.state_dict().values()])
reference = state.clone()
dist.broadcast(reference, 0)
diff = torch.tensor([(state - reference).abs().max().item()], dtype=torch.double)
dist.all_reduce(diff, op=dist.ReduceOp.MAX)
flags = torch.tensor([0 if matches else 1, local_only], dtype=torch.long)
dist.all_reduce(flags, op=dist.ReduceOp.SUM)
if rank == 0:
    with open(sys.argv[1], "w") as f:
        json.dump({"max_diff": diff.item(), "initialized": bool(model.quantizer.initialized),
                   "restart_counter_ok": int(flags[0]) == 0, "restarts": restarts,
                   "used_on_one_rank_only": int(flags[1]), "world_size": dist.get_world_size()}, f)
dist.barrier()  # leave together: a rank tearing gloo down while the other still finishes sometimes aborts
dist.destroy_process_group()
