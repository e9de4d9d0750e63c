"""A hyper-parameter sweep of the pricing network, run in parallel (Chapter 13).

Each ``Trial`` trains a small ``helpers.networks.mlp.Net`` on the same labelled options and reports
its validation MAE. ``run_sweep`` runs a list of trials one after another, on a
``concurrent.futures.ProcessPoolExecutor`` or on ``dask.distributed`` futures (a
``LocalCluster``, or an existing cluster by its scheduler's address). Each worker process gets
``threads`` PyTorch threads, so that ``workers * threads`` does not exceed the cores. A trial
that raises is reported with its error and the sweep goes on; the results come back sorted by
validation MAE, failures last.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np

EXECUTORS = ("serial", "process", "dask")


@dataclass(frozen=True)
class Trial:
    """One point of the sweep: the network's shape and how it is trained.

    Attributes:
        hidden: layer width; layers: hidden layers; activation: a ``helpers.networks.mlp`` name.
        lr: Adam's learning rate; steps: optimiser steps; batch: options per step.
        seed: of the initial weights and the batches.
    """

    hidden: int = 64
    layers: int = 3
    activation: str = "elu"
    lr: float = 1e-3
    steps: int = 300
    batch: int = 256
    seed: int = 0


@dataclass(frozen=True)
class SweepData:
    """Labelled options shared by every trial: ``X`` ``(n, 6)`` and ``y`` ``(n,)`` to train
    on, ``X_val`` and ``y_val`` to validate on; float32."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray


def sweep_data(
    n_train: int = 8_192, n_val: int = 1_024, paths: int = 512, seed: int = 0
) -> SweepData:
    """Random options from the article's domain priced by Monte Carlo (``helpers.mc``, numba
    backend), ``paths`` paths each: cheap labels, noisy but unbiased."""
    from ..core.domain import sample_options
    from ..mc import price_options

    rng = np.random.default_rng(seed)
    X = sample_options(n_train + n_val, rng, dtype=np.float32)
    y = price_options(X, paths, seed=seed, backend="numba").price.astype(np.float32)
    return SweepData(X[:n_train], y[:n_train], X[n_train:], y[n_train:])


def run_trial(trial: Trial, data: SweepData, threads: int = 1) -> dict:
    """Trains one trial's network and measures it.

    Returns:
        ``asdict(trial)`` with ``validation_mae`` (currency units) and ``seconds``.

    Raises:
        ValueError: an invalid architecture (``helpers.networks.mlp.check_architecture``) or
            non-finite training (a learning rate that diverges).
    """
    import torch

    from ..networks.mlp import Net

    torch.set_num_threads(threads)
    torch.manual_seed(trial.seed)
    start = time.perf_counter()
    model = Net(hidden=trial.hidden, layers=trial.layers, activation=trial.activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=trial.lr)
    X, y = torch.from_numpy(data.X), torch.from_numpy(data.y)
    generator = torch.Generator().manual_seed(trial.seed)
    for _ in range(trial.steps):
        rows = torch.randint(len(X), (trial.batch,), generator=generator)
        loss = torch.nn.functional.mse_loss(model(X[rows]), y[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        predicted = model(torch.from_numpy(data.X_val)).numpy()
    mae = float(np.abs(predicted - data.y_val).mean())
    if not np.isfinite(mae):
        raise ValueError(f"training diverged (validation MAE {mae}) at lr={trial.lr}")
    return asdict(trial) | {"validation_mae": mae, "seconds": time.perf_counter() - start}


def _failed(trial: Trial, err: BaseException) -> dict:
    return asdict(trial) | {
        "validation_mae": float("nan"),
        "seconds": float("nan"),
        "error": f"{type(err).__name__}: {err}",
    }


def _set_threads(threads: int) -> None:
    """Worker initialiser: PyTorch's, OpenMP's and Numba's threads per process."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)


@dataclass
class SweepResult:
    """What ``run_sweep`` measured: ``rows`` sorted by validation MAE (failures last, each
    with its ``error``), the ``executor``, ``workers``, ``threads`` per worker and the wall
    ``seconds`` of the whole sweep."""

    rows: list[dict]
    executor: str
    workers: int
    threads: int
    seconds: float

    @property
    def failed(self) -> list[dict]:
        return [r for r in self.rows if "error" in r]


def run_sweep(
    trials: Sequence[Trial],
    data: SweepData,
    *,
    executor: str = "process",
    workers: int = 2,
    threads: int = 1,
    scheduler: str | None = None,
) -> SweepResult:
    """Runs every trial and collects the results.

    Args:
        trials: the points of the sweep.
        data: the labelled options (``sweep_data``), sent to each worker.
        executor: ``"serial"`` (one after another, in this process), ``"process"``
            (``ProcessPoolExecutor``, spawned processes) or ``"dask"`` (``dask.distributed``).
        workers: processes in parallel, ``>= 1`` (ignored by ``"serial"``, and by ``"dask"``
            with a ``scheduler``).
        threads: PyTorch threads per worker, ``>= 1``.
        scheduler: a Dask scheduler's address; default: a ``LocalCluster`` of ``workers``.

    Returns:
        A ``SweepResult``.

    Raises:
        ValueError: an unknown executor, no trials, or ``workers`` or ``threads`` below 1.
    """
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}: choose one of {list(EXECUTORS)}")
    if not trials:
        raise ValueError("a sweep needs at least one trial")
    if workers < 1 or threads < 1:
        raise ValueError(f"workers and threads must be >= 1, got {workers} and {threads}")
    start = time.perf_counter()
    if executor == "serial":
        rows = []
        for trial in trials:
            try:
                rows.append(run_trial(trial, data, threads))
            except Exception as err:  # reported, and the sweep goes on
                rows.append(_failed(trial, err))
    elif executor == "process":
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no fork of a threaded PyTorch
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=_set_threads, initargs=(threads,)
        ) as pool:
            futures = [pool.submit(run_trial, trial, data, threads) for trial in trials]
            rows = [_outcome(trial, future) for trial, future in zip(trials, futures, strict=True)]
    else:
        rows = _dask_sweep(trials, data, workers, threads, scheduler)
    rows.sort(key=lambda r: (np.isnan(r["validation_mae"]), r["validation_mae"]))
    n_workers = 1 if executor == "serial" else workers
    return SweepResult(rows, executor, n_workers, threads, time.perf_counter() - start)


def _outcome(trial: Trial, future) -> dict:
    try:
        return future.result()
    except Exception as err:  # the trial's own error, re-raised from its process
        return _failed(trial, err)


def _dask_sweep(
    trials: Sequence[Trial], data: SweepData, workers: int, threads: int, scheduler: str | None
) -> list[dict]:
    from distributed import Client, LocalCluster

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True,
            dashboard_address=None, host="127.0.0.1", silence_logs=logging.CRITICAL,
            env={"OMP_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)},
        )  # fmt: skip
    client = Client(cluster if cluster is not None else scheduler)
    try:
        shared = client.scatter(data, broadcast=True)
        futures = [client.submit(run_trial, t, shared, threads, pure=False) for t in trials]
        return [_outcome(trial, future) for trial, future in zip(trials, futures, strict=True)]
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
