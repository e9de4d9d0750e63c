"""The option's inputs: one definition of the columns and of the article's parameter domain.

Every module, chapter and test takes its column order and its sampling domain from here, so a
batch ``X`` of shape ``(n, 6)`` means the same thing everywhere:

====== ========================================== ===================
column meaning                                     article's domain
====== ========================================== ===================
K      strike, currency units                     U[0, 200]
B      barrier on the running average, currency   K x U[0, 0.99]
S0     spot price at t = 0, currency units        U[0, 200]
sigma  annualised volatility                      U[0, 0.4]
mu     annualised drift of the simulated spot     U[0, 0.2]
r      continuously compounded rate, discounting  U[0, 0.2]
====== ========================================== ===================
"""

from __future__ import annotations

import numpy as np

from .validate import check_integer

COLUMNS: tuple[str, ...] = ("K", "B", "S0", "sigma", "mu", "r")
"""Column names of an option batch ``X``, in the article's order."""

COLUMN_INDEX: dict[str, int] = {name: i for i, name in enumerate(COLUMNS)}
"""Position of each column name in ``COLUMNS``."""

BARRIER_FRACTION = 0.99
"""The barrier's upper end as a fraction of the strike: ``B = K x U[0, BARRIER_FRACTION)``."""

DOMAIN_LOW = np.zeros(6)
"""Lower end of each column's sampling range (the barrier's is K x 0)."""

DOMAIN_HIGH = np.array([200.0, BARRIER_FRACTION * 200.0, 200.0, 0.4, 0.2, 0.2])
"""Upper end of each column's range; the barrier's is 0.99 x 200, its bound over the domain."""

SAMPLING_SCALE = np.array([200.0, BARRIER_FRACTION, 200.0, 0.4, 0.2, 0.2])
"""The article's multipliers for U[0, 1) draws; column B is a fraction of K before scaling."""


def sample_options(n: int, rng: np.random.Generator, dtype: type = np.float32) -> np.ndarray:
    """Draws ``n`` option parameter sets uniformly from the article's domain.

    ``K, S0, sigma, mu, r`` are uniform on ``[0, high)``; the barrier is ``B = K * U[0, 0.99)``,
    so it always lies below the strike, as in the article.

    Example:
        >>> X = sample_options(3, np.random.default_rng(0))
        >>> X.shape, bool((X[:, 1] < X[:, 0]).all())
        ((3, 6), True)

    Args:
        n: number of options, ``n >= 0``.
        rng: the NumPy generator that supplies the uniforms.
        dtype: floating dtype of the result.

    Returns:
        Array of shape ``(n, 6)``, columns ``COLUMNS``.

    Raises:
        ValueError: ``n`` not a non-negative integer (``helpers.core.validate``).
    """
    n = check_integer("n", n, low=0)
    return options_from_unit(rng.random((n, 6)), dtype)


