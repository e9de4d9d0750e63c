"""Chapter 1's tables: every backend's rate, the check against QuantLib, and what this run
measured beside the article's figures.

A chapter calls one function per table and shows its result; the rows are built here, so that
the notebook shows the measurement, not the formatting. Every table is Markdown from
``helpers.core.report.table``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..core import config, machine, report
from ..core.domain import ARTICLE_MC_EXAMPLE, ARTICLE_MC_PRICES
from .common import Timing

if TYPE_CHECKING:
    from IPython.display import Markdown

    from ..mc.quantlib_ref import QuantLibPrice
    from ..mc.result import MCResult

ARTICLE_EXAMPLE_SECONDS = 0.013919591903686523
"""The time, in seconds, that the article's notebook printed for pricing the article's Monte
Carlo example (``ARTICLE_MC_EXAMPLE``, 2,048,000 paths, 365 steps) on an NVIDIA V100, with the
normals drawn before the launch and not timed (Dong, 2020; its prose says 66 ms)."""

ARTICLE_EXAMPLE_PATHS = config.GPU_SIZES.example_paths
"""Paths per option of the article's Monte Carlo example: 2,048,000."""


def backends_table(timings: Sequence[Timing]) -> Markdown:
    """One row per timed backend: its batch, its seconds and its path-steps per second.

    Args:
        timings: from ``helpers.benchmark.mc.time_backend``, one per backend.

    Returns:
        A Markdown table with columns backend, options, paths, steps, seconds and
        path-steps per second.
    """
    rows = [
        [f"`{t.backend}`", t.options, t.paths, t.steps, t.seconds, t.path_steps_per_second]
        for t in timings
    ]
    columns = ["backend", "options", "paths", "steps", "seconds", "path-steps per second"]
    formats = {
        "options": "{:,}",
        "paths": "{:,}",
        "seconds": "{:.3f}",
        "path-steps per second": "{:.3g}",
    }
    return report.table(rows, columns, formats)


def quantlib_gap(ours: MCResult, quantlib_mc: QuantLibPrice) -> tuple[float, float]:
    """Our first price less QuantLib's Monte Carlo price, and the two prices' combined standard
    error ``sqrt(se_ours**2 + se_quantlib**2)``; both in currency units."""
    gap = float(ours.price[0] - quantlib_mc.price)
    return gap, float(np.hypot(ours.stderr[0], quantlib_mc.stderr))


def quantlib_table(
    checks: Mapping[str, tuple[MCResult, QuantLibPrice, QuantLibPrice]],
) -> Markdown:
    """Our Asian prices beside QuantLib's: its Monte Carlo, the gap in combined standard errors,
    and its closed-form geometric-average price (a lower bound).

    Args:
        checks: by case name, ``(ours, quantlib_mc, quantlib_geometric)``: our ``MCResult`` of
            one option (``B = 0``, ``mu = r``), QuantLib's Monte Carlo price of the same
            arithmetic Asian call and its geometric-average closed form
            (``helpers.mc.quantlib_ref``).

    Returns:
        A Markdown table, one row per case.
    """
    rows = []
    for label, (ours, ql_mc, ql_geo) in checks.items():
        gap, combined = quantlib_gap(ours, ql_mc)
        rows.append(
            [
                label,
                f"{ours.price[0]:.4f} ± {ours.stderr[0]:.4f}",
                f"{ql_mc.price:.4f} ± {ql_mc.stderr:.4f}",
                gap / combined,
                ql_geo.price,
            ]
        )
    columns = ["case", "ours", "QuantLib MC", "gap / combined s.e.", "geometric (closed form)"]
    formats = {"gap / combined s.e.": "{:+.2f}", "geometric (closed form)": "{:.4f}"}
    return report.table(rows, columns, formats)


def numba_x_quantlib(
    timings: Sequence[Timing],
    quantlib: Iterable[QuantLibPrice],
    quantlib_paths: int,
    n_steps: int = 365,
) -> float:
    """The ``numba`` backend's path-steps per second per thread over QuantLib's on one core.

    QuantLib's rate is its fastest run: ``quantlib_paths * n_steps / seconds``.

    Args:
        timings: the backends' timings; one must be ``numba``'s.
        quantlib: QuantLib Monte Carlo prices, each timed with ``quantlib_paths`` paths.
        quantlib_paths: paths of each QuantLib price.
        n_steps: steps (fixings) of each QuantLib path.

    Raises:
        ValueError: no ``numba`` timing, or no QuantLib price.
    """
    numba = next((t for t in timings if t.backend == "numba"), None)
    seconds = [q.seconds for q in quantlib]
    if numba is None or not seconds:
        raise ValueError("need a numba timing and at least one QuantLib price")
    quantlib_rate = quantlib_paths * n_steps / min(seconds)
    return numba.path_steps_per_second / max(numba.threads, 1) / quantlib_rate


def measured_table(
    example: MCResult,
    example_seconds: float,
    timings: Sequence[Timing],
    x_quantlib: float,
    sizes: config.Sizes,
) -> Markdown:
    """'What we measured': this run's figures beside the article's, each column naming its
    machine (this run's from ``helpers.core.machine.machine_line``; the article's V100).

    Args:
        example: this run's prices of ``ARTICLE_MC_EXAMPLE`` (shape ``(2,)`` each).
        example_seconds: the wall time of that pricing.
        timings: every backend's timing (``backends_table``'s).
        x_quantlib: ``numba_x_quantlib``'s ratio.
        sizes: this run's sizes (``helpers.core.config.sizes()``).

    Returns:
        A Markdown table with columns "", "this run" and "the article".
    """
    article_rate = len(ARTICLE_MC_EXAMPLE) * ARTICLE_EXAMPLE_PATHS * 365 / ARTICLE_EXAMPLE_SECONDS
    best = max(timings, key=lambda t: t.path_steps_per_second)
    ours = (
        f"{example.price[0]:.3f} ± {example.stderr[0]:.3f}, "
        f"{example.price[1]:.4f} ± {example.stderr[1]:.4f}"
    )
    theirs = ", ".join(f"{p:.3f}" for p in ARTICLE_MC_PRICES)
    rows = [
        ["machine", machine.machine_line(), "NVIDIA V100"],
        ["sizes", sizes.profile, "the article's"],
        [
            "Monte Carlo example, paths per option",
            f"{example.n_paths:,}",
            f"{ARTICLE_EXAMPLE_PATHS:,}",
        ],
        ["its prices", ours, theirs],
        [
            "its time",
            f"{example_seconds:.3f} s (`{sizes.backend}`)",
            f"{ARTICLE_EXAMPLE_SECONDS:.4f} s (kernel only)",
        ],
        [
            "fastest backend",
            f"`{best.backend}`, {best.path_steps_per_second:.3g} path-steps/s",
            f"CuPy, {article_rate:.3g} path-steps/s",
        ],
        ["numba per core / QuantLib MC", f"{x_quantlib:.1f}x", "not measured"],
    ]
    return report.table(rows, ["", "this run", "the article"])
