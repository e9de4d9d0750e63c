"""helpers.mc.control: the plain estimator with the path average and its square as controls."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.domain import ARTICLE_MC_EXAMPLE, sample_options
from helpers.mc import price_options

POINTS = np.array(
    [
        ARTICLE_MC_EXAMPLE[0],  # the first option of the article's Monte Carlo example
        [100.0, 0.0, 100.0, 0.4, 0.2, 0.0],  # no barrier, at the money
        [49.2, 48.5, 47.8, 0.26, 0.01, 0.16],  # the barrier just above the spot
        [60.0, 20.0, 90.0, 0.2, 0.05, 0.1],  # deep in the money
    ]
)


def test_control_variates_agree_with_the_plain_estimator_within_4_combined_se():
    control = price_options(POINTS, 8_192, seed=1, method="control")
    plain = price_options(POINTS, 400_000, seed=2)
    gap = np.abs(control.price - plain.price)
    assert np.all(gap <= 4 * np.hypot(control.stderr, plain.stderr) + 1e-12)
    assert control.method == "control"


def test_control_variates_bias_at_128_paths_is_below_its_standard_error():
    """Cross-fitted coefficients leave no bias: the mean of 64 estimates on 128 paths agrees
    with a 400,000-path plain price within 4 combined standard errors of that mean."""
    runs = [price_options(POINTS, 128, seed=100 + k, method="control") for k in range(64)]
    prices = np.array([r.price for r in runs])
    plain = price_options(POINTS, 400_000, seed=3)
    se_mean = prices.std(axis=0, ddof=1) / np.sqrt(len(runs))
    assert np.all(np.abs(prices.mean(axis=0) - plain.price) <= 4 * np.hypot(se_mean, plain.stderr))
    # the reported standard error describes the spread of the estimates, within a factor 2
    ratio = prices.std(axis=0, ddof=1) / np.mean([r.stderr for r in runs], axis=0)
    assert np.all(ratio[prices.std(axis=0) > 0] < 2)


def test_control_variates_cut_the_standard_error_several_fold_over_the_domain():
    X = sample_options(256, np.random.default_rng(5))
    control = price_options(X, 256, seed=1, method="control")
    plain = price_options(X, 256, seed=1)
    assert plain.stderr.mean() > 5 * control.stderr.mean()


def test_a_deterministic_path_gets_its_exact_price_with_no_error_but_rounding():
    x = np.array([[90.0, 0.0, 100.0, 0.0, 0.1, 0.05]])
    result = price_options(x, 64, method="control")
    expected = np.exp(-0.05) * (100.0 * np.mean((1 + 0.1 / 365) ** np.arange(1, 366)) - 90.0)
    assert result.price[0] == pytest.approx(expected, rel=1e-12)
    assert result.stderr[0] < 1e-6 * result.price[0]  # rounding only


def test_control_variates_refuse_greeks_and_other_backends():
    with pytest.raises(ValueError, match="prices only"):
        price_options(POINTS, 64, method="control", greeks=True)
    with pytest.raises(ValueError, match="runs on backend 'numba'"):
        price_options(POINTS, 64, method="control", backend="numpy")
    with pytest.raises(ValueError, match="n_paths >= 8"):
        price_options(POINTS, 4, method="control")
