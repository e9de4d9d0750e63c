"""helpers.benchmark.kernel_tables: Chapter 1's tables are built from the figures given, and
name the machine of each column."""

import numpy as np
import pytest

from helpers.benchmark import Timing, kernel_tables
from helpers.core import config
from helpers.core.domain import ARTICLE_MC_PRICES
from helpers.core.machine import machine_line
from helpers.mc.quantlib_ref import QuantLibPrice
from helpers.mc.result import MCResult

TIMINGS = [
    Timing("batch", "numba", 16, 1_024, 365, 2, 0.5),
    Timing("batch", "numpy", 16, 2_000, 365, 1, 2.0),
]


def result(price: float, stderr: float, n_paths: int = 1_000) -> MCResult:
    return MCResult(np.array([price]), np.array([stderr]), n_paths, 365, "numba")


def test_backends_table_has_one_row_per_timing_with_its_rate():
    rows = kernel_tables.backends_table(TIMINGS).data.splitlines()
    assert rows[0] == "| backend | options | paths | steps | seconds | path-steps per second |"
    assert rows[2] == "| `numba` | 16 | 1,024 | 365 | 0.500 | 1.2e+07 |"
    assert len(rows) == 2 + len(TIMINGS)


def test_quantlib_gap_is_the_difference_over_the_combined_standard_error():
    gap, combined = kernel_tables.quantlib_gap(result(10.3, 0.3), QuantLibPrice(10.0, 0.4, 1.0))
    assert gap == pytest.approx(0.3) and combined == pytest.approx(0.5)


def test_quantlib_table_shows_the_gap_in_standard_errors_and_the_closed_form():
    checks = {"at the money": (result(10.3, 0.3), QuantLibPrice(10.0, 0.4, 1.0),
                               QuantLibPrice(9.5, 0.0, 0.001))}  # fmt: skip
    row = kernel_tables.quantlib_table(checks).data.splitlines()[2]
    assert row == "| at the money | 10.3000 ± 0.3000 | 10.0000 ± 0.4000 | +0.60 | 9.5000 |"


def test_numba_x_quantlib_divides_numba_per_thread_by_quantlibs_fastest_run():
    quantlib = [QuantLibPrice(1.0, 0.1, 2.0), QuantLibPrice(1.0, 0.1, 1.0)]
    ratio = kernel_tables.numba_x_quantlib(TIMINGS, quantlib, quantlib_paths=1_000)
    numba_per_thread = 16 * 1_024 * 365 / 0.5 / 2
    assert ratio == pytest.approx(numba_per_thread / (1_000 * 365 / 1.0))


def test_numba_x_quantlib_needs_a_numba_timing():
    with pytest.raises(ValueError, match="numba timing"):
        kernel_tables.numba_x_quantlib(TIMINGS[1:], [QuantLibPrice(1.0, 0.1, 1.0)], 1_000)


def test_measured_table_names_this_machine_and_quotes_the_articles_prices():
    example = MCResult(np.array([21.2, 0.85]), np.array([0.03, 0.004]), 512_000, 365, "numba")
    text = kernel_tables.measured_table(example, 1.5, TIMINGS, 42.0, config.TEST_SIZES).data
    assert text.splitlines()[0] == "|  | this run | the article |"
    assert f"| machine | {machine_line()} | NVIDIA V100 |" in text
    assert f"{ARTICLE_MC_PRICES[0]:.3f}, {ARTICLE_MC_PRICES[1]:.3f}" in text
    assert "| 512,000 | 2,048,000 |" in text and "| 42.0x |" in text
