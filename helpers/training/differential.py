"""Differential training (Chapter 9): a loss on prices *and* their derivatives, and the training
loop (``fit_pricer``) on labels.

Huge and Savine's differential machine learning trains a network on labels that carry the
derivatives of each price as well as the price: here the six adjoint sensitivities of
``helpers.mc.price_options(..., greeks=True)``. The loss adds to the price's mean squared error
a weighted mean squared error of the network's autograd gradient against those labels; each
term is divided by the mean square of its labels (``label_scales``), so that the price and every
input's derivative count alike whatever their units.

The pricers it trains are in ``helpers.networks``.

References:
    B. Huge and A. Savine, "Differential Machine Learning", arXiv:2005.02347 (2020).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.domain import COLUMNS
from ..core.validate import check_device, check_integer, check_real


def label_scales(price: torch.Tensor, greeks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of the loss's terms: one over the mean square of the price labels and of each
    column of the derivative labels (Huge and Savine normalise likewise), so that every term is
    of order one.

    Args:
        price: price labels, shape ``(n,)``; greeks: derivative labels, shape ``(n, 6)``.

    Returns:
        ``(price_scale, greek_scales)``, shapes ``()`` and ``(6,)``; all-zero labels get 1.
    """

    def inverse_mean_square(labels: torch.Tensor) -> torch.Tensor:
        mean_square = labels.pow(2).mean(dim=0)
        return torch.where(mean_square > 0, 1.0 / mean_square, torch.ones_like(mean_square))

    return inverse_mean_square(price), inverse_mean_square(greeks)


