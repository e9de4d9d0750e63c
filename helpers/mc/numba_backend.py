"""Parallel CPU backend: Numba compiles ``path.discounted_payoff`` and spreads paths over cores.

Work is cut into fixed chunks of ``CHUNK`` paths of one option; each chunk's sums land in their
own slot and are added in a fixed order, so the result does not depend on the number of threads.

A process forked from one that already ran the parallel kernel (a PyTorch DataLoader worker, say)
cannot start Numba's OpenMP threads again, so forked processes run the same loop compiled without
threads: there, one worker per core is the parallelism.
"""

from __future__ import annotations

import os

import numpy as np
from numba import njit, prange

from .path import discounted_payoff
from .philox import split_seed
from .result import MCResult, from_moments

CHUNK = 1024
"""Paths per unit of parallel work."""


_IMPORT_PID = os.getpid()


def _moments(X, n_paths, n_steps, T, key0, key1, chunk):
    n_options = X.shape[0]
    n_chunks = (n_paths + chunk - 1) // chunk
    sums = np.zeros((n_options, n_chunks))
    sums_sq = np.zeros((n_options, n_chunks))
    for work in prange(n_options * n_chunks):
        i = work // n_chunks
        c = work % n_chunks
        K, B, S0, sigma, mu, r = X[i, 0], X[i, 1], X[i, 2], X[i, 3], X[i, 4], X[i, 5]
        total = 0.0
        total_sq = 0.0
        for p in range(c * chunk, min((c + 1) * chunk, n_paths)):
            v = discounted_payoff(
                K, B, S0, sigma, mu, r, T, n_steps, key0, key1, np.uint64(i), np.uint64(p)
            )
            total += v
            total_sq += v * v
        sums[i, c] = total
        sums_sq[i, c] = total_sq
    return sums.sum(axis=1), sums_sq.sum(axis=1)


_moments_parallel = njit(parallel=True)(_moments)
_moments_serial = njit(_moments)


def price(X: np.ndarray, n_paths: int, n_steps: int, T: float, seed: int) -> MCResult:
    """Prices the checked float64 batch ``X`` of shape ``(n, 6)``; see ``mc.price_options``."""
    key0, key1 = split_seed(seed)
    moments = _moments_parallel if os.getpid() == _IMPORT_PID else _moments_serial
    total, total_sq = moments(X, n_paths, n_steps, T, key0, key1, CHUNK)
    return from_moments(total, total_sq, n_paths, n_steps, "numba")
