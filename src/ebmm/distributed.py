"""Multi-process meta-training helpers around PyTorch's own ``torch.distributed``.

``ebmm train`` runs unchanged under ``torchrun --nproc_per_node P -m ebmm.cli train ...``: torchrun
sets ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` (and the rendezvous address), ``setup`` joins the process
group (NCCL when the config's device is CUDA, each rank on ``cuda:LOCAL_RANK``; gloo otherwise) and
the trainer wraps the memory in ``DistributedDataParallel``. DDP's reducer works with the memory's
write, which takes ``torch.autograd.grad(create_graph=True)`` with respect to expanded (non-leaf)
copies of the parameters inside ``vmap``/``functional_call``: those inner gradients never reach the
parameters' gradient accumulators, so only the outer ``backward`` triggers the all-reduce, and the
averaged gradients equal a single process's (tests/test_distributed.py checks this).

A run without torchrun's variables never touches ``torch.distributed``: every helper then answers as
the only process (rank 0 of 1).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Context:
    """Where this process stands: ``owns_group`` says ``setup`` created the process group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    owns_group: bool = False


def launched() -> bool:
    """True when this process was started by torchrun (or another launcher setting ``WORLD_SIZE``)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def is_initialized() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def rank() -> int:
    """This process's global rank (0 without a process group)."""
    return torch.distributed.get_rank() if is_initialized() else 0


def world_size() -> int:
    """The number of processes (1 without a process group)."""
    return torch.distributed.get_world_size() if is_initialized() else 1


def is_main() -> bool:
    """True on the process that logs, prints and writes files (rank 0)."""
    return rank() == 0


def barrier() -> None:
    """Wait for every process (a no-op without a process group)."""
    if is_initialized():
        torch.distributed.barrier()


def setup(device: str | torch.device) -> Context:
    """Join the process group when launched by torchrun; return this process's ``Context``.

    ``device`` is the configured one: a CUDA device becomes ``cuda:LOCAL_RANK`` under torchrun (and
    the backend NCCL), anything else keeps gloo. A group the caller already initialised is used
    as it is (and left to the caller to destroy).
    """
    device = torch.device(device)
    if not launched() and not is_initialized():
        return Context(device=device)
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    owns = False
    if not is_initialized():
        if not torch.distributed.is_available():
            raise RuntimeError("launched by torchrun, but this PyTorch build has no torch.distributed")
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
        owns = True
    return Context(rank(), world_size(), local_rank, device, owns)


def cleanup(context: Context) -> None:
    """Destroy the process group if ``setup`` created it, once every rank has reached this point
    (a rank that tears down while another is still in a collective can abort at exit)."""
    if context.owns_group and is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def all_mean(values: torch.Tensor) -> torch.Tensor:
    """The mean of ``values`` over all processes (``values`` itself without a process group)."""
    if not is_initialized() or world_size() == 1:
        return values
    total = values.detach().clone()
    torch.distributed.all_reduce(total)
    return total / world_size()
