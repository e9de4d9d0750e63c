"""The block kernels' driver: blocks of ``LANES`` paths over the options, the paths and the cores.

Both smooth estimators run in the lanes (``helpers.mc.survival_block`` and
``helpers.mc.smoothed_block``); this module sweeps their blocks and sums what each path yields.
Every option's paths are cut into chunks of ``CHUNK``, each chunk's sums land in their own slot
and are added in a fixed order, so the result does not depend on the number of threads.
Gamma is the central difference of the adjoint delta at ``S0 (1 +- GAMMA_BUMP)`` on the same
uniforms (common random numbers): each block is swept three times (``GAMMA_ROUTES`` names the
alternative Chapter 8 measures).
"""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import replace

import numpy as np
from numba import prange
from numba.core.errors import NumbaIRAssumptionWarning

from .adjoint import DEFAULT_WIDTH, OUTPUTS
from .jit import cached_njit
from .philox import split_seed
from .result import MCResult, mean_and_stderr
from .smoothed_block import smoothed_sweep
from .survival_block import (
    _B,
    _C,
    _SP,
    _VOL,
    ADJOINTS,
    GAMMA_BUMP,
    LANES,
    TAPE_ROWS,
    survival_sweep,
)  # fmt: skip

CHUNK = 256
"""Paths per unit of parallel work (a multiple of ``LANES``)."""

N_OUTPUTS = len(OUTPUTS)
"""What a path yields (``helpers.mc.adjoint.OUTPUTS``): price, six Greeks, gamma."""

METHODS: tuple[str, ...] = ("survival", "smoothed")
"""The estimators in the lanes, in the kernel's numbering."""

GAMMA_ROUTES: tuple[str, ...] = ("delta differences", "price differences")
"""Gamma's routes, in the kernel's numbering: central differences of the adjoint delta at
``S0 (1 +- gamma_bump)`` (the default: three forward and three reverse sweeps per block), or
the price's second differences at the same spots (three forward sweeps, one reverse)."""


