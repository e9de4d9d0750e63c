"""From implied-volatility quotes to a local-volatility table on the simulation's grid.

Three stages, all in torch so that autograd carries the price's gradient back to every quote:

1. **Quotes to an implied surface.** Per pair and maturity, the implied total variance
   ``w = sigma_imp^2 T`` is a natural cubic spline in strike through the 5 quotes, extended
   beyond the end strikes along its end slopes (so it keeps two continuous derivatives there,
   and the local volatility stays continuous in spot; a flat extension would make it jump).
   Between maturities ``w`` is linear in time at fixed log forward moneyness
   ``y = log(K / F_T)``, which keeps it monotone in time wherever the quotes are (no
   calendar arbitrage is created); before the first maturity it falls linearly to 0 at
   ``t = 0``, after the last it grows in proportion to ``t``.
2. **Dupire's formula** in Gatheral's form, on the total variance ``w(y, t)``:
   ``sigma_loc^2 = dw/dt / (1 - y/w dw/dy + 1/4 (-1/4 - 1/w + y^2/w^2) (dw/dy)^2
   + 1/2 d2w/dy2)``, evaluated at the middle of every Euler step on a uniform grid of
   ``GRID_POINTS`` values of ``y`` spanning ``+-GRID_SPAN`` standard deviations of the pair.
   Where the formula gives a local variance below ``VARIANCE_FLOOR`` (or no number at all: a
   butterfly arbitrage makes the denominator vanish), it is floored, and a warning counts the
   points.
3. **One spline in spot per time step** (as NAG store it): the local volatility on each step's
   grid becomes a natural cubic spline in ``y``, kept as four coefficients per interval; a
   path's volatility is a gather and a cubic. Beyond the grid the volatility is flat.

References:
    B. Dupire, "Pricing with a smile", Risk 7 (1994), 18-20.
    J. Gatheral, "The Volatility Surface", Wiley (2006), chapter 1.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

from .splines import evaluate_spline, interval_polynomials, natural_spline, natural_spline_uniform

GRID_POINTS = 41
"""Values of ``y`` per pair and time step on which Dupire's formula is evaluated."""

GRID_SPAN = 6.0
"""The grid spans ``+-GRID_SPAN`` standard deviations ``sigma_atm sqrt(t)`` of ``y``."""

VARIANCE_FLOOR = 1e-6
"""Smallest local variance kept (a local volatility of 0.1%); below it, or where the formula
fails, the variance is floored and counted."""


class FlooredLocalVarianceWarning(UserWarning):
    """Dupire's formula gave a local variance below ``VARIANCE_FLOOR`` at some grid points."""


@dataclass(frozen=True)
class LocalVolTable:
    """The local volatility of every pair at every Euler step, as splines in ``y``.

    Attributes:
        coefficients: ``(n_steps, m, GRID_POINTS - 1, 4)``: per step, pair and interval,
            ``c0 + c1 u + c2 u^2 + c3 u^3`` with ``u`` in ``[0, 1]`` across the interval.
        start: ``(n_steps, m)``, the grid's first ``y``; spacing: ``(n_steps, m)``, its step.
        floored: how many grid points had their local variance floored.
    """

    coefficients: torch.Tensor
    start: torch.Tensor
    spacing: torch.Tensor
    floored: int


