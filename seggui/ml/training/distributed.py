"""DistributedDataParallel plumbing: set up under torchrun, no-ops in a single process."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def setup() -> tuple[int, int]:
    """(rank, world size); initialises the process group when torchrun started us."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend=backend)
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    return dist.get_rank(), dist.get_world_size()


def teardown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def sampler(dataset, world: int, rank: int):
    if world > 1:
        # The dataset's crops are already random and seeded: no reshuffling needed.
        return torch.utils.data.DistributedSampler(dataset, world, rank, shuffle=False, drop_last=True)
    return torch.utils.data.SequentialSampler(dataset)


def wrap(model, device):
    if not active():
        return model
    device_ids = [device.index or 0] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def any_rank(flag: bool, device) -> bool:
    """True when any process wants to stop, so that all stop at the same step."""
    if not active():
        return bool(flag)
    tensor = torch.tensor([1.0 if flag else 0.0], device=device if device.type == "cuda" else "cpu")
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item() > 0)


def mean(values: list[float], device) -> list[float]:
    if not active() or not values:
        return values
    tensor = torch.tensor([sum(values), float(len(values))], dtype=torch.float64)
    dist.all_reduce(tensor)
    return [float(tensor[0] / tensor[1])]


def barrier() -> None:
    if active():
        dist.barrier()