def _moments(X, n_paths, n_steps, T, key0, key1, method, width, sweep, with_gamma, gamma_bump,
             gamma_route, chunk):  # fmt: skip
    """Per-option sums and sums of squares over the paths of price, the six Greeks and gamma,
    shape ``(n, N_OUTPUTS)`` each (``helpers.mc.adjoint.OUTPUTS``' order)."""
    n_options = X.shape[0]
    n_chunks = (n_paths + chunk - 1) // chunk
    sums = np.zeros((n_options, n_chunks, N_OUTPUTS))
    sums_sq = np.zeros((n_options, n_chunks, N_OUTPUTS))
    for work in prange(n_options * n_chunks):
        i = work // n_chunks
        part = work % n_chunks
        scratch = (
            np.empty((4, LANES), dtype=np.float32), np.empty((n_steps, TAPE_ROWS, LANES)),
            np.empty(LANES), np.empty(LANES), np.empty(LANES), np.empty(LANES, dtype=np.bool_),
            np.empty(len(ADJOINTS) * LANES), np.empty(LANES), np.empty(LANES),
            np.empty(n_steps, dtype=np.bool_), np.empty(LANES),
        )  # fmt: skip
        adj, weight, payoff = scratch[6], scratch[7], scratch[8]
        delta_up = np.zeros(LANES)
        price_up = np.zeros(LANES)
        price_down = np.zeros(LANES)
        gamma = np.zeros(LANES)
        x = X[i].copy()
        S0 = x[2]
        h = gamma_bump * S0 if S0 > 0.0 else gamma_bump
        dt = T / n_steps
        sqrt_dt = math.sqrt(dt)
        acc = np.zeros(N_OUTPUTS)
        acc_sq = np.zeros(N_OUTPUTS)
        option = np.uint64(i)
        end = min((part + 1) * chunk, n_paths)
        for first in range(part * chunk, end, LANES):
            n_live = min(LANES, end - first)
            path = np.uint64(first)
            # with gamma, the block is swept at S0 + h, S0 - h, then S0 (common uniforms)
            for sweep_index in range(0 if with_gamma else 2, 3):
                x[2] = (S0 + h, max(S0 - h, 0.0), S0)[sweep_index]
                reverse = sweep if sweep_index == 2 else gamma_route == 0
                if method == 0:
                    survival_sweep(x, T, n_steps, key0, key1, option, path, n_live, reverse,
                                   scratch)  # fmt: skip
                else:
                    smoothed_sweep(x, T, n_steps, key0, key1, option, path, width, reverse,
                                   scratch)  # fmt: skip
                up, down = h, S0 - max(S0 - h, 0.0)  # down < h only where S0 < h
                for lane in range(LANES):
                    if sweep_index == 0:
                        delta_up[lane] = adj[_SP + lane]
                        price_up[lane] = payoff[lane]
                    elif sweep_index == 1 and gamma_route == 0:
                        gamma[lane] = (delta_up[lane] - adj[_SP + lane]) / (up + down)
                    elif sweep_index == 1:
                        price_down[lane] = payoff[lane]
                    elif with_gamma and gamma_route == 1:
                        # the second difference on the grid S0 - down, S0, S0 + up
                        slope_up = (price_up[lane] - payoff[lane]) / up
                        slope_down = (payoff[lane] - price_down[lane]) / down
                        curvature = 2.0 * (slope_up - slope_down) / (up + down)
                        gamma[lane] = curvature if down > 0.0 else 0.0
            for lane in range(n_live):
                value = payoff[lane]
                if sweep:
                    parts = (value, -weight[lane], adj[_B + lane], adj[_SP + lane],
                             adj[_VOL + lane] * sqrt_dt, adj[_C + lane] * dt, -T * value,
                             gamma[lane])  # fmt: skip
                else:
                    parts = (value, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
                for k in range(N_OUTPUTS):
                    acc[k] += parts[k]
                    acc_sq[k] += parts[k] * parts[k]
        sums[i, part] = acc
        sums_sq[i, part] = acc_sq
    return sums.sum(axis=1), sums_sq.sum(axis=1)


# error_model="numpy": a division by zero gives inf or NaN instead of raising, so that Numba
# adds no zero test, which would keep the lane loops' divisions (in a, d, the ratios of
# lane_special) from vectorising. Every divisor here is nonzero by construction or selected
# away.
_moments_parallel = cached_njit(_moments, "_moments_parallel", parallel=True,
                                error_model="numpy")  # fmt: skip
_moments_serial = cached_njit(_moments, "_moments_serial", error_model="numpy")
_IMPORT_PID = os.getpid()


def moments(
    X: np.ndarray, n_paths: int, n_steps: int, T: float, key0: np.uint64, key1: np.uint64,
    greeks: bool = True, with_gamma: bool = True, method: str = "survival",
    width: float = DEFAULT_WIDTH, gamma_bump: float = GAMMA_BUMP,
    gamma_route: str = "delta differences",
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Sums and sums of squares over the paths of price, the six Greeks and gamma.

    Args:
        X: checked options, float64 of shape ``(n, 6)``.
        n_paths, n_steps, T: paths per option, Euler steps, maturity in years.
        key0, key1: the Philox key (``helpers.mc.philox.split_seed``).
        greeks: run the reverse sweep (without it, only the price column is filled).
        with_gamma: also sweep each block at ``S0 (1 +- GAMMA_BUMP)`` for gamma (3x the work).
        method: one of ``METHODS``; width: the smoothed knock-out's width (fraction of ``B``).
        gamma_bump: the relative bump ``h / S0`` of gamma's differences.
        gamma_route: one of ``GAMMA_ROUTES``: central differences of the adjoint delta (a
            reverse sweep at each bumped spot), or second differences of the price (forward
            sweeps only at the bumped spots; gamma 0 where ``S0 = 0``).

    Returns:
        Two float64 arrays of shape ``(n, 8)``, columns ``helpers.mc.adjoint.OUTPUTS``; the
        columns not computed are zero.
    """
    kernel = _moments_parallel if os.getpid() == _IMPORT_PID else _moments_serial
    with warnings.catch_warnings():
        # The sweeps are inlined (a called sweep loses its lanes: LLVM no longer sees that its
        # scratch arrays are distinct, and the forward sweep ran 3.7 times slower, measured);
        # Philox inlined into the branch on the method trips a pedantic check of Numba's SSA
        # pass, which warns once, at compilation, of nothing the results show.
        warnings.simplefilter("ignore", NumbaIRAssumptionWarning)
        return kernel(X, n_paths, n_steps, T, key0, key1, METHODS.index(method), width,
                      greeks, greeks and with_gamma, gamma_bump,
                      GAMMA_ROUTES.index(gamma_route), CHUNK)  # fmt: skip


def price(
    X: np.ndarray,
    n_paths: int,
    n_steps: int,
    T: float,
    seed: int,
    method: str,
    width: float,
    greeks: bool,
    gamma: bool = True,
) -> MCResult:
    """Prices the checked batch ``X`` (shape ``(n, 6)``) with a smooth estimator, and with
    ``greeks`` its derivatives (and ``gamma``); see ``helpers.mc.price_options``. Both
    estimators run in the block kernels' lanes (the same numbers as ``helpers.mc.adjoint``'s
    ``survival_path`` and ``smoothed_path`` to rounding)."""
    total, total_sq = moments(X, n_paths, n_steps, T, *split_seed(seed), greeks=greeks,
                              with_gamma=gamma, method=method, width=width)  # fmt: skip
    mean, stderr = mean_and_stderr(total, total_sq, n_paths)
    result = MCResult(mean[:, 0], stderr[:, 0], n_paths, n_steps, "numba", method)
    if not greeks:
        return result
    names = OUTPUTS[1:] if gamma else OUTPUTS[1:-1]
    return replace(
        result,
        greeks={name: mean[:, 1 + k] for k, name in enumerate(names)},
        greeks_stderr={name: stderr[:, 1 + k] for k, name in enumerate(names)},
    )
