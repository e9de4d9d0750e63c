"""helpers.mc.survival_block and helpers.mc.lane_special: the survival estimator and its adjoint
in the block kernel's lanes (issue 32), against the one-path-at-a-time definition
(``helpers.mc.adjoint.survival_path``), torch autograd, and SciPy's distribution functions."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.domain import ARTICLE_MC_EXAMPLE, COLUMNS
from helpers.mc import adjoint, autograd, block_moments, lane_special
from helpers.mc.philox import split_seed

# the article's example, one option just above its barrier, one knocked out almost surely, no
# barrier, zero volatility and zero spot (deterministic steps), a spot on the barrier
MIXED = np.vstack([
    ARTICLE_MC_EXAMPLE,
    [100.0, 97.0, 100.0, 0.30, 0.05, 0.05],
    [100.0, 99.0, 99.5, 0.45, 0.0, 0.02],
    [100.0, 0.0, 110.0, 0.25, 0.1, 0.03],
    [90.0, 80.0, 100.0, 0.0, 0.1, 0.03],
    [90.0, 0.0, 0.0, 0.3, 0.1, 0.03],
    [100.0, 100.0, 100.0, 0.2, 0.1, 0.03],
])  # fmt: skip


def test_distribution_functions_are_within_their_stated_errors():
    errors = lane_special.max_errors(points=200_001)
    for name, error in errors.items():
        assert error <= lane_special.MAX_ERROR[name], (name, error)


@pytest.mark.parametrize("with_gamma", [False, True])
def test_block_and_one_path_at_a_time_agree_to_rounding(with_gamma):
    n_paths, n_steps, key = 37, 30, split_seed(11)  # 37: a block with lanes left empty
    block, block_sq = block_moments.moments(MIXED, n_paths, n_steps, 1.0, *key,
                                             with_gamma=with_gamma)  # fmt: skip
    scalar, scalar_sq = adjoint.moments(MIXED, n_paths, n_steps, 1.0, *key, "survival",
                                        adjoint.DEFAULT_WIDTH, with_gamma=with_gamma)  # fmt: skip
    scale = np.abs(scalar).max(axis=0) + 1e-300  # each output's size over the options
    np.testing.assert_allclose(block / scale, scalar / scale, rtol=0, atol=1e-11)
    scale_sq = scalar_sq.max(axis=0) + 1e-300
    np.testing.assert_allclose(block_sq / scale_sq, scalar_sq / scale_sq, rtol=0, atol=1e-11)
    assert (block[:, 0] > 0).sum() >= 4


@pytest.mark.parametrize("functions", ["exact", "lanes"])
@pytest.mark.parametrize("n_steps", [30, 365])
def test_block_adjoint_equals_torch_autograd_on_the_same_uniforms(n_steps, functions):
    # "lanes": autograd through the kernel's own approximations of Phi and Phi^-1; "exact":
    # through PyTorch's log_ndtr and ndtri, which the approximations match to 1e-13
    points = MIXED[[0, 1, 2, 3, 4, 7]]  # autograd needs S0 > 0 and sigma > 0
    n_paths, seed = 48, 5
    total, _ = block_moments.moments(points, n_paths, n_steps, 1.0, *split_seed(seed),
                                      with_gamma=False)  # fmt: skip
    ref = autograd.price_and_greeks(points, n_paths, n_steps, seed=seed, method="survival",
                                    functions=functions)  # fmt: skip
    np.testing.assert_allclose(total[:, 0] / n_paths, ref["price"], rtol=1e-10, atol=1e-13)
    for k, name in enumerate(COLUMNS):
        np.testing.assert_allclose(total[:, 1 + k] / n_paths, ref["greeks"][name], rtol=1e-9,
                                   atol=1e-12, err_msg=name)  # fmt: skip


def test_block_kernel_does_not_depend_on_the_thread_count():
    import numba

    key = split_seed(2)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = block_moments.moments(MIXED, 600, 20, 1.0, *key)
        numba.set_num_threads(max(before, 2))
        two = block_moments.moments(MIXED, 600, 20, 1.0, *key)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])


@pytest.mark.parametrize("point", [0, 1, 2])  # the article's two options, one near its barrier
def test_block_greeks_equal_crn_central_differences_of_the_block_price(point):
    """The block kernel's adjoint against central differences of its own price, each bumped
    option priced in its own call at option index 0, so that both prices use the same uniforms
    (common random numbers): the survival estimator is smooth path by path, so the two agree
    to the differences' truncation error, far inside the Greeks' standard errors."""
    x = MIXED[point]
    n_paths, n_steps, key = 2_000, 50, split_seed(3)
    total, total_sq = block_moments.moments(x[None], n_paths, n_steps, 1.0, *key,
                                             with_gamma=False)  # fmt: skip
    adjoint_greeks = total[0, 1:7] / n_paths
    stderr = np.sqrt(np.maximum(total_sq[0, 1:7] / n_paths - adjoint_greeks**2, 0) / n_paths)
    for column, name in enumerate(COLUMNS):
        h = 1e-5 * max(abs(x[column]), 1.0)
        prices = []
        for sign in (1.0, -1.0):
            bumped = x.copy()
            bumped[column] += sign * h
            sums, _ = block_moments.moments(bumped[None], n_paths, n_steps, 1.0, *key,
                                             greeks=False)  # fmt: skip
            prices.append(sums[0, 0] / n_paths)
        difference = (prices[0] - prices[1]) / (2 * h)
        assert abs(adjoint_greeks[column] - difference) <= max(
            1e-4 * abs(difference), 1e-3 * stderr[column], 1e-9
        ), (name, adjoint_greeks[column], difference, stderr[column])
