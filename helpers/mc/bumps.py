"""Greeks of the Monte Carlo price by bump-and-revalue: each input bumped up and down, the
option priced again with the same random numbers (common random numbers), central differences.

The reference that the adjoint Greeks (``helpers.mc.adjoint``) and the network's Greeks
(``helpers.inference.sensitivities``) are checked against, and the cost they are measured
against (``make bench``).
"""

from __future__ import annotations

import numpy as np

from ..core.domain import COLUMN_INDEX, COLUMNS, DOMAIN_HIGH
from ..core.validate import check_integer, check_real
from . import price_options
from .checks import check_options

GREEKS_BUMP = 0.01
"""Bump-and-revalue step of each input, as a fraction of its range (``DOMAIN_HIGH``)."""


def bump_and_revalue_batch(X: np.ndarray, fraction: float = GREEKS_BUMP) -> np.ndarray:
    """The 13 rows per option that bump-and-revalue Greeks price: the option itself, then each of
    its six inputs bumped up and down (central differences; gamma reuses the base price).

    A bump is ``fraction`` of the input's range; a bump below zero stops at zero.

    Args:
        X: options, shape ``(n, 6)``.

    Returns:
        Array of shape ``(13 n, 6)``: rows ``13 i .. 13 i + 12`` belong to option ``i``.
    """
    X = np.asarray(X, dtype=np.float64)
    shifts = np.zeros((13, 6))
    for j in range(6):
        shifts[1 + 2 * j, j], shifts[2 + 2 * j, j] = 1.0, -1.0
    rows = X[:, None, :] + shifts[None, :, :] * fraction * DOMAIN_HIGH
    return np.maximum(rows, 0.0).reshape(-1, 6)


def _one_option(x: object) -> np.ndarray:
    """``x`` as one checked option, shape ``(6,)`` (``helpers.mc.checks.check_options``).

    Raises:
        ValueError: ``x`` is not one option of six finite inputs.
    """
    options = check_options(x)
    if len(options) != 1:
        raise ValueError(f"x must be one option (six inputs), got {len(options)} rows")
    return options[0]


def mc_delta_gamma(
    x: object,
    h: float,
    paths: int,
    replications: int,
    *,
    n_steps: int = 365,
    seed: int = 0,
    backend: str = "auto",
) -> dict[str, float]:
    """Delta and gamma of one option by central finite differences of the Monte Carlo price.

    The three prices ``P(S0 - h)``, ``P(S0)``, ``P(S0 + h)`` of a replication use the same seed
    (common random numbers: the same normals), so their noise largely cancels in the differences;
    the standard errors come from ``replications`` independent seeds.

    Args:
        x: the option's six inputs ``[K, B, S0, sigma, mu, r]``.
        h: the spot bump, currency units.
        paths: Monte Carlo paths per price.
        replications: independent repetitions, ``>= 2``.
        n_steps, seed, backend: as in ``helpers.mc.price_options``.

    Returns:
        ``{"delta", "delta_se", "gamma", "gamma_se"}``.

    Raises:
        ValueError: ``x`` not one option, ``h`` not in ``(0, S0)``, fewer than 2
            replications; ``paths``, ``n_steps`` and ``seed`` as ``price_options`` checks them.
    """
    row = _one_option(x)
    s0 = COLUMN_INDEX["S0"]
    h = check_real("h", h, low=0.0, high=float(row[s0]), low_open=True, high_open=True,
                   unit="spot units, below S0")  # fmt: skip
    replications = check_integer("replications", replications, low=2)
    bumped = np.repeat(row[None, :], 3, axis=0)
    bumped[:, s0] += [-h, 0.0, h]
    deltas, gammas = [], []
    for k in range(replications):
        down, mid, up = (
            price_options(b[None, :], paths, n_steps=n_steps, seed=seed + k, backend=backend).price[
                0
            ]
            for b in bumped
        )
        deltas.append((up - down) / (2 * h))
        gammas.append((up - 2 * mid + down) / h**2)
    root = np.sqrt(replications)
    return {
        "delta": float(np.mean(deltas)),
        "delta_se": float(np.std(deltas, ddof=1) / root),
        "gamma": float(np.mean(gammas)),
        "gamma_se": float(np.std(gammas, ddof=1) / root),
    }


def mc_bumped_greeks(
    x: object,
    paths: int,
    replications: int,
    *,
    fraction: float = 0.01,
    n_steps: int = 365,
    seed: int = 0,
    method: str = "plain",
) -> dict[str, dict[str, float]]:
    """All six first derivatives of one option by bump-and-revalue with common random numbers.

    Each replication prices the option with every input bumped up and down by ``fraction`` of
    its range (``bump_and_revalue_batch``: 13 prices), each price
    in its own call with the same seed, so that all 13 use the same random numbers; the
    derivatives are the central differences, and their standard errors come from
    ``replications`` independent seeds. (Priced in one batch, each row would get its own random
    numbers: the option's row is part of the Philox counter.)

    Args:
        x: the option's six inputs ``[K, B, S0, sigma, mu, r]``.
        paths: Monte Carlo paths per price.
        replications: independent repetitions, ``>= 2``.
        fraction: each bump as a fraction of its input's range (``DOMAIN_HIGH``).
        n_steps, seed, method: as in ``helpers.mc.price_options``.

    Returns:
        ``{"greeks": {column: value}, "greeks_stderr": {column: value}}``.

    Raises:
        ValueError: ``x`` not one option, fewer than 2 replications, ``fraction`` outside
            ``(0, 1]``; ``paths``, ``n_steps`` and ``seed`` as ``price_options`` checks them.
    """
    replications = check_integer("replications", replications, low=2)
    fraction = check_real("fraction", fraction, low=0.0, high=1.0, low_open=True,
                          unit="of each input's range")  # fmt: skip
    row = _one_option(x)[None, :]
    rows = bump_and_revalue_batch(row, fraction)
    estimates = np.empty((replications, 6))
    for k in range(replications):
        price = np.array([
            price_options(row[None, :], paths, n_steps=n_steps, seed=seed + k,
                          method=method).price[0]
            for row in rows
        ])  # fmt: skip
        for j in range(6):
            up, down = rows[1 + 2 * j, j], rows[2 + 2 * j, j]
            estimates[k, j] = (price[1 + 2 * j] - price[2 + 2 * j]) / (up - down)
    mean = estimates.mean(axis=0)
    se = estimates.std(axis=0, ddof=1) / np.sqrt(replications)
    return {
        "greeks": dict(zip(COLUMNS, mean.tolist(), strict=True)),
        "greeks_stderr": dict(zip(COLUMNS, se.tolist(), strict=True)),
    }
