"""Input checks shared by every backend: validate first, compute second."""

from __future__ import annotations

import numpy as np

from ..core.domain import COLUMNS
from ..core.validate import check_integer, check_real

MAX_COUNT = 2**32 - 1
"""Largest number of options, paths or steps: each is a 32-bit word of the Philox counter."""


MAX_SEED = 2**64 - 1
"""Largest seed: the Philox key is two 32-bit words."""


def check_count(name: str, value: object, maximum: int = MAX_COUNT) -> int:
    """Returns ``value`` as an int if it is an integer in ``[1, maximum]``; else ValueError
    (``helpers.core.validate.check_integer``)."""
    return check_integer(name, value, low=1, high=maximum)


def check_seed(seed: object) -> int:
    """Returns the seed as an int in ``[0, 2**64)``, else raises ValueError
    (``helpers.core.validate.check_integer``)."""
    return check_integer("seed", seed, low=0, high=MAX_SEED)


def check_maturity(T: object) -> float:
    """Returns ``T`` (years) as a float if it is finite and positive, else raises ValueError
    (``helpers.core.validate.check_real``)."""
    return check_real("T", T, low=0.0, low_open=True, unit="years")


_NON_NEGATIVE = ("K", "B", "S0", "sigma")


def check_options(X: object) -> np.ndarray:
    """Returns the option batch as a C-contiguous float64 array of shape ``(n, 6)``; one option
    given as a row of 6 is a batch of one, as the network pricers take it
    (``helpers.inference.pricing.check_domain``).

    Raises:
        ValueError: the shape is not ``(n, 6)``; an entry is NaN or infinite; K, B, S0 or sigma is
            negative. The message names the row and the column.
    """
    try:
        arr = np.array(X, dtype=np.float64)  # copy: the caller's array is never touched
    except (TypeError, ValueError) as err:
        raise ValueError(f"X must be a numeric array of shape (n, 6): {err}") from None
    if arr.ndim == 1 and arr.shape[0] == len(COLUMNS):
        arr = arr[None, :]  # one option
    if arr.ndim != 2 or arr.shape[1] != len(COLUMNS):
        raise ValueError(
            f"X must have shape (n, 6) with columns {list(COLUMNS)} (or be one row of 6),"
            f" got shape {arr.shape}"
        )
    if arr.shape[0] > MAX_COUNT:
        raise ValueError(f"X has {arr.shape[0]} rows, more than {MAX_COUNT}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"X[{row}, {col}] ({COLUMNS[col]}) is {arr[row, col]}: must be finite")
    for name in _NON_NEGATIVE:
        col = COLUMNS.index(name)
        negative = np.flatnonzero(arr[:, col] < 0.0)
        if negative.size:
            row = negative[0]
            raise ValueError(
                f"X[{row}, {col}] ({name}) is {arr[row, col]}: {name} must be >= 0"
                f" ({negative.size} negative row(s) in all)"
            )
    return np.ascontiguousarray(arr)


METHODS: tuple[str, ...] = ("plain", "survival", "smoothed", "control")
"""The estimators ``price_options`` offers: the hard knock-out, the two smooth ones of
``helpers.mc.adjoint`` whose pathwise Greeks are correct, and the hard knock-out with control
variates (``helpers.mc.control``, prices only)."""


def check_method(method: object, greeks: bool) -> str:
    """Returns the estimator's name: ``method``, or by default ``"survival"`` with Greeks and
    ``"plain"`` without.

    Raises:
        ValueError: an unknown method, or Greeks asked of the plain estimator.
    """
    if method is None:
        return "survival" if greeks else "plain"
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {list(METHODS)}")
    if greeks and method == "control":
        raise ValueError(
            "method 'control' prices only: its control variates reduce the price's variance,"
            " not the Greeks'; use method='survival' for Greeks"
        )
    if greeks and method == "plain":
        raise ValueError(
            "method 'plain' has no usable pathwise Greeks: its knock-out is a step function,"
            " whose derivative misses the barrier's contribution; use method='survival'"
            " (unbiased) or 'smoothed'"
        )
    return str(method)


def check_width(width: object, default: float) -> float:
    """Returns the smoothed knock-out's width (a fraction of the barrier), ``default`` for None.

    Raises:
        ValueError: a width that is not a finite number > 0.
    """
    if width is None:
        return default
    return check_real("width", width, low=0.0, low_open=True, unit="a fraction of B")


def check_step_volatility(options: np.ndarray, T: float, n_steps: int, maximum: float) -> None:
    """Refuses rows whose Euler step ``sigma sqrt(T / n_steps)`` exceeds ``maximum``.

    Raises:
        ValueError: naming the first such row; more steps make the step smaller.
    """
    step = options[:, COLUMNS.index("sigma")] * np.sqrt(T / n_steps)
    bad = np.flatnonzero(step > maximum)
    if bad.size:
        row = bad[0]
        raise ValueError(
            f"row {row}: sigma * sqrt(T / n_steps) = {step[row]:.3g} exceeds {maximum}: an Euler"
            " step this large can turn a price negative, where the smooth estimators do not"
            " apply; use more steps"
        )


def check_finite_result(result, options: np.ndarray, T: float) -> None:
    """Raises ValueError if a price, or a standard error over more than one path, is not finite.

    Valid inputs can still be too extreme for floating point: a drift or volatility of thousands
    of percent makes a path overflow, and a rate far below zero overflows the discount factor.
    Rather than hand back a NaN or an infinite price, the row is named with its inputs.

    Args:
        result: the backend's ``MCResult`` for ``options``.
        options: the checked batch, shape ``(n, 6)``.
        T: maturity in years.
    """
    bad = ~np.isfinite(result.price)
    if result.n_paths > 1:
        bad |= ~np.isfinite(result.stderr)
    for greek in (result.greeks or {}).values():
        bad |= ~np.isfinite(greek)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        inputs = ", ".join(f"{c}={v:g}" for c, v in zip(COLUMNS, options[row], strict=True))
        raise ValueError(
            f"row {row} ({inputs}, T={T:g}) overflowed the floating-point range in the"
            f" simulation ({int(bad.sum())} row(s) in all): mu*T, sigma*sqrt(T) or -r*T is far"
            " too large for a price to exist in float arithmetic"
        )
