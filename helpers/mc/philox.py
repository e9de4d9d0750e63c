"""Philox4x32-10, the counter-based random number generator shared by the Monte Carlo backends.

A counter-based generator turns a (counter, key) pair into random bits with no state to carry, so
any path of any option can draw its normals on its own: the key is the seed, the counter names the
option, the path and the block of four steps. The CPU (Numba), numba.cuda and CUDA C kernels use
the same layout, so they simulate the same paths from the same seed.

The function is plain Python (it also runs under the CUDA simulator and on NumPy ``uint64``
scalars), registered by ``jit.kernel_function`` so that Numba inlines it into the CPU kernels and
compiles it for numba.cuda; ``helpers.mc.normals`` turns its words into normals.

References:
    J. K. Salmon, M. A. Moraes, R. O. Dror and D. E. Shaw, "Parallel random numbers: as easy as
    1, 2, 3", SC'11 (2011). The known-answer vectors in ``tests/test_philox.py`` are theirs.
"""

from __future__ import annotations

import numpy as np

from .jit import kernel_function

_M0 = np.uint64(0xD2511F53)
_M1 = np.uint64(0xCD9E8D57)
_W0 = np.uint64(0x9E3779B9)
_W1 = np.uint64(0xBB67AE85)
_MASK = np.uint64(0xFFFFFFFF)
_SHIFT = np.uint64(32)


@kernel_function
def philox4x32_10(c0, c1, c2, c3, k0, k1):
    """Ten Philox rounds on a 4 x 32-bit counter with a 2 x 32-bit key.

    Args:
        c0, c1, c2, c3: counter words, ``np.uint64`` holding values below 2**32.
        k0, k1: key words, likewise.

    Returns:
        Four ``np.uint64`` random words below 2**32.
    """
    for _ in range(10):
        p0 = _M0 * c0
        p1 = _M1 * c2
        c0, c1, c2, c3 = (
            (p1 >> _SHIFT) ^ c1 ^ k0,
            p1 & _MASK,
            (p0 >> _SHIFT) ^ c3 ^ k1,
            p0 & _MASK,
        )
        k0 = (k0 + _W0) & _MASK
        k1 = (k1 + _W1) & _MASK
    return c0, c1, c2, c3


def split_seed(seed: int) -> tuple[np.uint64, np.uint64]:
    """Splits a 64-bit seed into the two 32-bit Philox key words ``(low, high)``."""
    return np.uint64(seed & 0xFFFFFFFF), np.uint64((seed >> 32) & 0xFFFFFFFF)
