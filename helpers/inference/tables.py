"""The tables of Chapter 7: how accurate the shipped pricer is, its Greeks against Monte Carlo,
the implied volatility's round trip, its speed against Monte Carlo, and what the run measured.

Each function builds one table with ``helpers.core.report.table`` from figures the chapter has
computed, so the chapter keeps its teaching lines (price, differentiate, invert, time) and the
rows, labels and formats live here. ``held_out_errors`` and ``round_trip`` gather the figures
that two tables and the chapter's prose share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from IPython.display import Markdown

from ..core.domain import ARTICLE_NETWORK_PRICE, COLUMNS
from ..core.report import table
from ..data.test_set import NEAR_ZERO
from ..mc.result import MCResult
from .evaluation import ARTICLE_TARGET, MAE_TARGET
from .implied_volatility import SIGMA, sigma_scan
from .pricing import price
from .sensitivities import greeks

PRICE_BUCKETS = (0.0, 1.0, 5.0, 20.0, 50.0, 250.0)
"""Edges of the price buckets of ``bucket_table``, currency units: ``[0, 1)``, ``[1, 5)``, ..."""

OWN_SIGMA_TOLERANCE = 1e-4
"""A recovered volatility within this of the option's own counts as the option's own."""

SENSITIVE_VEGA = 1.0
"""``|vega|`` above this (currency units per unit of volatility) pins the volatility down."""

PRICE_TOLERANCE = 1e-5
"""The implied volatility's price round trip should come back within this, currency units, or
two float32 steps of the quote where those are wider (the network computes in float32)."""


@dataclass(frozen=True)
class HeldOutErrors:
    """The network's errors on the held-out test set, against its Monte Carlo labels.

    Attributes:
        options: number of test options.
        mae, rmse, max_error: mean absolute, root-mean-square and largest absolute error,
            currency units.
        noise_floor: the labels' mean standard error, currency units.
        near_zero_share: fraction of test options priced below ``near_zero`` by Monte Carlo.
        mae_near_zero, mae_rest: the MAE on those options and on the others.
        near_zero: the price below which an option counts as priced near zero.
    """

    options: int
    mae: float
    rmse: float
    max_error: float
    noise_floor: float
    near_zero_share: float
    mae_near_zero: float
    mae_rest: float
    near_zero: float = NEAR_ZERO


def held_out_errors(
    net_price: np.ndarray, mc_price: np.ndarray, mc_stderr: np.ndarray, near_zero: float = NEAR_ZERO
) -> HeldOutErrors:
    """The network's errors on a test set.

    Example:
        >>> e = held_out_errors(np.array([1.1, 5.0]), np.array([1.0, 5.2]), np.array([0.1, 0.1]))
        >>> round(e.mae, 3), round(e.max_error, 3), e.near_zero_share
        (0.15, 0.2, 0.0)

    Args:
        net_price: the network's prices, shape ``(n,)``, currency units.
        mc_price: the Monte Carlo labels, shape ``(n,)``.
        mc_stderr: their standard errors, shape ``(n,)``.
        near_zero: the price below which an option counts as priced near zero.

    Returns:
        A ``HeldOutErrors``.

    Raises:
        ValueError: arrays of different shapes, or empty ones.
    """
    net_price, mc_price, mc_stderr = (np.asarray(a, dtype=np.float64)
                                      for a in (net_price, mc_price, mc_stderr))  # fmt: skip
    if not net_price.shape == mc_price.shape == mc_stderr.shape or net_price.size == 0:
        raise ValueError(
            f"net_price, mc_price and mc_stderr must be non-empty and of one shape, got "
            f"{net_price.shape}, {mc_price.shape}, {mc_stderr.shape}"
        )
    error = np.abs(net_price - mc_price)
    near = mc_price < near_zero
    return HeldOutErrors(
        options=int(error.size),
        mae=float(error.mean()),
        rmse=float(np.sqrt((error**2).mean())),
        max_error=float(error.max()),
        noise_floor=float(mc_stderr.mean()),
        near_zero_share=float(near.mean()),
        mae_near_zero=float(error[near].mean()) if near.any() else float("nan"),
        mae_rest=float(error[~near].mean()) if (~near).any() else float("nan"),
        near_zero=near_zero,
    )


def accuracy_table(errors: HeldOutErrors) -> Markdown:
    """One row: the number of test options, MAE, RMSE, max error and the noise floor."""
    floor = "Monte Carlo noise floor (mean s.e.)"
    figures = ["MAE", "RMSE", "max error", floor]
    return table(
        [[errors.options, errors.mae, errors.rmse, errors.max_error, errors.noise_floor]],
        ["test options", *figures],
        dict.fromkeys(figures, "{:.4f}"),
    )


def bucket_table(
    net_price: np.ndarray,
    mc_price: np.ndarray,
    mc_stderr: np.ndarray,
    edges: Sequence[float] = PRICE_BUCKETS,
) -> Markdown:
    """The network's MAE by bucket of the Monte Carlo price, beside the labels' mean standard
    error in the bucket: a row per bucket ``[edges[k], edges[k + 1])`` (arrays of shape
    ``(n,)``, currency units); an empty bucket shows NaN."""
    net_price, mc_price, mc_stderr = (np.asarray(a, dtype=np.float64)
                                      for a in (net_price, mc_price, mc_stderr))  # fmt: skip
    error = np.abs(net_price - mc_price)
    rows = []
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (mc_price >= low) & (mc_price < high)
        mae = error[inside].mean() if inside.any() else np.nan
        se = mc_stderr[inside].mean() if inside.any() else np.nan
        rows.append([f"[{low:g}, {high:g})", int(inside.sum()), mae, se])
    return table(
        rows,
        ["price bucket", "options", "MAE", "mean s.e. of the labels"],
        {"MAE": "{:.4f}", "mean s.e. of the labels": "{:.4f}"},
    )


def _verdict(value: float, limit: float) -> str:
    return "met" if value <= limit else f"MISSED by {value - limit:.3f}"


def targets_table(mae: float, gap: float) -> Markdown:
    """The course's two targets for the shipped pricer, measured and judged: the test MAE at
    most ``MAE_TARGET`` and the article's network example within ``ARTICLE_TARGET`` of Monte
    Carlo (``gap`` = network minus Monte Carlo, currency units)."""
    targets = {
        f"test MAE <= {MAE_TARGET}": (mae, MAE_TARGET),
        f"the article's network example within {ARTICLE_TARGET}": (abs(gap), ARTICLE_TARGET),
    }
    return table(
        [[name, value, _verdict(value, limit)] for name, (value, limit) in targets.items()],
        ["target", "measured", "verdict"],
        {"measured": "{:.4f}"},
    )


def greeks_table(g: Mapping[str, np.ndarray], row: int = 0) -> Markdown:
    """One option's price, first derivatives and gamma (``sensitivities.greeks``' output), with
    a desk's rho beside the course's.

    The course's rho is ``dP/dr`` at fixed ``mu``: the discount rate's sensitivity alone. A
    desk's rho moves drift and discount together (under the risk-neutral measure ``mu = r``),
    which is ``dP/dmu + dP/dr``: the column ``desk's rho``.
    """
    names = list(g)
    values = [float(g[name][row]) for name in names]
    at = names.index("rho") + 1
    names.insert(at, "desk's rho")
    values.insert(at, float(g["dP/dmu"][row] + g["rho"][row]))
    return table([values], names, dict.fromkeys(names, "{:.4f}"))


def bumped_gamma(model: torch.nn.Module, points: Sequence[Sequence[float]], h: float) -> np.ndarray:
    """The network's own central second difference in the spot,
    ``(P(S0 + h) - 2 P(S0) + P(S0 - h)) / h**2``, for each option of ``points``.

    Beside the network's exact gamma (autograd) it shows the bump's bias, about
    ``h**2 / 12`` times the fourth derivative in the spot; beside Monte Carlo's second difference
    at the same ``h`` it compares like with like.

    Args:
        model: the pricer.
        points: the options, each ``[K, B, S0, sigma, mu, r]``.
        h: the spot bump, currency units.

    Returns:
        Array of shape ``(len(points),)``.
    """
    X = np.asarray(points, dtype=np.float64).reshape(-1, 6)
    spot = COLUMNS.index("S0")
    stencil = np.repeat(X[:, None, :], 3, axis=1)
    stencil[:, :, spot] += np.array([-h, 0.0, h])
    down, mid, up = price(model, stencil.reshape(-1, 6)).astype(np.float64).reshape(-1, 3).T
    return (up - 2.0 * mid + down) / h**2


def delta_gamma_table(
    points: Sequence[Sequence[float]],
    fd: Sequence[Mapping[str, float]],
    net_greeks: Mapping[str, np.ndarray],
    net_bumped: Sequence[float] | None = None,
) -> Markdown:
    """The network's delta and gamma against Monte Carlo's finite differences, a row per option.

    Args:
        points: the options, each ``[K, B, S0, sigma, mu, r]``.
        fd: ``helpers.mc.bumps.mc_delta_gamma``'s result for each option.
        net_greeks: ``sensitivities.greeks(model, points)``.
        net_bumped: ``bumped_gamma(model, points, h)`` at Monte Carlo's ``h``, or ``None``. When
            given, it is shown beside the network's exact gamma and the gamma gap is measured
            against it: the two second differences share the bump's bias.

    Returns:
        Per Greek: Monte Carlo's estimate with its standard error, the network's, and the gap in
        standard errors and as a fraction of Monte Carlo's value.
    """
    rows = []
    for k, (p, f) in enumerate(zip(points, fd, strict=True)):
        row = ["[" + ", ".join(f"{float(v):g}" for v in p) + "]"]
        for name in ("delta", "gamma"):
            value, se, mine = f[name], f[f"{name}_se"], float(net_greeks[name][k])
            shown = [f"{value:.5f} ± {se:.5f}", f"{mine:.5f}"]
            if name == "gamma" and net_bumped is not None:
                mine = float(net_bumped[k])
                shown.append(f"{mine:.5f}")
            off_by = f"{(mine - value) / se:+.1f}, {(mine - value) / value:+.1%}"
            row += [*shown, off_by]
        rows.append(row)
    columns = [f"option [{', '.join(COLUMNS)}]"]
    for name in ("delta", "gamma"):
        columns += [f"{name}: MC", f"{name}: network"]
        if name == "gamma" and net_bumped is not None:
            columns[-2:] = ["gamma: MC, 2nd difference", "gamma: network, exact",
                            "gamma: network, 2nd difference"]  # fmt: skip
        columns.append(f"{name} gap (s.e., %)")
    return table(rows, columns)


@dataclass(frozen=True)
class RoundTrip:
    """Implied volatility's round trip over a batch of options quoted at their own volatility.

    Attributes, each of shape ``(n,)``:
        sigma: each option's own volatility.
        recovered: the solver's volatility for its quote.
        quotes: the quotes, the network's prices at ``sigma``.
        price_gap: ``|P(recovered) - quote|``, currency units.
        allowed: the allowance for ``price_gap``: ``PRICE_TOLERANCE`` or two float32 steps of
            the quote, whichever is wider.
        sensitive: ``|vega| > SENSITIVE_VEGA``.
        rising: the price rises strictly with sigma over ``sigma_scan``'s grid.
        own: ``recovered`` within ``OWN_SIGMA_TOLERANCE`` of ``sigma``.
    """

    sigma: np.ndarray
    recovered: np.ndarray
    quotes: np.ndarray
    price_gap: np.ndarray
    allowed: np.ndarray
    sensitive: np.ndarray
    rising: np.ndarray
    own: np.ndarray


def round_trip(
    model: torch.nn.Module, X: np.ndarray, quotes: np.ndarray, recovered: np.ndarray
) -> RoundTrip:
    """Checks ``recovered`` (``implied_vol(model, X, quotes)``) against the options ``X``
    (shape ``(n, 6)``): reprices at the recovered volatility, and classifies each option by its
    vega and by whether its price rises with sigma."""
    X = np.asarray(X, dtype=np.float64)
    quotes = np.asarray(quotes, dtype=np.float64)
    recovered = np.asarray(recovered, dtype=np.float64)
    repriced = price(model, np.column_stack([X[:, :SIGMA], recovered, X[:, SIGMA + 1 :]]))
    _, scan = sigma_scan(model, X)
    return RoundTrip(
        sigma=X[:, SIGMA],
        recovered=recovered,
        quotes=quotes,
        price_gap=np.abs(repriced - quotes),
        allowed=np.maximum(PRICE_TOLERANCE, 2 * np.spacing(quotes.astype(np.float32))),
        sensitive=np.abs(greeks(model, X)["vega"]) > SENSITIVE_VEGA,
        rising=np.all(np.diff(scan, axis=1) > 0, axis=1),
        own=np.abs(recovered - X[:, SIGMA]) < OWN_SIGMA_TOLERANCE,
    )


def round_trip_table(trip: RoundTrip, near_zero: np.ndarray) -> Markdown:
    """How many options of a ``RoundTrip`` get their own volatility back, and why the others
    do not; ``near_zero`` (shape ``(n,)``) marks the options priced near zero by Monte Carlo."""
    other = ~trip.own
    lower = trip.recovered < trip.sigma - OWN_SIGMA_TOLERANCE
    higher = trip.recovered > trip.sigma + OWN_SIGMA_TOLERANCE
    tol = f"{OWN_SIGMA_TOLERANCE:g}"
    rows = [
        ["quotes, each at its option's own sigma", len(trip.sigma)],
        [
            f"price back within {PRICE_TOLERANCE:g} or two float32 steps of the quote",
            int((trip.price_gap <= trip.allowed).sum()),
        ],
        [
            f"... within {PRICE_TOLERANCE:g} itself",
            int((trip.price_gap <= PRICE_TOLERANCE).sum()),
        ],
        [f"abs(vega) > {SENSITIVE_VEGA:g}", int(trip.sensitive.sum())],
        [f"... own sigma back within {tol}", int(trip.own[trip.sensitive].sum())],
        [
            "... price rising with sigma, own sigma back",
            f"{int(trip.own[trip.sensitive & trip.rising].sum())} of "
            f"{int((trip.sensitive & trip.rising).sum())}",
        ],
        ["another sigma with the same price", int(other.sum())],
        ["... of them priced near zero by Monte Carlo", int((other & near_zero).sum())],
        ["... a smaller sigma", int(lower.sum())],
        ["... a larger sigma", int(higher.sum())],
    ]
    return table(rows, ["implied volatility", "options"])


def speed_table(speed: Mapping) -> Markdown:
    """``helpers.benchmark.inference.time_inference``'s rates: the network by batch, Monte Carlo
    at the paths whose standard error equals the network's test MAE, and both ways to Greeks.
    The batch the speed-up uses (``speedup_batch``, the fastest) is marked."""
    used = speed.get("speedup_batch")
    rows = [
        [
            f"network, batch {int(b):,}" + (" (the speed-up's)" if int(b) == used else ""),
            f"{r:,.0f}",
        ]
        for b, r in speed["network_options_per_second"].items()
    ]
    rows += [
        [
            f"Monte Carlo, {speed['matched_paths']:,} paths (s.e. = network MAE)",
            f"{speed['mc_options_per_second']:,.2f}",
        ],
        [
            "network Greeks (6 first derivatives and gamma)",
            f"{speed['network_greeks_options_per_second']:,.0f}",
        ],
        [
            "Monte Carlo Greeks, bump and revalue: 13 prices each, measured on "
            f"{speed['mc_greeks_options']} options",
            f"{speed['mc_greeks_options_per_second']:,.2f}",
        ],
    ]
    return table(rows, [f"on {speed['device']}", "options per second"])


def measured_table(
    model: torch.nn.Module,
    meta: Mapping,
    errors: HeldOutErrors,
    network: float,
    reference: MCResult,
    trip: RoundTrip,
    speed: Mapping,
) -> Markdown:
    """Chapter 7's "What we measured": this run's figures beside the article's.

    Args:
        model: the shipped pricer.
        meta: its ``data/pricer.json``.
        errors: ``held_out_errors`` on the test set.
        network: the network's price of the article's network example.
        reference: the Monte Carlo price of that example (one option).
        trip: the implied volatility's ``round_trip``.
        speed: ``helpers.benchmark.inference.time_inference``'s figures.
    """
    n_parameters = sum(p.numel() for p in model.parameters())
    trained = (
        f"{type(model).__name__}, {n_parameters:,} parameters, "
        f"{meta['training_seconds'] / 60:.0f} min on {meta['device']}"
    )
    mc, se = float(reference.price[0]), float(reference.stderr[0])
    gap = network - mc
    example = (
        f"network {network:.4f}, Monte Carlo {mc:.4f} ± {se:.4f}: gap {gap:+.4f}, "
        f"target {ARTICLE_TARGET} {_verdict(abs(gap), ARTICLE_TARGET)}"
    )
    shares = (
        f"{errors.near_zero_share:.0%}, MAE {errors.mae_near_zero:.4f} "
        f"(the rest: {errors.mae_rest:.4f})"
    )
    rows = [
        ["model", trained, "Net(hidden=1024), 10-20 h on 8 V100"],
        [
            "test MAE / RMSE / max",
            f"{errors.mae:.4f} / {errors.rmse:.4f} / {errors.max_error:.4f}",
            "not reported",
        ],
        [f"test options priced below {errors.near_zero:g}", shares, ""],
        ["Monte Carlo noise floor of the test set", f"{errors.noise_floor:.4f}", ""],
        ["the article's network example", example, f"network {ARTICLE_NETWORK_PRICE}"],
        [
            f"implied volatility: own sigma within {OWN_SIGMA_TOLERANCE:g}, "
            f"abs(vega) > {SENSITIVE_VEGA:g}",
            f"{int(trip.own[trip.sensitive].sum())} of {int(trip.sensitive.sum())}",
            "",
        ],
        ["implied volatility: price round trip, worst", f"{trip.price_gap.max():.1e}", ""],
        [
            "speed-up at equal accuracy",
            f"{speed['speedup_at_equal_accuracy']:,.0f}x on {speed['device']}"
            + (f", batch {speed['speedup_batch']:,}" if "speedup_batch" in speed else ""),
            "about a million (claimed)",
        ],
    ]
    return table(rows, ["", "this run", "article"])
