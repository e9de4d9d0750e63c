"""Implied volatility from the network: the sigma at which the network's price equals a quote.

The article inverts its network with a scalar bisection and prints a message (returning None)
when the quote cannot be matched. ``implied_vol`` solves a whole batch of quotes at once:

1. it prices every option on a grid of volatilities across the training range [0, 0.4], in one
   batched call, and finds the first grid interval where the price crosses the quote;
2. a quote above (below) every price on the grid can still be reached between two grid points,
   at the top of a hump (the bottom of a dip): a golden-section search finds that top;
3. it bisects all the brackets together until they are narrower than ``tol``.

A barrier option's price need not increase with volatility (more volatility also means more
knock-outs), so the price can cross a quote more than once; the solver returns the smallest
volatility that matches. A quote outside the range of prices the network attains is a
``ValueError`` that says which quote, and the attainable range.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.domain import COLUMN_INDEX, DOMAIN_HIGH, DOMAIN_LOW
from ..core.validate import check_integer, check_real
from .pricing import as_tensor, check_domain, forward_in_slices, rows_per_slice

SIGMA = COLUMN_INDEX["sigma"]

SMALLEST_TOL = 1e-12
"""The narrowest final bracket ``tol`` may ask for, in volatility units. Far below it, float64
cannot split a bracket near 0.4 (its spacing there is 5.6e-17) and the bisection would never
end; the network itself sees sigma in float32, whose spacing near 0.4 is 3e-8."""

LARGEST_GRID = 100_001
"""The most volatilities the first scan may take (a step of 4e-6 across [0, 0.4])."""


def check_tol(tol: object) -> float:
    """``tol`` as a float in ``[SMALLEST_TOL, 0.4]`` (volatility units), else ``ValueError``."""
    return check_real("tol", tol, low=SMALLEST_TOL, high=float(DOMAIN_HIGH[SIGMA]),
                      unit="volatility units")  # fmt: skip


def check_grid(grid: object) -> int:
    """``grid`` as an int in ``[2, LARGEST_GRID]`` (a scan needs both ends), else
    ``ValueError``."""
    return check_integer("grid", grid, low=2, high=LARGEST_GRID)


def _prices(model: torch.nn.Module, X: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Network prices of each option at each of its own sigmas: ``X`` (n, 6), ``sigmas`` (n, m).
    The ``n m`` options go through the model ``helpers.inference.pricing.ROWS_PER_CALL`` at a
    time, on every device, so memory stays bounded whatever the batch and the grid."""
    n, m = sigmas.shape
    batch = np.repeat(X[:, None, :], m, axis=1)
    batch[:, :, SIGMA] = sigmas
    x = as_tensor(batch.reshape(n * m, 6), model)
    prices = forward_in_slices(model, x, rows_per_slice(None, x.device, always=True))
    return prices.float().cpu().numpy().reshape(n, m)


