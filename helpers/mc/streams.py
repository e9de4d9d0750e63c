"""The random numbers of whole paths as arrays, for the readable references and the tests.

The kernels draw their random numbers on the fly from Philox counters; the torch autograd
reference (``helpers.mc.autograd``) and the tests need the very same numbers as arrays. For
option ``i``, path ``p`` and step ``n``, the counter is ``(n // 4, p, i, 0)`` and the step takes
word ``n % 4`` of the output (``uniforms``), or the matching half of a Box-Muller pair
(``normals``: words 0 and 1 give steps ``4j`` and ``4j + 1``, words 2 and 3 the next two).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .normals import box_muller
from .philox import philox4x32_10, split_seed

TWO_POW_M32 = 2.0**-32


@njit(parallel=True, cache=True)
def _fill(out, key0, key1, as_normals):
    n_options, n_paths, n_steps = out.shape
    for work in prange(n_options * n_paths):
        i = work // n_paths
        p = work % n_paths
        for j in range((n_steps + 3) // 4):
            x0, x1, x2, x3 = philox4x32_10(np.uint64(j), np.uint64(p), np.uint64(i), np.uint64(0),
                                           key0, key1)  # fmt: skip
            if as_normals:
                z0, z1 = box_muller(x0, x1)
                z2, z3 = box_muller(x2, x3)
            else:
                z0 = (np.float64(x0) + 0.5) * TWO_POW_M32
                z1 = (np.float64(x1) + 0.5) * TWO_POW_M32
                z2 = (np.float64(x2) + 0.5) * TWO_POW_M32
                z3 = (np.float64(x3) + 0.5) * TWO_POW_M32
            values = (z0, z1, z2, z3)
            for k in range(4):
                n = 4 * j + k
                if n < n_steps:
                    out[i, p, n] = values[k]


def uniforms(n_options: int, n_paths: int, n_steps: int, seed: int) -> np.ndarray:
    """The uniform of every (option, path, step): ``(word + 0.5) / 2**32``, in ``(0, 1)``.

    Returns:
        float64 array of shape ``(n_options, n_paths, n_steps)``.
    """
    out = np.empty((n_options, n_paths, n_steps), dtype=np.float64)
    _fill(out, *split_seed(seed), False)
    return out


def normals(n_options: int, n_paths: int, n_steps: int, seed: int) -> np.ndarray:
    """The standard normal of every (option, path, step), as the plain kernels draw them.

    Returns:
        float32 array of shape ``(n_options, n_paths, n_steps)``.
    """
    out = np.empty((n_options, n_paths, n_steps), dtype=np.float32)
    _fill(out, *split_seed(seed), True)
    return out
