"""helpers.mc.adjoint: hand-written adjoint Greeks of the smooth estimators, checked three ways."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from helpers.core.domain import ARTICLE_MC_EXAMPLE, COLUMNS
from helpers.mc import adjoint, autograd, price_options
from helpers.mc.philox import split_seed

# The article's Monte Carlo example and one option whose spot starts just above its barrier.
POINTS = np.vstack([ARTICLE_MC_EXAMPLE, [100.0, 97.0, 100.0, 0.30, 0.05, 0.05]])


@pytest.mark.parametrize("n_steps", [30, 365])
@pytest.mark.parametrize("method", adjoint.METHODS)
def test_hand_adjoint_equals_torch_autograd_on_the_same_random_numbers(method, n_steps):
    n_paths, seed = 64, 5
    total, _ = adjoint.moments(POINTS, n_paths, n_steps, 1.0, *split_seed(seed), method,
                               adjoint.DEFAULT_WIDTH, with_gamma=False)  # fmt: skip
    ref = autograd.price_and_greeks(POINTS, n_paths, n_steps, seed=seed, method=method)
    np.testing.assert_allclose(total[:, 0] / n_paths, ref["price"], rtol=1e-12)
    for k, name in enumerate(COLUMNS):
        np.testing.assert_allclose(total[:, 1 + k] / n_paths, ref["greeks"][name], rtol=1e-10,
                                   atol=1e-14, err_msg=name)  # fmt: skip


@njit
def _paired_differences(x, n_paths, n_steps, key0, key1, column, h):
    """Per path: the adjoint derivative along ``column`` and the central difference of the
    survival payoff with the same random numbers (common random numbers)."""
    tape = np.empty((n_steps, adjoint.TAPE_COLUMNS))
    grad = np.empty(6)
    out = np.empty((n_paths, 2))
    bumped = x.copy()
    for p in range(n_paths):
        path, option = np.uint64(p), np.uint64(0)
        adjoint.survival_path(x, 1.0, n_steps, key0, key1, option, path, tape, grad, True)
        out[p, 0] = grad[column]
        bumped[column] = x[column] + h
        up = adjoint.survival_path(bumped, 1.0, n_steps, key0, key1, option, path, tape, grad,
                                   False)  # fmt: skip
        bumped[column] = x[column] - h
        down = adjoint.survival_path(bumped, 1.0, n_steps, key0, key1, option, path, tape, grad,
                                     False)  # fmt: skip
        bumped[column] = x[column]
        out[p, 1] = (up - down) / (2 * h)
    return out


@pytest.mark.parametrize("point", range(len(POINTS)))
def test_adjoint_greeks_agree_with_crn_bump_and_revalue_within_4_se(point):
    x = POINTS[point]
    n_paths, n_steps = 2_000, 50
    for column, name in enumerate(COLUMNS):
        h = 1e-5 * max(abs(x[column]), 1.0)
        pairs = _paired_differences(x, n_paths, n_steps, *split_seed(3), column, h)
        adjoint_mean, bumped_mean = pairs.mean(axis=0)
        difference = pairs[:, 0] - pairs[:, 1]
        paired_se = difference.std(ddof=1) / np.sqrt(n_paths)
        combined = np.hypot(*(pairs.std(axis=0, ddof=1) / np.sqrt(n_paths)))
        assert abs(adjoint_mean - bumped_mean) <= 4 * combined, (name, pairs.mean(axis=0))
        # paired on the same paths, the difference is far smaller: the central difference's
        # truncation, O(h^2), and rounding
        assert abs(difference.mean()) <= 4 * paired_se + 1e-6 * abs(adjoint_mean), name


def test_survival_price_agrees_with_plain_and_has_a_smaller_stderr_near_the_barrier():
    near = POINTS[2:]
    plain = price_options(near, 20_000, n_steps=100, seed=1, backend="numba")
    survival = price_options(near, 20_000, n_steps=100, seed=2, method="survival")
    combined = np.hypot(plain.stderr, survival.stderr)
    assert np.all(np.abs(plain.price - survival.price) <= 4 * combined), (plain, survival)
    assert survival.stderr[0] < plain.stderr[0], (plain, survival)


def test_smoothed_bias_shrinks_with_the_width():
    # Same seed, same Box-Muller normals: smoothed minus plain is the smoothing's bias on the
    # same paths, with little noise left.
    near = POINTS[2:]
    plain = price_options(near, 4_000, n_steps=100, seed=4, backend="numba").price[0]
    smoothed = [
        price_options(near, 4_000, n_steps=100, seed=4, method="smoothed", width=w).price[0]
        for w in (0.05, 0.01, 0.002)
    ]
    bias = [price - plain for price in smoothed]
    assert abs(bias[0]) > abs(bias[1]) > abs(bias[2]), bias


def test_rate_greek_is_minus_maturity_times_price():
    res = price_options(POINTS, 500, n_steps=40, T=0.5, seed=2, greeks=True)
    np.testing.assert_allclose(res.greeks["r"], -0.5 * res.price, rtol=1e-12)
    assert set(res.greeks) == {*COLUMNS, "gamma"} == set(res.greeks_stderr)
    assert res.method == "survival" and np.all(res.greeks_stderr["S0"] > 0)


def test_gamma_matches_the_central_difference_of_adjoint_deltas():
    x = POINTS[:1]
    res = price_options(x, 400, n_steps=30, seed=8, greeks=True)
    h = adjoint.GAMMA_BUMP * x[0, 2]
    up = price_options(x + [0, 0, h, 0, 0, 0], 400, n_steps=30, seed=8, greeks=True)
    down = price_options(x - [0, 0, h, 0, 0, 0], 400, n_steps=30, seed=8, greeks=True)
    expected = (up.greeks["S0"] - down.greeks["S0"]) / (2 * h)
    np.testing.assert_allclose(res.greeks["gamma"], expected, rtol=1e-9)


def test_adjoint_does_not_depend_on_the_thread_count():
    import numba

    a = price_options(POINTS, 600, n_steps=20, seed=5, greeks=True)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = price_options(POINTS, 600, n_steps=20, seed=5, greeks=True)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a.price, b.price)
    for name in a.greeks:
        np.testing.assert_array_equal(a.greeks[name], b.greeks[name])


def test_greeks_false_leaves_the_plain_price_untouched(article_options):
    a = price_options(article_options, 1_000, n_steps=30, seed=3, backend="numba")
    b = price_options(article_options, 1_000, n_steps=30, seed=3, backend="numba", greeks=False)
    np.testing.assert_array_equal(a.price, b.price)
    assert a.greeks is None and a.method == "plain"


def test_empty_batch_with_greeks_gives_empty_arrays():
    res = price_options(np.zeros((0, 6)), 10, greeks=True)
    assert res.price.shape == (0,) and res.greeks["gamma"].shape == (0,)


# --- bad input: one test each -------------------------------------------------------------------


def test_unknown_method_is_refused():
    with pytest.raises(ValueError, match="unknown method 'brownian-bridge'"):
        price_options(POINTS, 10, method="brownian-bridge")


def test_greeks_of_the_plain_estimator_are_refused():
    with pytest.raises(ValueError, match="method 'plain' has no usable pathwise Greeks"):
        price_options(POINTS, 10, greeks=True, method="plain")


@pytest.mark.parametrize("width", [0.0, -0.01, float("nan"), "wide"])
def test_bad_width_is_refused(width):
    with pytest.raises(ValueError, match="width must be"):
        price_options(POINTS, 10, method="smoothed", width=width)


def test_smooth_estimator_on_another_backend_is_refused():
    with pytest.raises(ValueError, match="runs on backend 'numba'"):
        price_options(POINTS, 10, greeks=True, backend="numpy")


def test_a_step_too_large_for_the_smooth_estimators_is_refused():
    with pytest.raises(ValueError, match=r"row 0: sigma \* sqrt\(T / n_steps\)"):
        price_options([[100.0, 90.0, 100.0, 0.4, 0.05, 0.05]], 10, n_steps=4, greeks=True)


def test_autograd_reference_refuses_what_it_cannot_differentiate():
    with pytest.raises(ValueError, match="unknown method"):
        autograd.price_and_greeks(POINTS, 4, 4, method="bridge")
    with pytest.raises(ValueError, match="sigma > 0"):
        autograd.price_and_greeks([[100.0, 90.0, 100.0, 0.0, 0.05, 0.05]], 4, 4)


def test_autograd_plain_method_misses_the_barrier():
    # The hard knock-out's pathwise dP/dB is exactly zero: the indicator has no gradient.
    ref = autograd.price_and_greeks(POINTS[2:], 256, 30, seed=1, method="plain")
    assert ref["greeks"]["B"][0] == 0.0
    smooth = price_options(POINTS[2:], 2_000, n_steps=30, seed=1, greeks=True)
    assert smooth.greeks["B"][0] < -4 * smooth.greeks_stderr["B"][0]


def test_autograd_tape_is_measured_and_grows_with_the_paths():
    import doctest

    failures, tried = doctest.testmod(autograd, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
    sizes = []
    for n_paths in (8, 32):
        with autograd.tape_bytes() as saved:
            autograd.price_and_greeks(POINTS[:1], n_paths, 10)
        sizes.append(saved[0])
    assert sizes[1] > 3 * sizes[0], sizes
