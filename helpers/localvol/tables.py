"""Chapter 11's tables: the market, the gradient by maturity and by pair, and what was measured.

Each function takes what the chapter computed (a ``Market``, a gradient, ``time_basket``'s
figures) and returns a Markdown table built by ``helpers.core.report.table``, so that the
chapter's cells show the calls that compute and none of the formatting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from IPython.display import Markdown

from ..core.machine import describe_machine
from ..core.report import table
from .market import PAIRS, Market
from .timing import NAG_SECONDS, input_counts

MARKET_COLUMNS = (
    "pair",
    "spot",
    "r_f",
    "ATM vol 1m",
    "ATM vol 1y",
    "1y skew (10d put - call)",
    "units",
)
"""The columns of :func:`market_table`."""


def market_rows(market: Market, names: Sequence[str] = PAIRS) -> list[list[object]]:
    """One row per currency pair: its name, spot, foreign rate, at-the-money implied volatility
    at the first and the last maturity, the last maturity's skew (the 10-delta put's quote
    minus the 10-delta call's) and its units in the basket.

    Args:
        market: the market, ``m`` pairs with quotes of shape ``(m, t, 5)``.
        names: ``m`` names, in the market's order.

    Returns:
        ``m`` rows in the order of :data:`MARKET_COLUMNS`; spots in domestic currency per unit
        of foreign currency, rates per year, volatilities annualised.

    Raises:
        ValueError: ``names`` does not have one name per pair.
    """
    if len(names) != market.n_assets:
        raise ValueError(f"names has {len(names)} entries, the market {market.n_assets} pairs")
    vols = np.asarray(market.vols)
    middle = vols.shape[2] // 2  # the 50-delta (at-the-money) quote
    return [
        [
            name,
            float(market.spots[i]),
            float(market.rf[i]),
            float(vols[i, 0, middle]),
            float(vols[i, -1, middle]),
            float(vols[i, -1, 0] - vols[i, -1, -1]),
            float(market.weights[i]),
        ]
        for i, name in enumerate(names)
    ]


def market_table(market: Market, names: Sequence[str] = PAIRS) -> Markdown:
    """:func:`market_rows` as a table."""
    return table(
        market_rows(market, names),
        MARKET_COLUMNS,
        {
            "spot": "{:.4f}",
            "r_f": "{:.3f}",
            "ATM vol 1m": "{:.3f}",
            "ATM vol 1y": "{:.3f}",
            "1y skew (10d put - call)": "{:+.3f}",
            "units": "{:.2f}",
        },
    )


def nag_table(seconds: Mapping[str, float] = NAG_SECONDS) -> Markdown:
    """The four timings of du Toit, Lotz and Naumann's report (an NVIDIA K20X with a Xeon
    E5-2670, 10,000 paths of 360 steps), in seconds."""
    return table(
        [
            ["forward run (quotes to price)", seconds["forward"]],
            ["of which the GPU Monte Carlo", seconds["monte_carlo"]],
            ["adjoint run (price to the 438 inputs)", seconds["adjoint"]],
            ["whole gradient, price included", seconds["gradient"]],
        ],
        ["NAG, K20X + Xeon E5-2670", "seconds"],
        {"seconds": "{:.4f}"},
    )


def vega_by_maturity(market: Market, vega: np.ndarray) -> list[list[object]]:
    """The vegas of the quotes summed per maturity over every pair and strike.

    Args:
        market: the market, quotes of shape ``(m, t, q)``.
        vega: the price's derivatives with respect to the quotes, shape ``(m, t, q)``
            (domestic currency per unit of volatility).

    Returns:
        ``t`` rows ``[maturity as "Nm", net vega, gross vega, quotes with a negative vega]``:
        net is the sum, gross the sum of absolute values.

    Raises:
        ValueError: ``vega``'s shape is not the quotes'.
    """
    vega = np.asarray(vega)
    if vega.shape != np.shape(market.vols):
        raise ValueError(f"vega has shape {vega.shape}, the quotes {np.shape(market.vols)}")
    net = vega.sum(axis=(0, 2))
    gross = np.abs(vega).sum(axis=(0, 2))
    return [
        [f"{12 * T:.0f}m", float(n), float(a), int((vega[:, j] < 0).sum())]
        for j, (T, n, a) in enumerate(zip(market.maturities, net, gross, strict=True))
    ]


def vega_by_maturity_table(market: Market, vega: np.ndarray) -> Markdown:
    """:func:`vega_by_maturity` as a table."""
    return table(
        vega_by_maturity(market, vega),
        ["maturity", "net vega", "gross vega", "negative quotes"],
        {"net vega": "{:+.5f}", "gross vega": "{:.5f}"},
    )


def pair_sensitivities(
    market: Market, gradient: Market, names: Sequence[str] = PAIRS
) -> list[list[object]]:
    """Per pair: the spot delta times the spot (the price's change for a 100% move, to first
    order), the foreign rate's sensitivity, the sum of the pair's vegas and the sensitivity to
    the pair's units in the basket.

    Args:
        market: the market, ``m`` pairs.
        gradient: ``price_basket(...).gradient`` for that market.
        names: ``m`` names, in the market's order.

    Returns:
        ``m`` rows ``[pair, dP/dS x S, dP/dr_f, sum of vegas, dP/d(units)]``, domestic
        currency (per unit of rate, of volatility, of foreign currency).
    """
    if len(names) != market.n_assets:
        raise ValueError(f"names has {len(names)} entries, the market {market.n_assets} pairs")
    return [
        [
            name,
            float(gradient.spots[i] * market.spots[i]),
            float(gradient.rf[i]),
            float(np.sum(gradient.vols[i])),
            float(gradient.weights[i]),
        ]
        for i, name in enumerate(names)
    ]


def pair_sensitivities_table(
    market: Market, gradient: Market, names: Sequence[str] = PAIRS
) -> Markdown:
    """:func:`pair_sensitivities` as a table."""
    return table(
        pair_sensitivities(market, gradient, names),
        ["pair", "dP/dS x S", "dP/dr_f", "sum of vegas", "dP/d(units)"],
        {
            "dP/dS x S": "{:.5f}",
            "dP/dr_f": "{:+.5f}",
            "sum of vegas": "{:.5f}",
            "dP/d(units)": "{:.5f}",
        },
    )


def measured_rows(timing: Mapping[str, object], market: Market) -> list[list[str]]:
    """This run's figures beside those of du Toit, Lotz and Naumann's report.

    Args:
        timing: ``time_basket``'s figures.
        market: the market the gradient covers (for its number of entries).

    Returns:
        Rows ``[what, this course, NAG and RWTH Aachen]`` of text; the course's machine is
        this run's CPU and cores (``describe_machine``), and its GPU where it has one.
    """
    nag = timing.get("nag_seconds", NAG_SECONDS)
    info = describe_machine()
    machine = f"{info['cpu']}, {info['cores']} cores"
    if info["gpu"] != "none":
        machine += f", {info['gpu']}"
    return [
        ["machine", f"{machine} (this run)", "NVIDIA K20X GPU + Xeon E5-2670"],
        ["paths x steps", f"{timing['paths']:,} x {timing['steps']}", "10,000 x 360"],
        ["entries of the gradient", f"{sum(input_counts(market).values())}", "438"],
        ["whole gradient, seconds", f"{timing['adjoint_s']:.3f}", f"{nag['gradient']}"],
        [
            "R = gradient / price",
            f"{timing['R_adjoint']:.2f}",
            f"{nag['gradient'] / nag['forward']:.2f}",
        ],
    ]


def measured_table(timing: Mapping[str, object], market: Market) -> Markdown:
    """:func:`measured_rows` as a table."""
    return table(measured_rows(timing, market), ["", "this course", "NAG and RWTH Aachen"])
