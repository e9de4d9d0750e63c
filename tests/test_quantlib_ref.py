"""Cross-checks against QuantLib: with B = 0 and mu = r the option is an arithmetic Asian call."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.mc import price_options, quantlib_ref

# Euler's weak error for GBM at dt = T/365 is O(sigma^2 dt) relative, about 1e-4 here: 0.2% of the
# price covers it with room to spare.
EULER_ALLOWANCE = 2e-3


@pytest.mark.parametrize("S0,K,sigma,r", [(100.0, 100.0, 0.2, 0.05), (120.0, 110.0, 0.35, 0.05)])
def test_numba_asian_matches_quantlib_mc_within_4_combined_se(S0, K, sigma, r):
    ours = price_options([[K, 0.0, S0, sigma, r, r]], 40_000, seed=21, backend="numba")
    ql = quantlib_ref.arithmetic_asian_mc(S0, K, sigma, r, n_paths=8_000, seed=5)
    tolerance = 4 * np.hypot(ours.stderr[0], ql.stderr) + EULER_ALLOWANCE * ql.price
    assert abs(ours.price[0] - ql.price) <= tolerance, (ours, ql)


def test_geometric_closed_form_is_a_lower_bound_of_the_arithmetic_price():
    S0, K, sigma, r = 100.0, 100.0, 0.2, 0.05
    ours = price_options([[K, 0.0, S0, sigma, r, r]], 40_000, seed=22, backend="numba")
    geometric = quantlib_ref.geometric_asian_analytic(S0, K, sigma, r)
    assert geometric.stderr == 0.0
    assert geometric.price < ours.price[0] + 4 * ours.stderr[0]


def test_fixings_off_whole_days_are_refused():
    with pytest.raises(ValueError, match="whole days"):
        quantlib_ref.arithmetic_asian_mc(100.0, 100.0, 0.2, 0.05, T=1.0, n_fixings=100)
