"""Distributed training plumbing: the process group under torchrun, and launching torchrun.

``torchrun --nproc_per_node=N script.py`` starts N processes and gives each ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` in its environment. ``init()`` reads them and joins the
process group: NCCL with one GPU per process when CUDA is available, gloo on CPUs. Without
torchrun it returns a single-process context, so the same script runs alone too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank, how many there are, its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str | None

    @property
    def is_main(self) -> bool:
        """True on rank 0, the process that logs and saves."""
        return self.rank == 0


def init() -> Context:
    """Joins the process group torchrun describes in the environment (or runs alone)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world_size == 1:
        return Context(0, 1, 0, device, None)
    backend = "nccl" if cuda else "gloo"
    dist.init_process_group(backend=backend)
    return Context(rank, world_size, local_rank, device, backend)


def wrap(model: torch.nn.Module, context: Context) -> torch.nn.Module:
    """``DistributedDataParallel(model)`` when several processes train, else ``model`` itself.

    DDP averages the gradients over the processes during ``backward()``, so every process takes
    the same optimizer step. Buffers are not broadcast at each forward pass (the network's only
    buffer, the input scale, is a constant), so that evaluation needs no collective call and
    ranks may evaluate different numbers of batches.
    """
    if context.world_size == 1:
        return model
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [context.local_rank] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, broadcast_buffers=False)


def cleanup(barrier: bool = True) -> None:
    """Leaves the process group, so that every process exits cleanly.

    Args:
        barrier: wait for every process first, the normal end of a run. After an error pass
            ``False``: the other processes may never reach the barrier, and this one must exit
            so that torchrun notices the failure and stops them.
    """
    if dist.is_available() and dist.is_initialized():
        if barrier:
            dist.barrier()
        dist.destroy_process_group()


def all_reduce_min(value: int, context: Context) -> int:
    """The smallest of an integer over all processes (itself when running alone)."""
    if context.world_size == 1:
        return value
    device = context.device if context.backend == "nccl" else torch.device("cpu")
    tensor = torch.tensor([value], device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return int(tensor.item())


def default_nproc() -> int:
    """Processes to launch: one per GPU, or 2 CPU processes (gloo) where there is no GPU."""
    return torch.cuda.device_count() or 2


def torchrun(script: str, nproc: int, args: Sequence[str] = (), timeout: float | None = None):
    """Runs ``torchrun --standalone --nproc_per_node=nproc script args`` and prints its output.

    It runs torchrun as ``python -m torch.distributed.run`` with this interpreter, so it works
    from a notebook whose kernel is a virtual environment that is not on the PATH.

    Returns:
        The ``subprocess.CompletedProcess`` (its ``stdout`` holds the output).

    Raises:
        subprocess.CalledProcessError: if any process fails.
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", script, *args]  # fmt: skip
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    print(done.stdout, end="")
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
        raise subprocess.CalledProcessError(done.returncode, command, done.stdout, done.stderr)
    return done
