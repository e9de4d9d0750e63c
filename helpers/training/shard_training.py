"""Training on shards read ahead (Chapter 13): one timed pass of Adam steps over a
``helpers.data.readahead.ShardBatches``, to show how much of a step waits for data."""

from __future__ import annotations

import time

import torch

from ..data.readahead import ShardBatches
from ..networks.mlp import Net


def time_training(batches: ShardBatches, *, hidden: int = 256, layers: int = 4) -> dict:
    """One pass of Adam steps on a fresh ``helpers.networks.mlp.Net`` over ``batches``.

    Returns:
        ``steps``, ``seconds`` (the whole pass), ``wait_s`` (of it, waiting for shards),
        ``step_ms`` (mean time per step, waiting included) and ``prefetch``.
    """
    torch.manual_seed(0)
    model = Net(hidden=hidden, layers=layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    steps, start = 0, time.perf_counter()
    for x, y in batches:
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        steps += 1
    seconds = time.perf_counter() - start
    return {
        "prefetch": batches.prefetch,
        "steps": steps,
        "seconds": seconds,
        "wait_s": batches.wait_s,
        "step_ms": 1e3 * seconds / max(steps, 1),
    }