def implied_total_variance(
    strikes: torch.Tensor, vols: torch.Tensor, maturities: torch.Tensor, forwards: torch.Tensor,
    t: torch.Tensor, y: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """The interpolated total implied variance ``w(y, t)`` and its derivatives.

    Args:
        strikes, vols: quotes, shape ``(m, n_maturities, q)``.
        maturities: shape ``(n_maturities,)``, years, increasing.
        forwards: each pair's forward at each maturity, shape ``(m, n_maturities)``.
        t: times in years, shape ``(n,)``, positive.
        y: log forward moneyness per time, shape ``(n, m, g)``.

    Returns:
        ``(w, dw/dy, d2w/dy2, dw/dt)``, each of shape ``(n, m, g)``.
    """
    n, m, g = y.shape
    n_maturities = len(maturities)
    quoted = vols**2 * maturities[None, :, None]
    M = natural_spline(strikes, quoted)
    T = maturities.detach()
    j = torch.searchsorted(T, t.detach(), right=True) - 1  # maturity at or before t
    lo = j.clamp(0, n_maturities - 1)
    hi = (j + 1).clamp(0, n_maturities - 1)
    t_lo = torch.where(j >= 0, maturities[lo], torch.zeros_like(t))
    t_hi = torch.where(j + 1 < n_maturities, maturities[hi], 2 * t)

    def smile(index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``w`` and its ``y``-derivatives on maturity ``index[n]``'s smile, each (n, m, g)."""
        knots, values, second = strikes[:, index], quoted[:, index], M[:, index]  # (m, n, q)
        at = forwards[:, index, None] * torch.exp(y.transpose(0, 1))  # strikes K = F e^y
        w, first, curvature = evaluate_spline(knots, values, second, at)
        w_y = at * first  # dw/dy = K dw/dK
        w_yy = at**2 * curvature + w_y
        return w.transpose(0, 1), w_y.transpose(0, 1), w_yy.transpose(0, 1)

    (w_lo, dy_lo, dyy_lo), (w_hi, dy_hi, dyy_hi) = smile(lo), smile(hi)
    before = (j < 0)[:, None, None]  # before the first maturity: w = t / T_0 w_0
    after = (j + 1 >= n_maturities)[:, None, None]  # after the last: w = t / T_last w_last
    scale_first = (t / maturities[0])[:, None, None]
    scale_last = (t / maturities[-1])[:, None, None]
    span = (t_hi - t_lo)[:, None, None]
    lam = ((t - t_lo)[:, None, None] / span).clamp(0.0, 1.0)

    def blend(lo_value: torch.Tensor, hi_value: torch.Tensor) -> torch.Tensor:
        inside = (1 - lam) * lo_value + lam * hi_value
        inside = torch.where(before, scale_first * hi_value, inside)
        return torch.where(after, scale_last * lo_value, inside)

    # before the first maturity lo = hi = 0; after the last, lo = hi = last
    w = blend(w_lo, w_hi)
    w_y = blend(dy_lo, dy_hi)
    w_yy = blend(dyy_lo, dyy_hi)
    w_t = (w_hi - w_lo) / span
    w_t = torch.where(before, w_hi / maturities[0], w_t)
    w_t = torch.where(after, w_lo / maturities[-1], w_t)
    return w, w_y, w_yy, w_t


def dupire_local_variance(
    w: torch.Tensor, w_y: torch.Tensor, w_yy: torch.Tensor, w_t: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    """Gatheral's form of Dupire's local variance from the total implied variance; every
    argument and the result have one shape. NaN where the denominator is not positive."""
    denominator = (1 - y / w * w_y + 0.25 * (-0.25 - 1 / w + y**2 / w**2) * w_y**2
                   + 0.5 * w_yy)  # fmt: skip
    good = denominator > 0
    safe = torch.where(good, denominator, torch.ones_like(denominator))  # no 0/0 in backward
    return torch.where(good, w_t / safe, torch.full_like(w, float("nan")))


def pair_quotes(market, pair: int) -> dict[str, torch.Tensor]:
    """One pair's quotes as float64 tensors in the shapes ``implied_total_variance`` takes:
    ``strikes`` and ``vols`` ``(1, n_maturities, q)``, ``maturities`` ``(n_maturities,)``,
    ``forwards`` ``(1, n_maturities)``."""

    def field(name: str) -> torch.Tensor:
        return torch.as_tensor(np.asarray(getattr(market, name)), dtype=torch.float64)

    maturities = field("maturities")
    forwards = field("spots")[pair] * torch.exp((market.rd - field("rf")[pair]) * maturities)
    return {"strikes": field("strikes")[pair : pair + 1], "vols": field("vols")[pair : pair + 1],
            "maturities": maturities, "forwards": forwards[None]}  # fmt: skip


def forward_at(market, pair: int, t: object) -> np.ndarray:
    """The pair's forward at times ``t`` (years), the same shape as ``t``."""
    return market.spots[pair] * np.exp((market.rd - market.rf[pair]) * np.asarray(t))


def local_volatility(market, pair: int, t: float, spots: object) -> np.ndarray:
    """Dupire's local volatility of one pair at time ``t`` and the given spots, straight from
    the interpolated quotes (no grid, no floor): what ``local_vol_table`` tabulates.

    Args:
        market: a ``helpers.localvol.Market``; pair: the pair's index.
        t: time in years, positive; spots: spot levels, shape ``(n,)``.

    Returns:
        Local volatilities, shape ``(n,)``, NaN where the formula fails.
    """
    times = torch.tensor([float(t)], dtype=torch.float64)
    y = torch.as_tensor(np.log(np.asarray(spots, dtype=np.float64) / forward_at(market, pair, t)))
    w, w_y, w_yy, w_t = implied_total_variance(**pair_quotes(market, pair), t=times,
                                               y=y[None, None])  # fmt: skip
    variance = dupire_local_variance(w, w_y, w_yy, w_t, y[None, None])
    return variance.sqrt()[0, 0].numpy()


def local_vol_table(
    strikes: torch.Tensor, vols: torch.Tensor, maturities: torch.Tensor, spots: torch.Tensor,
    rf: torch.Tensor, rd: torch.Tensor, expiry: torch.Tensor, n_steps: int,
) -> LocalVolTable:  # fmt: skip
    """Dupire's local volatility on the simulation's grid, as one spline in ``y`` per step.

    Args:
        strikes, vols: quotes, shape ``(m, n_maturities, q)``; maturities ``(n_maturities,)``.
        spots, rf: ``(m,)``; rd, expiry: scalars (tensors); n_steps: Euler steps to expiry.

    Returns:
        A ``LocalVolTable``; warns (``FlooredLocalVarianceWarning``) with the count of grid
        points whose local variance was floored.
    """
    dt = expiry / n_steps
    t = (torch.arange(n_steps, dtype=vols.dtype, device=vols.device) + 0.5) * dt
    forwards = spots[:, None] * torch.exp((rd - rf)[:, None] * maturities[None, :])
    atm = vols[:, :, vols.shape[-1] // 2].detach().amax(dim=1)  # the grid is not an input
    half_width = GRID_SPAN * atm[None, :] * torch.sqrt(t.detach())[:, None]  # (n, m)
    unit = torch.linspace(-1.0, 1.0, GRID_POINTS, dtype=vols.dtype, device=vols.device)
    y = half_width[..., None] * unit  # (n, m, g)
    w, w_y, w_yy, w_t = implied_total_variance(strikes, vols, maturities, forwards, t, y)
    variance = dupire_local_variance(w, w_y, w_yy, w_t, y)
    bad = ~(variance >= VARIANCE_FLOOR)
    floored = int(bad.sum())
    if floored:
        warnings.warn(f"Dupire's local variance was below {VARIANCE_FLOOR:g} (or undefined) at "
                      f"{floored} of {bad.numel()} grid points: floored there",
                      FlooredLocalVarianceWarning, stacklevel=2)  # fmt: skip
    variance = torch.where(bad, torch.full_like(variance, VARIANCE_FLOOR), variance)
    sigma = variance.sqrt()
    spacing = 2 * half_width / (GRID_POINTS - 1)
    M = natural_spline_uniform(spacing[..., None], sigma)
    coefficients = interval_polynomials(spacing[..., None], sigma, M)
    return LocalVolTable(coefficients, -half_width, spacing, floored)


def smile_curves(market, pair: int, points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """The interpolated smile of every maturity of one pair on a fine strike grid spanning its
    quotes and a little beyond: ``(strikes, implied vols)``, each of shape
    ``(n_maturities, points)``."""
    strikes = torch.as_tensor(np.asarray(market.strikes[pair]), dtype=torch.float64)
    quoted = torch.as_tensor(np.asarray(market.vols[pair]) ** 2 * market.maturities[:, None])
    span = strikes[:, -1:] - strikes[:, :1]
    at = strikes[:, :1] - 0.1 * span + 1.2 * span * torch.linspace(0, 1, points)[None].double()
    w, _, _ = evaluate_spline(strikes, quoted, natural_spline(strikes, quoted), at)
    return at.numpy(), np.sqrt(w.numpy() / market.maturities[:, None])


def skew_ratio(market, pair: int, t: float, h: float = 0.01) -> float:
    """At the money forward at time ``t``: the slope in ``y`` of the local volatility over the
    slope of the implied volatility (interpolated at ``t``), by central differences of
    half-width ``h`` in ``y``. The textbook rule for short-dated skews says about 2."""
    y = torch.tensor([[[-h, h]]], dtype=torch.float64)
    times = torch.tensor([float(t)], dtype=torch.float64)
    w = implied_total_variance(**pair_quotes(market, pair), t=times, y=y)[0]
    implied = np.sqrt(w[0, 0].numpy() / t)
    local = local_volatility(market, pair, t, forward_at(market, pair, t) * np.exp([-h, h]))
    return float((local[1] - local[0]) / (implied[1] - implied[0]))
