"""Implied volatility from the network: the sigma at which the network's price equals a quote.

The article inverts its network with a scalar bisection and prints a message (returning None)
when the quote cannot be matched. ``implied_vol`` solves a whole batch of quotes at once:

1. it prices every option on a grid of volatilities across the training range [0, 0.4], in one
   batched call, and finds the first grid interval where the price crosses the quote;
2. it bisects all the intervals together until they are narrower than ``tol``.

A barrier option's price need not increase with volatility (more volatility also means more
knock-outs), so the price can cross a quote more than once; the solver returns the smallest
volatility that matches. A quote outside the range of prices the grid attains is a
``ValueError`` that says which quote, and the attainable range.
"""

from __future__ import annotations

import numpy as np
import torch

from .domain import COLUMN_INDEX, DOMAIN_HIGH, DOMAIN_LOW
from .pricing import as_tensor, check_domain

SIGMA = COLUMN_INDEX["sigma"]


def _prices(model: torch.nn.Module, X: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Network prices of each option at each of its own sigmas: ``X`` (n, 6), ``sigmas`` (n, m)."""
    n, m = sigmas.shape
    batch = np.repeat(X[:, None, :], m, axis=1)
    batch[:, :, SIGMA] = sigmas
    with torch.no_grad():
        return model(as_tensor(batch.reshape(n * m, 6), model)).cpu().numpy().reshape(n, m)


def sigma_scan(
    model: torch.nn.Module, X: object, grid: int = 41, *, allow_outside: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Network prices of every option over a grid of volatilities across [0, 0.4].

    Returns:
        ``(sigmas, prices)``: shapes ``(grid,)`` and ``(n, grid)``. A row whose prices rise
        strictly along the grid has one implied volatility for each price in its range.
    """
    X = check_domain(X, allow_outside).astype(np.float64)
    sigmas = np.linspace(DOMAIN_LOW[SIGMA], DOMAIN_HIGH[SIGMA], grid)
    return sigmas, _prices(model, X, np.broadcast_to(sigmas, (X.shape[0], grid)).copy())


def implied_vol(
    model: torch.nn.Module,
    X: object,
    price: object,
    *,
    tol: float = 1e-6,
    grid: int = 41,
    allow_outside: bool = False,
) -> np.ndarray:
    """Implied volatilities of a batch of quotes.

    Example:
        >>> implied_vol(model, [[110, 100, 120, 0.0, 0.1, 0.05]], 18.71)  # doctest: +SKIP
        array([0.35...])

    Args:
        model: the pricing network.
        X: array-like of shape ``(n, 6)`` (or one row); its sigma column is ignored.
        price: the ``n`` quotes (a scalar for one option), currency units.
        tol: width of the final bracket, in volatility units.
        grid: volatilities in the first, batched scan of [0, 0.4].
        allow_outside: warn instead of raising for inputs outside the training domain.

    Returns:
        Float64 array of shape ``(n,)``: the smallest sigma in [0, 0.4] whose price matches.

    Raises:
        ValueError: inputs outside the domain; a quote count that does not match ``X``; a quote
            outside the prices attainable over [0, 0.4] (the message names the quote and the range).
    """
    X = np.array(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim == 2 and X.shape[1] == 6:
        X[:, SIGMA] = DOMAIN_LOW[SIGMA]  # ignored: any in-domain value passes the check
    X = check_domain(X, allow_outside).astype(np.float64)
    quotes = np.atleast_1d(np.asarray(price, dtype=np.float64))
    if quotes.shape != (X.shape[0],):
        raise ValueError(
            f"price must hold one quote per row of X ({X.shape[0]}), got {quotes.shape}"
        )
    if not np.isfinite(quotes).all():
        raise ValueError("price must be finite")
    lo_sigma, hi_sigma = DOMAIN_LOW[SIGMA], DOMAIN_HIGH[SIGMA]
    sigmas = np.broadcast_to(np.linspace(lo_sigma, hi_sigma, grid), (X.shape[0], grid)).copy()
    values = _prices(model, X, sigmas) - quotes[:, None]
    low_price = values.min(axis=1) + quotes
    high_price = values.max(axis=1) + quotes
    outside = (quotes < low_price) | (quotes > high_price)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"quote {quotes[i]:g} for row {i} is outside the prices the network attains for sigma "
            f"in [{lo_sigma:g}, {hi_sigma:g}]: [{low_price[i]:g}, {high_price[i]:g}] "
            f"({int(outside.sum())} quote(s) outside)"
        )
    crossing = np.signbit(values[:, :-1]) != np.signbit(values[:, 1:])
    exact = values == 0.0
    first = np.where(crossing.any(axis=1), crossing.argmax(axis=1), exact.argmax(axis=1))
    rows = np.arange(X.shape[0])
    lo = sigmas[rows, first].copy()
    hi = sigmas[rows, np.minimum(first + 1, grid - 1)].copy()
    f_lo = values[rows, first]
    while (hi - lo).max() > tol:
        mid = 0.5 * (lo + hi)
        f_mid = _prices(model, X, mid[:, None])[:, 0] - quotes
        left = np.signbit(f_mid) != np.signbit(f_lo)  # the root is in [lo, mid]
        hi = np.where(left, mid, hi)
        lo = np.where(left, lo, mid)
        f_lo = np.where(left, f_lo, f_mid)
    return 0.5 * (lo + hi)


def article_bisection(
    model: torch.nn.Module, x: object, quote: float, *, tol: float = 1e-6
) -> float:
    """The article's algorithm, one quote at a time: bisect sigma on [0, 0.4] until the bracket
    is narrower than ``tol``, assuming the price rises with sigma. Kept to compare with
    ``implied_vol``; where the article printed a message and returned None, this raises.

    Raises:
        ValueError: if the quote is not between the prices at sigma = 0 and sigma = 0.4.
    """
    row = np.array(x, dtype=np.float64).reshape(6)
    lo, hi = DOMAIN_LOW[SIGMA], DOMAIN_HIGH[SIGMA]
    ends = _prices(model, row[None, :], np.array([[lo, hi]]))[0]
    if not ends[0] <= quote <= ends[1]:
        raise ValueError(
            f"quote {quote:g} is not between the prices at sigma = {lo:g} and {hi:g}:"
            f" {ends[0]:g} and {ends[1]:g}"
        )
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if _prices(model, row[None, :], np.array([[mid]]))[0, 0] > quote:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)
