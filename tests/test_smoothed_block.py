"""helpers.mc.smoothed_block: the smoothed estimator and its adjoint in the block kernel's lanes,
against the one-path-at-a-time definition (``helpers.mc.adjoint.smoothed_path``) and torch
autograd on the same normals."""

from __future__ import annotations

import numpy as np
import pytest

from helpers.core.domain import ARTICLE_MC_EXAMPLE, COLUMNS
from helpers.mc import adjoint, autograd, block_moments
from helpers.mc.philox import split_seed

# the article's example, one option just above its barrier (many steps inside the logistic's
# reach), one below it, no barrier, zero volatility
MIXED = np.vstack([
    ARTICLE_MC_EXAMPLE,
    [100.0, 97.0, 100.0, 0.30, 0.05, 0.05],
    [100.0, 99.0, 99.5, 0.45, 0.0, 0.02],
    [100.0, 0.0, 110.0, 0.25, 0.1, 0.03],
    [90.0, 80.0, 100.0, 0.0, 0.1, 0.03],
])  # fmt: skip


@pytest.mark.parametrize("width", [adjoint.DEFAULT_WIDTH, 0.02])
@pytest.mark.parametrize("with_gamma", [False, True])
def test_block_and_one_path_at_a_time_agree_to_rounding(with_gamma, width):
    n_paths, n_steps, key = 37, 30, split_seed(11)  # 37: a block with lanes left empty
    block, block_sq = block_moments.moments(MIXED, n_paths, n_steps, 1.0, *key,
                                            with_gamma=with_gamma, method="smoothed",
                                            width=width)  # fmt: skip
    scalar, scalar_sq = adjoint.moments(MIXED, n_paths, n_steps, 1.0, *key, "smoothed", width,
                                        with_gamma=with_gamma)  # fmt: skip
    scale = np.abs(scalar).max(axis=0) + 1e-300  # each output's size over the options
    np.testing.assert_allclose(block / scale, scalar / scale, rtol=0, atol=1e-11)
    scale_sq = scalar_sq.max(axis=0) + 1e-300
    np.testing.assert_allclose(block_sq / scale_sq, scalar_sq / scale_sq, rtol=0, atol=1e-11)
    assert (block[:, 0] > 0).sum() >= 3


@pytest.mark.parametrize("n_steps", [30, 365])
def test_block_adjoint_equals_torch_autograd_on_the_same_normals(n_steps):
    points = MIXED[[0, 1, 2]]  # autograd's smoothed knock-out needs B > 0
    n_paths, seed, width = 48, 5, 0.02
    total, _ = block_moments.moments(points, n_paths, n_steps, 1.0, *split_seed(seed),
                                     with_gamma=False, method="smoothed",
                                     width=width)  # fmt: skip
    ref = autograd.price_and_greeks(points, n_paths, n_steps, seed=seed, method="smoothed",
                                    width=width)  # fmt: skip
    np.testing.assert_allclose(total[:, 0] / n_paths, ref["price"], rtol=1e-10, atol=1e-13)
    for k, name in enumerate(COLUMNS):
        np.testing.assert_allclose(total[:, 1 + k] / n_paths, ref["greeks"][name], rtol=1e-9,
                                   atol=1e-12, err_msg=name)  # fmt: skip


def test_price_options_runs_the_smoothed_estimator_in_the_lanes():
    from helpers.mc import price_options

    result = price_options(MIXED[:2], 64, 30, seed=4, method="smoothed", greeks=True)
    total, _ = block_moments.moments(MIXED[:2], 64, 30, 1.0, *split_seed(4), method="smoothed")
    np.testing.assert_allclose(result.price, total[:, 0] / 64, rtol=1e-14)
    np.testing.assert_allclose(result.greeks["gamma"], total[:, 7] / 64, rtol=1e-14)