def differential_loss(
    model: nn.Module,
    x: torch.Tensor,
    price: torch.Tensor,
    greeks: torch.Tensor,
    weight: float,
    scales: tuple[torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scaled price error plus ``weight`` times the scaled error of the input gradient.

    Args:
        model: maps ``(n, 6)`` inputs to ``(n,)`` prices.
        x: inputs, shape ``(n, 6)``.
        price: price labels, shape ``(n,)``.
        greeks: derivative labels, shape ``(n, 6)``: dP/d(K, B, S0, sigma, mu, r).
        weight: the derivative term's weight, ``>= 0`` (0: plain training).
        scales: ``label_scales`` of the training set.

    Returns:
        ``(total, price_mse, gradient_mse)``, scalars: the loss (differentiable in the model's
        parameters, the gradient term through ``create_graph``), the price's mean squared error
        in price units squared, and the scaled mean squared error of the gradient (NaN when
        ``weight`` is 0: plain training skips it, and ``greeks`` is then not read).

    Raises:
        ValueError: a negative or non-finite weight.
    """
    if not (weight >= 0.0 and weight < float("inf")):
        raise ValueError(f"weight must be finite and >= 0, got {weight!r}")
    price_scale, greek_scales = scales
    if weight == 0.0:  # plain training: no gradient term, no second backward pass
        price_mse = (model(x) - price).pow(2).mean()
        return price_scale * price_mse, price_mse, torch.full((), float("nan"))
    x = x.detach().requires_grad_(True)
    predicted = model(x)
    price_mse = (predicted - price).pow(2).mean()
    (gradient,) = torch.autograd.grad(predicted.sum(), x, create_graph=True)
    gradient_mse = ((gradient - greeks).pow(2) * greek_scales).mean()
    return price_scale * price_mse + weight * gradient_mse, price_mse, gradient_mse


def make_differential_trainer(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str,
    weight: float,
    scales: tuple[torch.Tensor, torch.Tensor],
):
    """An Ignite ``Engine`` whose step trains ``model`` on one ``(X, price, greeks)`` batch with
    ``differential_loss`` (``helpers.training.trainer.make_trainer`` is its plain twin).

    The step returns ``{"loss", "price_mse", "gradient_mse"}`` as floats.

    Args:
        model: maps ``(batch, 6)`` inputs to ``(batch,)`` prices.
        optimizer: optimises ``model``'s parameters.
        device: where the batches (and ``scales``) are moved before the step.
        weight: the derivative term's weight, ``>= 0``.
        scales: ``label_scales`` of the training set.
    """
    from ignite.engine import Engine

    device = torch.device(device)
    scales = tuple(s.to(device) for s in scales)

    def update(engine: Engine, batch) -> dict[str, float]:
        model.train()
        x, price, greeks = (t.to(device, non_blocking=True) for t in batch)
        optimizer.zero_grad(set_to_none=True)
        total, price_mse, gradient_mse = differential_loss(model, x, price, greeks, weight,
                                                           scales)  # fmt: skip
        total.backward()
        optimizer.step()
        return {"loss": total.item(), "price_mse": price_mse.item(),
                "gradient_mse": gradient_mse.item()}  # fmt: skip

    return Engine(update)


@dataclass
class LabelledOptions:
    """Options with Monte Carlo labels, for training or testing a pricer.

    Attributes:
        X: inputs, shape ``(n, 6)``, float32, columns ``helpers.core.domain.COLUMNS``.
        price: price labels, shape ``(n,)``, float64.
        greeks: dP/d(column) labels, shape ``(n, 6)``, float64, or ``None`` (prices only).
    """

    X: np.ndarray
    price: np.ndarray
    greeks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.X)

    def subset(self, rows: slice | np.ndarray) -> LabelledOptions:
        """The same labels for ``rows`` only."""
        greeks = None if self.greeks is None else self.greeks[rows]
        return LabelledOptions(self.X[rows], self.price[rows], greeks)


def label_options(
    X: np.ndarray, paths: int, *, seed: int, method: str = "survival", width: float | None = None
) -> LabelledOptions:
    """Labels ``X`` with Monte Carlo prices and their six adjoint sensitivities, all on the same
    ``paths`` paths per option (``price_options(..., greeks=True, gamma=False)``).

    Args:
        X: options, shape ``(n, 6)``.
        paths: Monte Carlo paths per option.
        seed: the Monte Carlo seed.
        method: ``"survival"`` (unbiased) or ``"smoothed"`` (biased by its ``width``).
        width: the smoothed estimator's width (``None``: its default).
    """
    from ..mc import price_options

    result = price_options(X, paths, seed=seed, greeks=True, method=method, width=width,
                           gamma=False)  # fmt: skip
    greeks = np.column_stack([result.greeks[name] for name in COLUMNS])
    return LabelledOptions(np.asarray(X, dtype=np.float32), result.price, greeks)


def fit_pricer(
    model: nn.Module,
    data: LabelledOptions,
    *,
    weight: float,
    epochs: int,
    batch: int = 1024,
    lr: tuple[float, float] = (1e-3, 1e-6),
    seed: int = 0,
    validation: LabelledOptions | None = None,
    log: Callable[[str], None] | None = None,
    checkpoints: str | Path | None = None,
    device: torch.device | str | None = None,
) -> list[dict[str, float]]:
    """Trains ``model`` in place on ``data`` with ``differential_loss`` (``weight = 0``: plain
    price regression), Adam, and a cosine learning-rate schedule from ``lr[0]`` to ``lr[1]``
    stepped every iteration (Ignite's ``CosineAnnealingScheduler``).

    Args:
        model: maps ``(batch, 6)`` inputs to ``(batch,)`` prices.
        data: the training labels; ``data.greeks`` is needed when ``weight > 0``.
        weight: the derivative term's weight, ``>= 0``.
        epochs: passes over ``data``, ``>= 1``.
        batch: options per step (the last, partial batch of an epoch is dropped).
        lr: the learning rate's start and end.
        seed: seeds the shuffling.
        validation: if given, the mean absolute price error on it is measured after each epoch.
        log: called with one line per epoch.
        checkpoints: a folder for a resumable checkpoint after every epoch (model, optimizer,
            schedule, trainer, history: ``helpers.training.trainer.KeepUntilReplacedSaver``). If it
            holds one, training resumes from it (loaded with ``weights_only=True``).
        device: where to train (default: ``helpers.core.machine.default_device()``, the GPU if there
            is one); the labels are moved there once, and ``model`` with them.

    Returns:
        One dictionary per epoch: ``epoch``, ``loss``, ``price_mse``, ``gradient_mse`` (means
        over the epoch's steps), ``seconds`` of training so far and, with ``validation``,
        ``mae``.

    Raises:
        ValueError: ``weight > 0`` without derivative labels; a ``weight``, ``epochs``,
            ``batch``, ``lr`` or ``seed`` out of range, or a ``device`` this machine lacks
            (``helpers.core.validate``).
    """
    from ignite.engine import Events
    from ignite.handlers import CosineAnnealingScheduler

    from ..core.machine import default_device

    weight = check_real("weight", weight, low=0.0)
    if weight > 0 and data.greeks is None:
        raise ValueError("weight > 0 needs derivative labels: data.greeks is None")
    epochs = check_integer("epochs", epochs, low=1)
    batch = check_integer("batch", batch, low=1, high=len(data))
    seed = check_integer("seed", seed, low=0)
    if not isinstance(lr, (tuple, list)) or len(lr) != 2:
        raise ValueError(f"lr must be (start, end), got {lr!r}")
    lr = tuple(check_real(f"lr[{i}]", value, low=0.0, low_open=True) for i, value in enumerate(lr))
    device = check_device(device) if device is not None else default_device()
    model.to(device)
    X = torch.as_tensor(data.X, dtype=torch.float32, device=device)
    price = torch.as_tensor(data.price, dtype=torch.float32, device=device)
    greeks = torch.as_tensor(data.greeks if data.greeks is not None else np.zeros((len(X), 6)),
                             dtype=torch.float32, device=device)  # fmt: skip
    scales = label_scales(price, greeks)
    loader = _ShuffledBatches((X, price, greeks), batch, seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr[0])
    trainer = make_differential_trainer(model, optimizer, device=device, weight=weight,
                                        scales=scales)  # fmt: skip
    scheduler = CosineAnnealingScheduler(optimizer, "lr", lr[0], lr[1],
                                         cycle_size=len(loader) * epochs + 1)  # fmt: skip
    trainer.add_event_handler(Events.ITERATION_STARTED, scheduler)
    loader.steps_done = lambda: trainer.state.iteration
    history: list[dict[str, float]] = []
    sums: dict[str, float] = {}
    start = time.perf_counter()

    @trainer.on(Events.ITERATION_COMPLETED)
    def accumulate(engine) -> None:
        for key, value in engine.state.output.items():
            sums[key] = sums.get(key, 0.0) + value

    @trainer.on(Events.EPOCH_COMPLETED)
    def record(engine) -> None:
        steps = engine.state.epoch_length
        row = {"epoch": engine.state.epoch} | {k: v / steps for k, v in sums.items()}
        sums.clear()
        row["seconds"] = elapsed[0] + time.perf_counter() - start
        if validation is not None:
            row["mae"] = mean_absolute_error(model, validation)
        history.append(row)
        if log is not None:
            log(", ".join(f"{k} {v:.5g}" for k, v in row.items()))

    elapsed = [0.0]
    if checkpoints is not None:
        _resumable(trainer, model, optimizer, scheduler, history, elapsed, checkpoints, epochs)
    if trainer.state.epoch < epochs:
        trainer.run(loader, max_epochs=epochs)
    model.eval()
    return history


class _ShuffledBatches:
    """Batches of rows of ``tensors`` in a fresh random order every epoch, the order a function
    of ``(seed, epoch)`` only, so that a resumed run sees the batches an unbroken run would.

    ``steps_done`` (set by the caller) returns the optimiser steps already taken; the epoch is
    read from it when an epoch's iteration starts.
    """

    def __init__(self, tensors: tuple[torch.Tensor, ...], batch: int, seed: int) -> None:
        self.tensors, self.batch, self.seed = tensors, batch, seed
        self.steps_done: Callable[[], int] = lambda: 0

    def __len__(self) -> int:
        return len(self.tensors[0]) // self.batch

    def __iter__(self):
        epoch = self.steps_done() // len(self)
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.tensors[0]), generator=generator)
        for step in range(len(self)):
            rows = order[step * self.batch : (step + 1) * self.batch].to(self.tensors[0].device)
            yield tuple(t[rows] for t in self.tensors)


class _History:
    """A training history and its clock as a checkpointable object (``state_dict``)."""

    def __init__(self, history: list[dict[str, float]], elapsed: list[float]) -> None:
        self.history, self.elapsed = history, elapsed

    def state_dict(self) -> dict:
        keys = sorted({k for row in self.history for k in row})
        table = [[row.get(k, float("nan")) for k in keys] for row in self.history]
        return {"keys": keys, "rows": torch.tensor(table, dtype=torch.float64),
                "seconds": self.history[-1]["seconds"] if self.history else 0.0}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        rows = state["rows"].tolist()
        self.history[:] = [dict(zip(state["keys"], row, strict=True)) for row in rows]
        self.elapsed[0] = float(state["seconds"])


def _resumable(trainer, model, optimizer, scheduler, history, elapsed, folder, epochs) -> None:
    """Saves a checkpoint after every epoch into ``folder``; resumes from the latest there."""
    from ignite.engine import Events
    from ignite.handlers import Checkpoint

    from .trainer import KeepUntilReplacedSaver, latest_checkpoint, resume

    objects = {"model": model, "optimizer": optimizer, "scheduler": scheduler,
               "trainer": trainer, "history": _History(history, elapsed)}  # fmt: skip
    saver = Checkpoint(objects, KeepUntilReplacedSaver(folder), filename_prefix="last",
                       n_saved=1, include_self=True,
                       global_step_transform=lambda engine, event: engine.state.epoch)  # fmt: skip
    trainer.add_event_handler(Events.EPOCH_COMPLETED, saver)
    found = latest_checkpoint(folder)
    if found is not None:
        state = torch.load(found, weights_only=True, map_location="cpu")
        saved = state["trainer"]
        if saved["iteration"] // saved["epoch_length"] < epochs:
            resume(found, objects | {"checkpointer": saver}, epochs)
        else:
            Checkpoint.load_objects(objects | {"checkpointer": saver}, state)


def mean_absolute_error(model: nn.Module, data: LabelledOptions, batch: int = 65_536) -> float:
    """Mean absolute error of ``model``'s prices against ``data.price``, in price units."""
    model.eval()
    device = next(model.parameters()).device
    X = torch.as_tensor(data.X, dtype=torch.float32, device=device)
    with torch.no_grad():
        predicted = torch.cat([model(X[i : i + batch]) for i in range(0, len(X), batch)])
    return float(np.abs(predicted.double().cpu().numpy() - data.price).mean())
