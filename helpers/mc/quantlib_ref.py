"""Reference prices (and a local-volatility surface) from QuantLib, a library nobody on this
course wrote.

With no barrier (``B = 0``) and drift equal to the rate (``mu = r``), the course's option is a
discretely monitored arithmetic-average Asian call with daily fixings, which QuantLib prices by
Monte Carlo (``MCDiscreteArithmeticAPEngine``); the geometric-average call has a closed form
(``AnalyticDiscreteGeometricAveragePriceAsianEngine``) and is a lower bound for the arithmetic
one, since a geometric mean never exceeds the arithmetic mean of the same fixings.

Dates: the valuation date is 1 January 2025 and the day counter Actual/365 (Fixed), so fixing
``i`` of ``n`` falls on day ``round(i * 365 T / n)`` and sits at ``t_i = i T / n`` years exactly
whenever ``365 T / n`` is a whole number of days (daily fixings over a year: ``T = 1, n = 365``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import QuantLib as ql

VALUATION_DATE = ql.Date(1, 1, 2025)


@dataclass(frozen=True)
class QuantLibPrice:
    """A QuantLib price: ``stderr`` is 0 for a closed form; ``seconds`` is the wall time of NPV."""

    price: float
    stderr: float
    seconds: float


def _asian_option(S0: float, K: float, sigma: float, r: float, T: float, n_fixings: int):
    if n_fixings < 1 or T <= 0:
        raise ValueError(f"need n_fixings >= 1 and T > 0, got {n_fixings} and {T}")
    days = 365.0 * T / n_fixings
    if abs(days - round(days)) > 1e-9 or round(days) < 1:
        raise ValueError(
            f"fixings must fall on whole days: 365 * T / n_fixings = {days:.6g} is not an integer"
        )
    ql.Settings.instance().evaluationDate = VALUATION_DATE
    day_count = ql.Actual365Fixed()
    spot = ql.QuoteHandle(ql.SimpleQuote(S0))
    rates = ql.YieldTermStructureHandle(ql.FlatForward(VALUATION_DATE, r, day_count))
    dividends = ql.YieldTermStructureHandle(ql.FlatForward(VALUATION_DATE, 0.0, day_count))
    vol = ql.BlackVolTermStructureHandle(
        ql.BlackConstantVol(VALUATION_DATE, ql.NullCalendar(), sigma, day_count)
    )
    process = ql.BlackScholesMertonProcess(spot, dividends, rates, vol)
    step = round(days)
    fixings = [VALUATION_DATE + step * i for i in range(1, n_fixings + 1)]
    payoff = ql.PlainVanillaPayoff(ql.Option.Call, K)
    return process, fixings, payoff


def _npv(option, engine, with_error: bool) -> QuantLibPrice:
    option.setPricingEngine(engine)
    start = time.perf_counter()
    npv = option.NPV()
    seconds = time.perf_counter() - start
    return QuantLibPrice(npv, option.errorEstimate() if with_error else 0.0, seconds)


def arithmetic_asian_mc(
    S0: float,
    K: float,
    sigma: float,
    r: float,
    T: float = 1.0,
    n_fixings: int = 365,
    n_paths: int = 100_000,
    seed: int = 42,
) -> QuantLibPrice:
    """Arithmetic-average Asian call priced by QuantLib's Monte Carlo (pseudo-random, no variance
    reduction), with QuantLib's own error estimate.

    Args:
        S0, K: spot and strike, currency units.
        sigma: annualised volatility; r: continuously compounded rate (also the drift).
        T: maturity in years; n_fixings: equally spaced fixings, the last at ``T``.
        n_paths: QuantLib's ``requiredSamples``; seed: its generator's seed.

    Returns:
        ``QuantLibPrice(price, stderr, seconds)``.
    """
    process, fixings, payoff = _asian_option(S0, K, sigma, r, T, n_fixings)
    option = ql.DiscreteAveragingAsianOption(
        ql.Average.Arithmetic, 0.0, 0, fixings, payoff, ql.EuropeanExercise(fixings[-1])
    )
    engine = ql.MCDiscreteArithmeticAPEngine(
        process, "pseudorandom", False, False, False, n_paths, ql.nullDouble(), ql.nullInt(), seed
    )
    return _npv(option, engine, with_error=True)


def geometric_asian_analytic(
    S0: float, K: float, sigma: float, r: float, T: float = 1.0, n_fixings: int = 365
) -> QuantLibPrice:
    """Geometric-average Asian call in closed form (QuantLib's analytic discrete engine).

    It is a lower bound for the arithmetic-average call on the same fixings.
    """
    process, fixings, payoff = _asian_option(S0, K, sigma, r, T, n_fixings)
    option = ql.DiscreteAveragingAsianOption(
        ql.Average.Geometric, 1.0, 0, fixings, payoff, ql.EuropeanExercise(fixings[-1])
    )
    engine = ql.AnalyticDiscreteGeometricAveragePriceAsianEngine(process)
    return _npv(option, engine, with_error=False)


def _flat_curve(rate: float) -> ql.YieldTermStructureHandle:
    return ql.YieldTermStructureHandle(ql.FlatForward(VALUATION_DATE, rate, ql.Actual365Fixed()))


def garman_kohlhagen(spot: float, strike: float, rd: float, rf: float, vol: float,
                     expiry_days: int) -> dict[str, float]:  # fmt: skip
    """An FX call under Black-Scholes (Garman-Kohlhagen) by QuantLib's analytic engine.

    Args:
        spot: domestic currency per unit of foreign; strike: the same unit.
        rd, rf: flat domestic and foreign rates, continuously compounded, per year.
        vol: flat volatility, annualised; expiry_days: days to expiry (Actual/365 Fixed, so
            365 days is one year).

    Returns:
        ``{"price", "delta", "vega"}``: vega per unit of volatility (not per 1%).
    """
    dc = ql.Actual365Fixed()
    ql.Settings.instance().evaluationDate = VALUATION_DATE
    # Garman-Kohlhagen is Black-Scholes-Merton with the foreign rate as the dividend yield
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)), _flat_curve(rf), _flat_curve(rd),
        ql.BlackVolTermStructureHandle(ql.BlackConstantVol(VALUATION_DATE, ql.NullCalendar(),
                                                           vol, dc)),
    )  # fmt: skip
    option = ql.VanillaOption(ql.PlainVanillaPayoff(ql.Option.Call, strike),
                              ql.EuropeanExercise(VALUATION_DATE + expiry_days))  # fmt: skip
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return {"price": option.NPV(), "delta": option.delta(), "vega": option.vega()}


def local_vol_surface(times, strikes, implied_vols, spot: float, rd: float, rf: float):
    """QuantLib's Dupire local volatility (``LocalVolSurface``) on a Black variance surface
    (``BlackVarianceSurface``, bicubic) through the implied volatilities on a grid.

    Args:
        times: shape ``(nt,)``, years, increasing (rounded to whole days, Actual/365 Fixed).
        strikes: shape ``(nk,)``, increasing; implied_vols: shape ``(nt, nk)``.
        spot, rd, rf: the pair's spot and flat rates.

    Returns:
        A function ``(t, strike) -> local volatility``.
    """
    dc = ql.Actual365Fixed()
    ql.Settings.instance().evaluationDate = VALUATION_DATE
    dates = [VALUATION_DATE + round(365 * float(t)) for t in times]
    matrix = ql.Matrix(len(strikes), len(times))
    for a in range(len(strikes)):
        for b in range(len(times)):
            matrix[a][b] = float(implied_vols[b][a])
    surface = ql.BlackVarianceSurface(VALUATION_DATE, ql.NullCalendar(), dates,
                                      [float(k) for k in strikes], matrix, dc)  # fmt: skip
    surface.setInterpolation("bicubic")
    local = ql.LocalVolSurface(ql.BlackVolTermStructureHandle(surface), _flat_curve(rd),
                               _flat_curve(rf), ql.QuoteHandle(ql.SimpleQuote(spot)))  # fmt: skip
    local.enableExtrapolation()
    # keep the surface alive as long as the function
    return lambda t, strike, _keep=(surface, local): local.localVol(float(t), float(strike))
