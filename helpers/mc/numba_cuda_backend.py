"""numba.cuda backend: one CUDA thread per path, compiled from the same ``path.discounted_payoff``.

It runs on an NVIDIA GPU, or on a CPU under the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set
before Numba is imported), which executes every thread in Python: tiny sizes only, for tests.
Each thread writes its path's discounted payoff; the sums are taken on the host, in float64.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import cuda

from .path import discounted_payoff
from .philox import split_seed
from .result import MCResult, from_moments

THREADS_PER_BLOCK = 128


@cuda.jit
def _payoff_kernel(out, X, n_paths, n_steps, T, key0, key1):
    """``out[i * n_paths + p]``: discounted payoff of option ``i``, path ``p`` (grid-stride)."""
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for k in range(start, X.shape[0] * n_paths, stride):
        i = k // n_paths
        p = k % n_paths
        out[k] = discounted_payoff(
            X[i, 0], X[i, 1], X[i, 2], X[i, 3], X[i, 4], X[i, 5],
            T, n_steps, key0, key1, np.uint64(i), np.uint64(p),
        )  # fmt: skip


@cuda.jit
def _probe_kernel(out):
    out[0] = 1.0


@functools.cache
def is_usable() -> bool:
    """True when numba.cuda can compile and launch a kernel: a CUDA device, or the simulator.

    A driver alone is not enough on a real GPU: compiling needs NVVM (the ``numba-cuda[cu12]``
    wheel in the ``gpu`` extra, or conda's ``cuda-nvcc``). So a one-element kernel is compiled
    and launched once, and any failure (no device, broken driver, no NVVM) counts as unusable.
    """
    try:
        if not cuda.is_available():
            return False
        out = cuda.device_array(1, dtype=np.float64)
        _probe_kernel[1, 1](out)
        return bool(out.copy_to_host()[0] == 1.0)
    except Exception:
        return False


def price(X: np.ndarray, n_paths: int, n_steps: int, T: float, seed: int) -> MCResult:
    """Prices the checked float64 batch ``X`` of shape ``(n, 6)``; see ``mc.price_options``."""
    key0, key1 = split_seed(seed)
    total = X.shape[0] * n_paths
    blocks = min((total + THREADS_PER_BLOCK - 1) // THREADS_PER_BLOCK, 65_535)
    d_X = cuda.to_device(X)
    d_out = cuda.device_array(total, dtype=np.float64)
    _payoff_kernel[blocks, THREADS_PER_BLOCK](d_out, d_X, n_paths, n_steps, T, key0, key1)
    payoff = d_out.copy_to_host().reshape(X.shape[0], n_paths)
    return from_moments(payoff.sum(axis=1), (payoff**2).sum(axis=1), n_paths, n_steps, "numba-cuda")
