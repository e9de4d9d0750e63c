"""helpers.mc.gamma_study and the block kernels' gamma routes (Chapter 8)."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.domain import ARTICLE_MC_EXAMPLE
from helpers.mc import block_moments, gamma_study
from helpers.mc.philox import split_seed


def test_the_two_routes_agree_within_their_standard_errors():
    rows = gamma_study.gamma_by_route(ARTICLE_MC_EXAMPLE, 4_000, bumps=(0.02,), n_steps=50,
                                      seed=3)  # fmt: skip
    by = {(r["route"], r["option"]): r for r in rows}
    for option in range(len(ARTICLE_MC_EXAMPLE)):
        a, b = (by[route, option] for route in block_moments.GAMMA_ROUTES)
        assert np.isfinite(a["gamma"]) and a["stderr"] > 0
        assert abs(a["gamma"] - b["gamma"]) <= 4 * np.hypot(a["stderr"], b["stderr"])


def test_price_differences_of_a_smooth_price_recover_its_second_derivative():
    # far from the barrier and K far below the paths' average: the payoff is linear in S0 on
    # every path that pays, so each route's gamma is the same small number on the same paths
    x = np.array([[40.0, 1.0, 100.0, 0.2, 0.05, 0.03]])
    key = split_seed(9)
    gammas = [
        block_moments.moments(x, 256, 20, 1.0, *key, gamma_route=route)[0][0, 7] / 256
        for route in block_moments.GAMMA_ROUTES
    ]
    np.testing.assert_allclose(gammas, 0.0, atol=1e-9)


def test_a_spot_of_zero_has_gamma_zero_by_price_differences():
    x = np.array([[90.0, 0.0, 0.0, 0.3, 0.1, 0.03]])
    total, _ = block_moments.moments(x, 64, 20, 1.0, *split_seed(1),
                                     gamma_route="price differences")  # fmt: skip
    assert total[0, 7] == 0.0


@pytest.mark.parametrize("bump", [0.0, 1.0, float("nan"), "0.01"])
def test_a_bad_bump_is_refused_by_name(bump):
    with pytest.raises(ValueError, match="bump"):
        gamma_study.gamma_by_route(ARTICLE_MC_EXAMPLE, 10, bumps=(bump,))
