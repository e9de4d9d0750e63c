"""Pricing with the trained network, inside the domain it was trained on.

A network extrapolates silently: outside its training domain it still returns a number. The
functions here refuse such inputs with a ``ValueError`` naming the column and the range, unless
``allow_outside=True``, which warns instead. ``helpers.networks.mlp.Net.forward`` itself stays a
plain tensor function, so that ``torch.func`` transforms keep working on it.

The training domain is the article's: K, S0 in [0, 200], sigma in [0, 0.4], mu, r in [0, 0.2],
and the barrier between 0 and 0.99 K.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from ..core.domain import BARRIER_FRACTION, COLUMNS, DOMAIN_HIGH, DOMAIN_LOW

_LOW = np.asarray(DOMAIN_LOW, dtype=np.float64)
_HIGH = np.asarray(DOMAIN_HIGH, dtype=np.float64)


def check_domain(X: object, allow_outside: bool = False) -> np.ndarray:
    """Checks a batch against the training domain; returns it as float32 of shape ``(n, 6)``.

    Raises:
        ValueError: a wrong shape or a non-finite entry; an entry outside the domain (naming the
            column, the row and the range) unless ``allow_outside``, which warns instead.
    """
    arr = np.array(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
    if arr.ndim == 1 and arr.shape[0] == len(COLUMNS):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(COLUMNS):
        raise ValueError(f"X must have shape (n, 6) with columns {list(COLUMNS)}, got {arr.shape}")
    if not np.isfinite(arr).all():
        row, col = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"X[{row}, {col}] ({COLUMNS[col]}) is {arr[row, col]}: must be finite")
    barrier_ok = arr[:, 1] <= BARRIER_FRACTION * arr[:, 0] + 1e-9
    if (arr >= _LOW).all() and (arr <= _HIGH).all() and barrier_ok.all():
        return arr.astype(np.float32)  # the usual case, in four array operations
    problems = []
    for j, name in enumerate(COLUMNS):
        low, high = DOMAIN_LOW[j], DOMAIN_HIGH[j]
        if name == "B":
            outside = (arr[:, 1] < 0) | (arr[:, 1] > BARRIER_FRACTION * arr[:, 0] + 1e-9)
            allowed = f"[0, {BARRIER_FRACTION} K]"
        else:
            outside = (arr[:, j] < low) | (arr[:, j] > high)
            allowed = f"[{low:g}, {high:g}]"
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            problems.append(f"{name} = {arr[row, j]:g} in row {row} is outside the training "
                            f"range {allowed} ({int(outside.sum())} row(s))")  # fmt: skip
    if problems:
        message = "input outside the network's training domain: " + "; ".join(problems)
        if not allow_outside:
            raise ValueError(message + " (pass allow_outside=True to extrapolate anyway)")
        warnings.warn(message + "; extrapolating", stacklevel=3)
    return arr.astype(np.float32)


def as_tensor(X: np.ndarray, model: torch.nn.Module) -> torch.Tensor:
    """``X`` as a float32 tensor on the model's device (the CPU for a model without
    parameters, such as one quantized by ``torch.ao``)."""
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    return torch.as_tensor(X, dtype=torch.float32, device=device)


ROWS_PER_CALL = 16_384
"""On a CPU, larger batches go through the model in slices of this many options: a slice's
intermediates stay in cache, where a million options' (a gigabyte a layer) do not. Measured on
two cores with the shipped pricer: a batch of 1,000,000 priced 1.8x faster in slices."""


def price(model: torch.nn.Module, X: object, *, allow_outside: bool = False) -> np.ndarray:
    """Network prices of a batch.

    Args:
        model: a trained ``helpers.networks.mlp.Net`` (any module mapping ``(n, 6)`` to ``(n,)``).
        X: array-like of shape ``(n, 6)`` (or one row of 6), columns
        ``helpers.core.domain.COLUMNS``.
        allow_outside: warn instead of raising for inputs outside the training domain.

    Returns:
        Float32 array of shape ``(n,)``, currency units. On a CPU, batches above
        ``ROWS_PER_CALL`` options are priced slice by slice (the same prices).

    Raises:
        ValueError: see ``check_domain``.
    """
    x = as_tensor(check_domain(X, allow_outside), model)
    with torch.no_grad():
        if x.device.type != "cpu" or len(x) <= ROWS_PER_CALL:
            return model(x).float().cpu().numpy()
        return torch.cat([model(part) for part in x.split(ROWS_PER_CALL)]).float().numpy()
