"""Parallel CPU backend: blocks of paths vectorised by LLVM, chunks of blocks spread over cores.

The kernel simulates ``LANES`` paths of one option side by side, with their state in small arrays
(``s``, the running sum, an ``alive`` mask, and the block's four steps of normals). Each inner
loop runs over the lanes with no branch in its body, so LLVM turns it into SIMD instructions:

1. **Normals**: Philox4x32-10 and Box-Muller (``normals.box_muller``: polynomial ``log``,
   ``sin``, ``cos``, no libm call) for four steps of every lane at once;
2. **Euler steps**: ``path.euler_step`` for every lane, the running sum, and the knock-out test
   as a mask (``alive &= not (sum <= B n)``): a knocked-out lane keeps computing, masked, rather
   than branching. Once every lane of the block is out, the block stops early.

The arithmetic is ``path.discounted_payoff``'s (float64 prices, float32 normals from the same
Philox counters), so this backend, numba-cuda and the CUDA C kernel draw the same normals for
the same (seed, option, path, step).

Work is cut into fixed chunks of ``CHUNK`` paths of one option; each chunk's sums land in their
own slot and are added in a fixed order, so the result does not depend on the number of threads.

A process forked from one that already ran the parallel kernel (a PyTorch DataLoader worker, say)
cannot start Numba's OpenMP threads again, so forked processes run the same loop compiled without
threads: there, one worker per core is the parallelism.
"""

from __future__ import annotations

import math
import os

import numpy as np
from numba import njit, prange

from .jit import cached_njit
from .normals import box_muller
from .path import discounted_excess, euler_step
from .philox import philox4x32_10, split_seed
from .result import MCResult, from_moments

LANES = 16
"""Paths simulated side by side: a multiple of the float32 SIMD width of AVX2 (8) and AVX-512
(16). Measured here, 16 vectorises on both; 8 did not (LLVM unrolled it instead)."""

CHUNK = 1024
"""Paths per unit of parallel work (a multiple of ``LANES``)."""


_IMPORT_PID = os.getpid()


@njit(inline="always")
def block_scratch():
    """The scratch arrays of one block of ``LANES`` paths: four steps of normals ``z``
    (``(4, LANES)`` float32), the spots ``s``, the running sums ``total`` and the ``alive``
    mask (``(LANES,)`` each)."""
    z = np.empty((4, LANES), dtype=np.float32)
    return z, np.empty(LANES), np.empty(LANES), np.empty(LANES, dtype=np.bool_)


@njit(inline="always")
def draw_normals(z, counter, first_path, option, key0, key1):
    """Fills ``z`` (shape ``(4, LANES)``, float32) with the normals of Philox counter
    ``counter`` for paths ``first_path`` to ``first_path + LANES - 1`` of ``option``: four
    steps of every lane at once."""
    for lane in range(LANES):
        path = first_path + np.uint64(lane)
        x0, x1, x2, x3 = philox4x32_10(np.uint64(counter), path, option, np.uint64(0),
                                       key0, key1)  # fmt: skip
        z[0, lane], z[1, lane] = box_muller(x0, x1)
        z[2, lane], z[3, lane] = box_muller(x2, x3)


@njit(inline="always")
def euler_steps(s, total, alive, z, n, n_steps, B, drift, vol):
    """Advances every lane by the (up to four) steps of ``z`` after step ``n``: the spot ``s``,
    the running sum ``total`` and the knock-out mask ``alive`` (``LANES`` each). Returns the
    number of steps done."""
    for step in range(min(4, n_steps - n)):
        n += 1
        barrier = B * n
        for lane in range(LANES):
            s[lane] = euler_step(s[lane], drift, vol, z[step, lane])
            total[lane] += s[lane]
            alive[lane] &= not (total[lane] <= barrier)  # a NaN sum stays alive: it is named
    return n


@njit(inline="always")
def _block(x, T, n_steps, key0, key1, option, first_path, n_live, z, s, total, alive):
    """Sum and sum of squares of the discounted payoffs of paths ``first_path`` to
    ``first_path + n_live - 1`` (``n_live <= LANES``) of the option ``x`` (shape ``(6,)``).

    ``z`` (4, LANES) float32, ``s``, ``total`` (LANES,) float64 and ``alive`` (LANES,) bool are
    scratch arrays, reused from block to block.
    """
    K, B, S0, sigma, mu, r = x[0], x[1], x[2], x[3], x[4], x[5]
    dt = T / n_steps
    drift = mu * dt
    vol = sigma * math.sqrt(dt)
    for lane in range(LANES):
        s[lane] = S0
        total[lane] = 0.0
        alive[lane] = lane < n_live
    n = 0
    for counter in range((n_steps + 3) // 4):
        draw_normals(z, counter, first_path, option, key0, key1)
        n = euler_steps(s, total, alive, z, n, n_steps, B, drift, vol)
        if not alive.any():
            return 0.0, 0.0
    discount = math.exp(-r * T)
    acc = 0.0
    acc_sq = 0.0
    for lane in range(LANES):
        v = discounted_excess(total[lane], n_steps, K, discount) if alive[lane] else 0.0
        acc += v
        acc_sq += v * v
    return acc, acc_sq


def _moments(X, n_paths, n_steps, T, key0, key1, chunk):
    n_options = X.shape[0]
    n_chunks = (n_paths + chunk - 1) // chunk
    sums = np.zeros((n_options, n_chunks))
    sums_sq = np.zeros((n_options, n_chunks))
    for work in prange(n_options * n_chunks):
        i = work // n_chunks
        c = work % n_chunks
        z, s, total, alive = block_scratch()
        end = min((c + 1) * chunk, n_paths)
        acc = 0.0
        acc_sq = 0.0
        for first in range(c * chunk, end, LANES):
            v, v_sq = _block(X[i], T, n_steps, key0, key1, np.uint64(i), np.uint64(first),
                             min(LANES, end - first), z, s, total, alive)  # fmt: skip
            acc += v
            acc_sq += v_sq
        sums[i, c] = acc
        sums_sq[i, c] = acc_sq
    return sums.sum(axis=1), sums_sq.sum(axis=1)


_moments_parallel = cached_njit(_moments, "_moments_parallel", parallel=True)
_moments_serial = cached_njit(_moments, "_moments_serial")


def price(X: np.ndarray, n_paths: int, n_steps: int, T: float, seed: int) -> MCResult:
    """Prices the checked float64 batch ``X`` of shape ``(n, 6)``; see ``mc.price_options``."""
    key0, key1 = split_seed(seed)
    moments = _moments_parallel if os.getpid() == _IMPORT_PID else _moments_serial
    total, total_sq = moments(X, n_paths, n_steps, T, key0, key1, CHUNK)
    return from_moments(total, total_sq, n_paths, n_steps, "numba")
