"""helpers.mc.kernel_parts: the pieces timed for Chapter 1 compute what the kernel computes."""

import numpy as np

from helpers.mc import kernel_parts, price_options
from helpers.mc.numba_backend import LANES


def test_former_libm_kernel_prices_what_the_block_kernel_prices(article_options):
    # Same Philox words (seed 1 is key (1, 0), option row 0), libm against polynomial
    # Box-Muller: the normals agree to float32 rounding, so the prices agree far inside 1 s.e.
    for x in article_options:
        n_paths = 2_000
        former = kernel_parts.libm_payoffs(x, n_paths, 50, 1.0) / n_paths
        block = price_options(x[None, :], n_paths, n_steps=50, seed=1, backend="numba")
        assert abs(former - block.price[0]) < 0.01 * block.stderr[0], (former, block)


def test_normals_and_steps_parts_return_finite_checksums():
    x = np.array([100.0, 0.0, 100.0, 0.2, 0.05, 0.05])
    assert abs(kernel_parts.libm_normals(64, 20)) < 64 * 20
    assert abs(kernel_parts.block_normals(4 * LANES, 20)) < 4 * LANES * 20
    assert 0 < kernel_parts.block_philox(4 * LANES, 20) < 4 * LANES * 20 * 2.0**33
    assert kernel_parts.block_steps(x, 2 * LANES, 20, 1.0) > 0