def sigma_scan(
    model: torch.nn.Module, X: object, grid: int = 41, *, allow_outside: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Network prices of every option over a grid of volatilities across [0, 0.4].

    Args:
        model: the pricing network.
        X: array-like of shape ``(n, 6)`` (or one row of 6); its sigma column is ignored.
        grid: volatilities in the scan, an integer in ``[2, LARGEST_GRID]``.
        allow_outside: warn instead of raising for inputs outside the training domain.

    Returns:
        ``(sigmas, prices)``: shapes ``(grid,)`` and ``(n, grid)``. A row whose prices rise
        strictly along the grid has one implied volatility for each price in its range.

    Raises:
        ValueError: inputs outside the domain; ``grid`` not an integer in range.
    """
    grid = check_grid(grid)
    X = check_domain(X, allow_outside).astype(np.float64)
    sigmas = np.linspace(DOMAIN_LOW[SIGMA], DOMAIN_HIGH[SIGMA], grid)
    return sigmas, _prices(model, X, np.broadcast_to(sigmas, (X.shape[0], grid)).copy())


def _rows_without_sigma(X: object, allow_outside: bool) -> np.ndarray:
    """``X`` as float64 rows of shape ``(n, 6)``, domain-checked, its (ignored) sigma set to 0."""
    try:
        X = np.array(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"X must be a numeric array of shape (n, 6): {err}") from None
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim == 2 and X.shape[1] == 6:
        X[:, SIGMA] = DOMAIN_LOW[SIGMA]  # ignored: any in-domain value passes the check
    return check_domain(X, allow_outside).astype(np.float64)


def _extremum(
    model: torch.nn.Module, X: np.ndarray, a: np.ndarray, b: np.ndarray, sign: float, tol: float
) -> tuple[np.ndarray, np.ndarray]:
    """Golden-section search for the largest ``sign * price`` of each row on ``[a, b]``.

    Returns:
        ``(sigma, price)``, shapes ``(n,)``: the best point found and the network's price there.
    """
    inv_phi = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - inv_phi * (b - a), a + inv_phi * (b - a)
    fc, fd = (sign * _prices(model, X, np.column_stack([c, d]))).T
    while (b - a).max() > tol:
        left = fc >= fd  # the maximum lies in [a, d]
        a, b = np.where(left, a, c), np.where(left, d, b)
        new = np.where(left, b - inv_phi * (b - a), a + inv_phi * (b - a))
        f_new = sign * _prices(model, X, new[:, None])[:, 0]
        c, d, fc, fd = (np.where(left, new, d), np.where(left, c, new),
                        np.where(left, f_new, fd), np.where(left, fc, f_new))  # fmt: skip
    best = fc >= fd
    return np.where(best, c, d), sign * np.where(best, fc, fd)


def implied_vol(
    model: torch.nn.Module,
    X: object,
    price: object,
    *,
    tol: float = 1e-6,
    grid: int = 41,
    allow_outside: bool = False,
    unattainable: str = "raise",
) -> np.ndarray:
    """Implied volatilities of a batch of quotes.

    Scans every option's price over ``grid`` volatilities in one batched call and bisects the
    first interval where it crosses the quote. A quote above every price on the grid (or below
    every one) may still be attained between two grid points, at a hump (or dip) of a price that
    is not monotone in sigma: there a golden-section search finds the hump's top first, and the
    bisection runs between the grid point before it and the top. A quote within float32 rounding
    (``4 eps max(1, |quote|)``) of the top is matched at the top.

    Example:
        >>> implied_vol(model, [[110, 100, 120, 0.0, 0.1, 0.05]], 18.71)  # doctest: +SKIP
        array([0.35...])

    Args:
        model: the pricing network.
        X: array-like of shape ``(n, 6)`` (or one row); its sigma column is ignored.
        price: the ``n`` quotes (a scalar for one option), currency units.
        tol: width of the final bracket, in volatility units: a number in
            ``[SMALLEST_TOL, 0.4]``.
        grid: volatilities in the first, batched scan of [0, 0.4]: an integer in
            ``[2, LARGEST_GRID]``.
        allow_outside: warn instead of raising for inputs outside the training domain.
        unattainable: ``"raise"`` a ``ValueError`` for a quote outside the attainable prices,
            or answer ``"nan"`` for it and solve the others (the pricing service does, so
            that one bad quote does not fail a batch).

    Returns:
        Float64 array of shape ``(n,)``: the smallest sigma in [0, 0.4] whose price matches (up
        to features of the price narrower than the grid's step, 0.01 by default).

    Raises:
        ValueError: inputs outside the domain; a quote count that does not match ``X``; a quote
            outside the prices attainable over [0, 0.4] (the message names the quote and the range)
            unless ``unattainable="nan"``; an unknown ``unattainable``; ``tol`` or ``grid``
            outside its range, NaN, or of the wrong type (``helpers.core.validate``).
    """
    tol, grid = check_tol(tol), check_grid(grid)
    if unattainable not in ("raise", "nan"):
        raise ValueError(f"unattainable must be 'raise' or 'nan', got {unattainable!r}")
    X = _rows_without_sigma(X, allow_outside)
    try:
        quotes = np.atleast_1d(np.asarray(price, dtype=np.float64))
    except (TypeError, ValueError) as err:
        raise ValueError(f"price must be numbers, one quote per row of X: {err}") from None
    if quotes.shape != (X.shape[0],):
        raise ValueError(
            f"price must hold one quote per row of X ({X.shape[0]}), got {quotes.shape}"
        )
    if not np.isfinite(quotes).all():
        i = int(np.flatnonzero(~np.isfinite(quotes))[0])
        raise ValueError(f"price[{i}] is {quotes[i]}: every quote must be finite")
    lo_sigma, hi_sigma = DOMAIN_LOW[SIGMA], DOMAIN_HIGH[SIGMA]
    n, rows = X.shape[0], np.arange(X.shape[0])
    sigmas = np.broadcast_to(np.linspace(lo_sigma, hi_sigma, grid), (n, grid)).copy()
    values = _prices(model, X, sigmas) - quotes[:, None]
    crossing = np.signbit(values[:, :-1]) != np.signbit(values[:, 1:])
    exact = values == 0.0
    first_cross = np.where(crossing.any(axis=1), crossing.argmax(axis=1), grid)
    first_exact = np.where(exact.any(axis=1), exact.argmax(axis=1), grid)
    at_grid = first_exact <= first_cross  # a grid point matches before any crossing
    lo = sigmas[rows, np.minimum(first_cross, grid - 2)].copy()
    hi = sigmas[rows, np.minimum(first_cross + 1, grid - 1)].copy()
    f_lo = values[rows, np.minimum(first_cross, grid - 2)].copy()
    lo[at_grid] = hi[at_grid] = sigmas[rows, np.minimum(first_exact, grid - 1)][at_grid]
    low_price, high_price = values.min(axis=1) + quotes, values.max(axis=1) + quotes
    outside = np.zeros(n, dtype=bool)
    for sign, beyond in ((1.0, values.max(axis=1) < 0), (-1.0, values.min(axis=1) > 0)):
        # sign 1: quotes above every grid price, matched (if at all) on a hump; -1: in a dip
        k = np.flatnonzero(beyond)
        if k.size == 0:
            continue
        top = (sign * values[k]).argmax(axis=1)
        before, after = np.maximum(top - 1, 0), np.minimum(top + 1, grid - 1)
        top_sigma, top_price = _extremum(
            model, X[k], sigmas[k, before], sigmas[k, after], sign, tol
        )
        reach = sign * (top_price - quotes[k])  # >= 0 where the hump reaches the quote
        rounding = 4 * np.finfo(np.float32).eps * np.maximum(1.0, np.abs(quotes[k]))
        outside[k] = reach < -rounding
        extreme = high_price if sign > 0 else low_price
        extreme[k] = sign * np.maximum(sign * extreme[k], sign * top_price)
        lo[k] = np.where(reach >= 0, sigmas[k, before], top_sigma)
        hi[k] = top_sigma
        f_lo[k] = np.where(reach >= 0, values[k, before], 0.0)
    if outside.any() and unattainable == "nan":
        lo[outside] = hi[outside] = np.nan
    elif outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"quote {quotes[i]:g} for row {i} is outside the prices the network attains for sigma "
            f"in [{lo_sigma:g}, {hi_sigma:g}]: [{low_price[i]:g}, {high_price[i]:g}] "
            f"({int(outside.sum())} quote(s) outside)"
        )
    while np.nanmax(hi - lo, initial=0.0) > tol:
        mid = 0.5 * (lo + hi)
        f_mid = _prices(model, X, mid[:, None])[:, 0] - quotes
        left = np.signbit(f_mid) != np.signbit(f_lo)  # the root is in [lo, mid]
        hi = np.where(left, mid, hi)
        lo = np.where(left, lo, mid)
        f_lo = np.where(left, f_lo, f_mid)
    return 0.5 * (lo + hi)


def article_bisection(
    model: torch.nn.Module,
    x: object,
    quote: float,
    *,
    tol: float = 1e-6,
    allow_outside: bool = False,
) -> float:
    """The article's algorithm, one quote at a time: bisect sigma on [0, 0.4] until the bracket
    is narrower than ``tol``, assuming the price rises with sigma. Kept to compare with
    ``implied_vol``; where the article printed a message and returned None, this raises.

    Args:
        model: the pricing network.
        x: one option's six inputs; its sigma is ignored.
        quote: the price to match, currency units.
        tol: width of the final bracket, in volatility units, in ``[SMALLEST_TOL, 0.4]``.
        allow_outside: warn instead of raising for inputs outside the training domain.

    Raises:
        ValueError: an input outside the training domain (see
            ``helpers.inference.pricing.check_domain``), more than one option, a quote not between
            the prices at sigma = 0 and 0.4, or ``tol`` outside its range.
    """
    tol = check_tol(tol)
    quote = check_real("quote", quote)
    row = _rows_without_sigma(x, allow_outside)
    if row.shape[0] != 1:
        raise ValueError(f"x must be one option (6 inputs), got {row.shape[0]} rows")
    lo, hi = DOMAIN_LOW[SIGMA], DOMAIN_HIGH[SIGMA]
    ends = _prices(model, row, np.array([[lo, hi]]))[0]
    if not ends[0] <= quote <= ends[1]:
        raise ValueError(
            f"quote {quote:g} is not between the prices at sigma = {lo:g} and {hi:g}:"
            f" {ends[0]:g} and {ends[1]:g}"
        )
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if _prices(model, row, np.array([[mid]]))[0, 0] > quote:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)
