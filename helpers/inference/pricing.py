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
from ..core.validate import check_integer

FLOAT32_SLACK = 2.0**-23
"""Relative slack of the domain's upper ends and of ``B <= 0.99 K``: two float32 roundings, the
bound's and the input's, so that an option at the edge given in float32 (``np.float32(0.4)`` is
0.4000000059604645) is inside. The network computes in float32: it sees the bound so rounded."""

SMALLEST_INPUT = 1e-12 * np.where(np.arange(6) == 1, DOMAIN_HIGH[0], DOMAIN_HIGH)
"""Positive inputs below these (a trillionth of each column's range; ``K``'s for ``B``) count as
zero. In float32 a number below about 1e-19 has a square that underflows, and the network's
ratios then differentiate into ``inf / inf``: a NaN Greek at a strike of 1e-30. The price moves
by a few times the input at most (its derivatives in ``K``, ``B`` and ``S0`` stay below 5 on the
domain), and PyTorch and ONNX Runtime see the same zeros."""

_LOW = np.asarray(DOMAIN_LOW, dtype=np.float64)
_HIGH = np.asarray(DOMAIN_HIGH, dtype=np.float64) * (1 + FLOAT32_SLACK)


def check_domain(X: object, allow_outside: bool = False) -> np.ndarray:
    """Checks a batch against the training domain; returns it as float32 of shape ``(n, 6)``.

    One option may be given as a row of 6 (a batch of one); ``helpers.mc.price_options`` takes
    it too. The upper ends allow float32's rounding (``FLOAT32_SLACK``), and positive entries
    below ``SMALLEST_INPUT`` are returned as zero.

    Raises:
        ValueError: a wrong shape or a non-finite entry; an entry outside the domain (naming the
            column, the row and the range) unless ``allow_outside``, which warns instead.
    """
    try:
        arr = np.array(X.detach().cpu() if isinstance(X, torch.Tensor) else X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"X must be a numeric array of shape (n, 6): {err}") from None
    if arr.ndim == 1 and arr.shape[0] == len(COLUMNS):
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(COLUMNS):
        raise ValueError(
            f"X must have shape (n, 6) with columns {list(COLUMNS)} (or be one row of 6),"
            f" got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        row, col = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"X[{row}, {col}] ({COLUMNS[col]}) is {arr[row, col]}: must be finite")
    barrier_ok = arr[:, 1] <= BARRIER_FRACTION * (1 + FLOAT32_SLACK) * arr[:, 0] + 1e-9
    if not ((arr >= _LOW).all() and (arr <= _HIGH).all() and barrier_ok.all()):
        _outside(arr, allow_outside)
    tiny = (arr > 0) & (arr < SMALLEST_INPUT)
    if tiny.any():
        arr[tiny] = 0.0
    return arr.astype(np.float32)


def _outside(arr: np.ndarray, allow_outside: bool) -> None:
    """Raises (or with ``allow_outside`` warns) naming each column with entries outside the
    domain: its first such row, the value and the range."""
    problems = []
    for j, name in enumerate(COLUMNS):
        low, high = DOMAIN_LOW[j], DOMAIN_HIGH[j]
        if name == "B":
            ceiling = BARRIER_FRACTION * (1 + FLOAT32_SLACK) * arr[:, 0] + 1e-9
            outside = (arr[:, 1] < 0) | (arr[:, 1] > ceiling)
            allowed = f"[0, {BARRIER_FRACTION} K]"
        else:
            outside = (arr[:, j] < low) | (arr[:, j] > _HIGH[j])
            allowed = f"[{low:g}, {high:g}]"
        if outside.any():
            row = int(np.flatnonzero(outside)[0])
            problems.append(f"{name} = {arr[row, j]:g} in row {row} is outside the training "
                            f"range {allowed} ({int(outside.sum())} row(s))")  # fmt: skip
    if problems:
        message = "input outside the network's training domain: " + "; ".join(problems)
        if not allow_outside:
            raise ValueError(message + " (pass allow_outside=True to extrapolate anyway)")
        warnings.warn(message + "; extrapolating", stacklevel=4)


def as_tensor(X: np.ndarray, model: torch.nn.Module) -> torch.Tensor:
    """``X`` as a float32 tensor on the model's device (the CPU for a model without
    parameters, such as one quantized by ``torch.ao``)."""
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    return torch.as_tensor(X, dtype=torch.float32, device=device)


ROWS_PER_CALL = 16_384
"""On a CPU, larger batches go through the model in slices of this many options: a slice's
intermediates stay in cache, where a million options' (a gigabyte a layer) do not. Measured on
two cores with the shipped pricer: a batch of 1,000,000 priced 1.8x faster in slices. Greeks
(``helpers.inference.sensitivities``) take the same slices on every device: their autograd graph
holds about 32 kB an option (3.2 GB for 100,000 options in one pass)."""


def rows_per_slice(rows_per_call: object, device: torch.device, *, always: bool) -> int | None:
    """The options per slice: ``rows_per_call`` checked (an integer ``>= 1``), or by default
    ``ROWS_PER_CALL`` on a CPU, or on every device if ``always``; ``None`` for no slicing.

    Raises:
        ValueError: ``rows_per_call`` not an integer ``>= 1``.
    """
    if rows_per_call is not None:
        return check_integer("rows_per_call", rows_per_call, low=1)
    return ROWS_PER_CALL if always or device.type == "cpu" else None


def forward_in_slices(model: torch.nn.Module, x: torch.Tensor, rows: int | None) -> torch.Tensor:
    """``model(x)`` with ``x`` cut into slices of ``rows`` options (``None``: in one call),
    without gradients."""
    with torch.no_grad():
        if rows is None or len(x) <= rows:
            return model(x)
        return torch.cat([model(part) for part in x.split(rows)])


def price(
    model: torch.nn.Module,
    X: object,
    *,
    allow_outside: bool = False,
    rows_per_call: int | None = None,
) -> np.ndarray:
    """Network prices of a batch.

    Args:
        model: a trained ``helpers.networks.mlp.Net`` (any module mapping ``(n, 6)`` to ``(n,)``).
        X: array-like of shape ``(n, 6)`` (or one row of 6), columns
            ``helpers.core.domain.COLUMNS``.
        allow_outside: warn instead of raising for inputs outside the training domain.
        rows_per_call: options per call of the model, an integer ``>= 1``; by default
            ``ROWS_PER_CALL`` on a CPU and the whole batch on a GPU.

    Returns:
        Float32 array of shape ``(n,)``, currency units. On a CPU, batches above
        ``ROWS_PER_CALL`` options are priced slice by slice (the same prices).

    Raises:
        ValueError: see ``check_domain``; ``rows_per_call`` not an integer ``>= 1``.
    """
    x = as_tensor(check_domain(X, allow_outside), model)
    rows = rows_per_slice(rows_per_call, x.device, always=False)
    return forward_in_slices(model, x, rows).float().cpu().numpy()
