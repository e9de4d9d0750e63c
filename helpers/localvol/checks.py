"""Chapter 11's checks against references outside the project: QuantLib's Garman-Kohlhagen
price and Greeks, QuantLib's Dupire local volatility, and central finite differences with
common random numbers. The tests and the chapter call the same functions."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from .basket import path_payoffs, price_basket
from .dupire import forward_at, implied_total_variance, local_volatility, pair_quotes
from .market import Market

FD_BUMPS: tuple[tuple[str, tuple, float], ...] = (
    ("vols", (0, 3, 2), 1e-4),
    ("vols", (9, 6, 0), 1e-4),
    ("strikes", (4, 5, 1), 1e-5),
    ("spots", (2,), 1e-6),
    ("spots", (7,), 1e-6),
    ("rf", (5,), 1e-4),
    ("rd", (), 1e-4),
    ("corr", (1, 4), 1e-4),
    ("weights", (3,), 1e-4),
    ("strike", (), 1e-4),
    ("expiry", (), 1e-4),
    ("maturities", (4,), 1e-4),
)
"""Gradient entries checked by finite differences, one or more of every kind:
``(field, position, bump)``."""


def single_pair(market: Market, pair: int = 0, vol: float | None = None) -> Market:
    """One pair of ``market`` as a market of its own (flat quotes at ``vol`` if given), whole
    basket in it, strike at its forward."""
    vols = market.vols[pair : pair + 1]
    forward = market.spots[pair] * np.exp((market.rd - market.rf[pair]) * market.expiry)
    return dataclasses.replace(
        market, spots=market.spots[pair : pair + 1], rf=market.rf[pair : pair + 1],
        strikes=market.strikes[pair : pair + 1],
        vols=np.full_like(vols, vol) if vol is not None else vols,
        corr=np.ones((1, 1)), weights=np.ones(1), strike=float(forward),
    )  # fmt: skip


def garman_kohlhagen_check(
    market: Market, pair: int = 0, vol: float = 0.1, *, n_paths: int = 4_000,
    n_steps: int = 12, seeds: int = 8,
) -> list:  # fmt: skip
    """One pair with flat quotes at ``vol``: price, delta and vega (the sum of the gradient over
    the pair's quotes) from ``seeds`` runs against QuantLib's analytic engine. Log-Euler steps
    are exact for a constant volatility, so no Euler allowance is needed.

    Returns:
        Rows ``[name, Monte Carlo, standard error, QuantLib, z]``; the standard errors of delta
        and vega are those of the batch means over the seeds.
    """
    from ..mc.quantlib_ref import garman_kohlhagen

    one = single_pair(market, pair, vol)
    days = round(365 * one.expiry)
    reference = garman_kohlhagen(one.spots[0], one.strike, one.rd, one.rf[0], vol, days)
    runs = [price_basket(one, n_paths=n_paths, n_steps=n_steps, seed=s) for s in range(seeds)]
    price = np.mean([r.price for r in runs])
    price_se = np.sqrt(np.mean([r.stderr**2 for r in runs]) / seeds)
    rows = [["price", price, price_se, reference["price"]]]
    for name, values in (("delta", [r.gradient.spots[0] for r in runs]),
                         ("vega", [r.gradient.vols.sum() for r in runs])):  # fmt: skip
        rows.append([name, np.mean(values), np.std(values, ddof=1) / np.sqrt(seeds),
                     reference[name]])  # fmt: skip
    return [row + [(row[1] - row[3]) / row[2]] for row in rows]


def quantlib_local_vol_check(market: Market, pair: int, points: int = 5) -> list:
    """The course's Dupire local volatility against QuantLib's ``LocalVolSurface`` on a
    ``BlackVarianceSurface`` sampled from the course's implied surface (daily times, 200
    strikes, bicubic), half-way between maturities, between the 25 and 75 delta strikes.

    Returns:
        Rows ``[t, strike, course, QuantLib, relative difference]``.
    """
    from ..mc.quantlib_ref import local_vol_surface

    times = np.arange(1, 366) / 365.0
    strikes = np.linspace(market.strikes[pair].min(), market.strikes[pair].max(), 200)
    y = np.log(strikes[None, :] / forward_at(market, pair, times)[:, None])
    w = implied_total_variance(**pair_quotes(market, pair), t=torch.as_tensor(times),
                               y=torch.as_tensor(y)[:, None, :])[0]  # fmt: skip
    implied = np.sqrt(w[:, 0].numpy() / times[:, None])
    rf = market.rf[pair]
    quantlib = local_vol_surface(times, strikes, implied, market.spots[pair], market.rd, rf)
    rows = []
    for j in range(1, len(market.maturities) - 1):
        t = (market.maturities[j] + market.maturities[j + 1]) / 2
        low = market.strikes[pair, j : j + 2, 1].max()
        high = market.strikes[pair, j : j + 2, 3].min()
        at = np.linspace(low, high, points)
        ours = local_volatility(market, pair, t, at)
        for k, value in zip(at, ours, strict=True):
            theirs = quantlib(t, k)
            rows.append([t, k, float(value), theirs, float(value) / theirs - 1])
    return rows


def bumped(market: Market, name: str, where: tuple, h: float) -> Market:
    """``market`` with ``h`` added to ``name[where]`` (both entries of a correlation)."""
    value = np.array(getattr(market, name), dtype=np.float64)
    if value.ndim == 0:
        return dataclasses.replace(market, **{name: float(value) + h})
    value[where] += h
    if name == "corr":
        value[where[::-1]] += h
    return dataclasses.replace(market, **{name: value})


def finite_difference_check(market: Market, gradient: Market, n_paths: int, n_steps: int,
                            seed: int, bumps=FD_BUMPS) -> list:  # fmt: skip
    """Entries of ``gradient`` (from ``price_basket`` with the same paths, steps and seed)
    against central differences with common random numbers.

    Returns:
        Rows ``[field, position, adjoint, finite difference, standard error, z]``; the
        standard error is that of the per-path differences; a ``z`` under 0.005 in size is
        0.0 (so that a table never shows "-0.00").
    """
    rows = []
    for name, where, h in bumps:
        up = path_payoffs(bumped(market, name, where, h), n_paths, n_steps, seed)
        down = path_payoffs(bumped(market, name, where, -h), n_paths, n_steps, seed)
        per_path = (up - down) / (2 * h)
        se = per_path.std(ddof=1) / np.sqrt(n_paths)
        adjoint = float(np.asarray(getattr(gradient, name))[where])
        z = (adjoint - per_path.mean()) / se if se > 0 else 0.0
        z = 0.0 if abs(z) < 0.005 else float(z)  # never "-0.00" in a table
        rows.append([name, str(where), adjoint, per_path.mean(), se, z])
    return rows


def engines_agree(market: Market, n_paths: int = 300, n_steps: int = 24, seed: int = 3,
                  block_steps: int = 7) -> dict[str, float]:  # fmt: skip
    """The hand adjoint against torch autograd on the same normals: the largest difference of
    each gradient field relative to its largest entry (and of the price)."""
    hand = price_basket(market, n_paths=n_paths, n_steps=n_steps, seed=seed, engine="adjoint")
    tape = price_basket(market, n_paths=n_paths, n_steps=n_steps, seed=seed, engine="torch",
                        block_steps=block_steps)  # fmt: skip
    out = {"price": abs(hand.price - tape.price) / abs(tape.price)}
    for field in dataclasses.fields(Market):
        ours = np.asarray(getattr(hand.gradient, field.name))
        theirs = np.asarray(getattr(tape.gradient, field.name))
        out[field.name] = float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), 1e-300))
    return out
