"""The process's place in a ``torchrun`` job (or a job of one), and its device.

Under ``torchrun --nproc-per-node N`` (``WORLD_SIZE`` > 1 in the environment) the process joins
the group: gloo on CPU, nccl on CUDA (one GPU per local rank). Alone, nothing is initialised.

    with Place.start("cpu") as place:
        if place.leader: save(...)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Place", "resolve_device"]


def resolve_device(device: str, *, local_rank: int = 0) -> torch.device:
    """``cpu`` or ``cuda`` (this process's GPU); a clear error when CUDA is asked for and absent."""
    if device == "cpu":
        return torch.device("cpu")
    if device != "cuda":
        raise ValueError(f"--device {device!r}: use cpu or cuda")
    if not torch.cuda.is_available():
        raise ValueError(f"--device cuda: this torch ({torch.__version__}) sees no CUDA GPU; use --device cpu, "
                         "or install a CUDA build of torch on a machine with a GPU")
    if local_rank >= torch.cuda.device_count():
        raise ValueError(f"local rank {local_rank} has no GPU (only {torch.cuda.device_count()}): "
                         "use --nproc-per-node at most the number of GPUs")
    return torch.device("cuda", local_rank)


@dataclass
class Place:
    """Rank, world size and device of this process; a context that leaves the process group on exit."""

    rank: int
    world: int
    device: torch.device

    @property
    def distributed(self) -> bool:
        return self.world > 1

    @property
    def leader(self) -> bool:
        """Rank 0: the one that writes files and shows progress."""
        return self.rank == 0

    @classmethod
    def start(cls, device: str) -> "Place":
        """Join the ``torchrun`` group when there is one; resolve ``device`` for this process."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        resolved = resolve_device(device, local_rank=local_rank)
        if world > 1 and not dist.is_initialized():
            if resolved.type == "cuda":
                torch.cuda.set_device(resolved)
            dist.init_process_group("nccl" if resolved.type == "cuda" else "gloo")
        return cls(rank=dist.get_rank() if world > 1 else 0, world=world, device=resolved)

    def mean(self, total: float, count: float) -> float:
        """``sum(total) / sum(count)`` over every process."""
        if not self.distributed:
            return total / max(count, 1.0)
        numbers = torch.tensor([total, count], dtype=torch.float64, device=self.device)
        dist.all_reduce(numbers)
        return float(numbers[0] / numbers[1].clamp(min=1.0))

    def __enter__(self) -> "Place":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()