def options_from_unit(u: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """Maps points of the unit cube ``[0, 1)^6`` to options, as ``sample_options`` maps its
    uniforms: each column scaled by ``SAMPLING_SCALE``, the barrier then multiplied by ``K``.

    Args:
        u: shape ``(n, 6)``, values in ``[0, 1)``.

    Returns:
        Array of shape ``(n, 6)``, columns ``COLUMNS``.
    """
    X = np.asarray(u, dtype=np.float64) * SAMPLING_SCALE
    X[:, 1] *= X[:, 0]
    return X.astype(dtype, copy=False)


def sobol_options(n: int, seed: int, *, skip: int = 0, dtype: type = np.float32) -> np.ndarray:
    """``n`` options from a scrambled Sobol sequence over the article's domain.

    Points ``skip`` to ``skip + n - 1`` of the sequence ``scipy.stats.qmc.Sobol(d=6,
    scramble=True, seed=seed)``, mapped by ``options_from_unit``: consecutive calls with
    ``skip`` advancing by ``n`` continue one low-discrepancy sequence (datasets in shards do
    this). Balanced for ``n`` and ``skip`` powers of two.

    Example:
        >>> X = sobol_options(4, seed=0)
        >>> X.shape, bool(((X[:, 1] < X[:, 0]) | (X[:, 0] == 0)).all())
        ((4, 6), True)

    Raises:
        ValueError: ``n``, ``skip`` or ``seed`` not a non-negative integer
            (``helpers.core.validate.check_integer``).
    """
    from scipy.stats import qmc

    n, skip = check_integer("n", n, low=0), check_integer("skip", skip, low=0)
    seed = check_integer("seed", seed, low=0)
    sobol = qmc.Sobol(d=6, scramble=True, seed=seed)
    if skip:
        sobol.fast_forward(skip)
    return options_from_unit(sobol.random(n), dtype)


BARRIER_CORNER = {"B/S0": (0.75, 1.0), "sigma": (0.2, 0.4)}
"""The part of the domain where a pricer learns the barrier hardest: the barrier within 25% below
the spot and the volatility high, so the average often touches it (about 4% of the domain's
options). Chapter 10 oversamples it."""


def in_barrier_corner(X: np.ndarray) -> np.ndarray:
    """Which rows of an option batch ``X`` (shape ``(n, 6)``) lie in ``BARRIER_CORNER``;
    a boolean array of shape ``(n,)``."""
    X = np.asarray(X)
    low, high = BARRIER_CORNER["B/S0"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = X[:, 1] / X[:, 2]
    sigma_low, sigma_high = BARRIER_CORNER["sigma"]
    return (ratio > low) & (ratio < high) & (X[:, 3] > sigma_low) & (X[:, 3] <= sigma_high)


def sample_barrier_corner(n: int, rng: np.random.Generator, dtype: type = np.float32) -> np.ndarray:
    """Draws ``n`` options uniformly from the part of the article's domain in
    ``BARRIER_CORNER``: ``sample_options`` draws, rejected outside it.

    Example:
        >>> X = sample_barrier_corner(3, np.random.default_rng(0))
        >>> X.shape, bool(in_barrier_corner(X).all())
        ((3, 6), True)

    Returns:
        Array of shape ``(n, 6)``, columns ``COLUMNS``.

    Raises:
        ValueError: ``n`` not a non-negative integer (``helpers.core.validate``).
    """
    n = check_integer("n", n, low=0)
    kept: list[np.ndarray] = []
    found = 0
    while found < n:
        X = sample_options(max(32 * (n - found), 1024), rng, dtype)
        X = X[in_barrier_corner(X)]
        kept.append(X)
        found += len(X)
    return np.concatenate(kept)[:n] if kept else np.empty((0, 6), dtype)


ARTICLE_MC_EXAMPLE = np.array(
    [
        [110.0, 100.0, 120.0, 0.35, 0.15, 0.05],
        [120.0, 90.0, 100.0, 0.20, 0.10, 0.05],
    ]
)
"""**The article's Monte Carlo example**: the two options, rows ``[K, B, S0, sigma, mu, r]``,
shape ``(2, 6)``, that the article prices with its batched kernel (Chapter 1). Note the first
option's drift mu = 0.15; the network example below has mu = 0.10."""

ARTICLE_MC_PRICES = (21.22405, 0.8480416)
"""The prices the article's kernel printed for :data:`ARTICLE_MC_EXAMPLE` (currency units)."""

ARTICLE_NETWORK_EXAMPLE = (110.0, 100.0, 120.0, 0.35, 0.1, 0.05)
"""**The article's network example**: the option ``[K, B, S0, sigma, mu, r]`` at which the
article evaluates its trained network and its Greeks (Chapters 7, 9, 10, 12 and 13). It is the
Monte Carlo example's first option with mu = 0.10 instead of 0.15."""

ARTICLE_NETWORK_PRICE = 18.714
"""The price the article's trained network gave at :data:`ARTICLE_NETWORK_EXAMPLE`."""

QUANTITY_UNITS = {"price": "currency", "delta": "per unit of spot", "gamma": "1 / currency"}
"""Units of the option's price and its spot derivatives, for axis labels (prices, strikes,
barriers and spots are all in one currency, so delta has none)."""
