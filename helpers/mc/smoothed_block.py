"""The smoothed estimator and its adjoint in the block kernel's lanes (Chapter 8).

``helpers.mc.adjoint.smoothed_path`` defines the estimator one path at a time: the plain paths
of ``price_options`` (the same Box-Muller normals from the same Philox counters), never knocked
out, each step's survival replaced by the logistic factor ``f(d_n) = 1 / (1 + exp(-d_n))`` of
``d_n = (A_n - B) / (width B)``. Here it runs as ``helpers.mc.survival_block`` runs the
survival estimator: ``LANES`` paths of one option side by side, every per-step loop over the
lanes free of branches, so LLVM vectorises it.

1. **Normals**: ``numba_backend.draw_normals``, four steps of every lane at once (the plain
   kernel's own function: the same float32 normals);
2. **Forward**, per step: the Euler step and running sum, every lane's ``d``, and, if any lane
   of the block has ``d < FAR_LOGISTIC``, every lane's ``log f(d)`` (zero where ``d`` is
   beyond) and ``dlog f / dd = f(-d)`` for the tape; beyond it in every lane, nothing more;
3. **Reverse**, per step, backwards: through the logistic factor where the step was near, then
   through the Euler step, as ``smoothed_path``'s reverse sweep does.

The logistic's ``exp`` and ``log1p`` are ``helpers.mc.lane_special``'s ``exp64`` and ``log64``
(with a correction that makes ``log(1 + e)`` accurate for small ``e``), within a few ulp of
libm's: the block and ``smoothed_path`` agree to rounding (``tests/test_smoothed_block.py``).
The tape is the survival block's (its first four rows), reused by the thread's next block.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .adjoint import FAR_LOGISTIC
from .lane_special import exp64, log64
from .numba_backend import draw_normals
from .survival_block import (
    _B,
    _C,
    _LW,
    _S,
    _SP,
    _VOL,
    LANES,
    payoffs_and_seeds,
    reverse_start,
)  # fmt: skip


@njit(inline="always")
def _log_logistic_parts(d):
    """``(log f(d), f(-d))`` for the logistic ``f(d) = 1 / (1 + exp(-d))``, without overflow:
    with ``e = exp(-|d|)``, ``log f(d) = min(d, 0) - log(1 + e)`` and ``f(-d) = e / (1 + e)``
    for ``d > 0``, ``1 / (1 + e)`` otherwise."""
    e = exp64(-abs(d))
    u = 1.0 + e
    log1p_e = log64(u) - ((u - 1.0) - e) / u  # log(1 + e), accurate for small e
    return min(d, 0.0) - log1p_e, (e if d > 0.0 else 1.0) / u


@njit(inline="always")
def _forward(x, T, n_steps, key0, key1, option, first_path, width, z, tape, near, s, S, log_w):
    """The forward sweep of one block: fills ``tape`` (rows: the price before the step, the
    normal, ``d`` and ``f(-d)``) and ``near`` (whether any lane had ``d < FAR_LOGISTIC``), and
    leaves each lane's final running sum in ``S`` and its log-weight in ``log_w``."""
    B, S0, sigma, mu = x[1], x[2], x[3], x[4]
    dt = T / n_steps
    c = 1.0 + mu * dt
    vol = sigma * math.sqrt(dt)
    scale = width * B
    for lane in range(LANES):
        s[lane] = S0
        S[lane] = 0.0
        log_w[lane] = 0.0
    for counter in range((n_steps + 3) // 4):
        draw_normals(z, counter, first_path, option, key0, key1)
        for k in range(min(4, n_steps - 4 * counter)):
            n = 4 * counter + k
            m = (n + 1) * scale
            barrier = (n + 1) * B
            row = tape[n]
            any_near = False
            for lane in range(LANES):
                sn = s[lane]
                zn = np.float64(z[k, lane])
                row[0, lane] = sn
                row[1, lane] = zn
                sn = sn * (c + vol * zn)
                s[lane] = sn
                S[lane] += sn
                d = (S[lane] - barrier) / m if scale > 0.0 else math.inf
                row[2, lane] = d
                any_near |= d < FAR_LOGISTIC
            near[n] = any_near
            if any_near:
                for lane in range(LANES):
                    d = row[2, lane]
                    log_f, slope = _log_logistic_parts(min(d, FAR_LOGISTIC))
                    counted = d < FAR_LOGISTIC
                    log_w[lane] += log_f if counted else 0.0
                    row[3, lane] = slope if counted else 0.0


@njit(inline="always")
def _reverse(x, T, n_steps, width, tape, near, adj):
    """The reverse sweep of one block from the seeds in ``adj`` (rows ``S_bar`` and
    ``log_w_bar``); leaves each lane's d payoff / d (B, S0, c, vol) in its rows ``B_bar``,
    ``s_bar``, ``c_bar`` and ``vol_bar`` (``survival_block.ADJOINTS``)."""
    B = x[1]
    c, vol = reverse_start(x, T, n_steps, adj)
    scale = width * B
    shift = 1.0 / width if width > 0.0 else 0.0
    for n in range(n_steps - 1, -1, -1):
        row = tape[n]
        if near[n]:
            m = (n + 1) * scale
            for lane in range(LANES):
                d_bar = adj[_LW + lane] * row[3, lane]  # d log f / dd = f(-d)
                adj[_S + lane] += d_bar / m
                adj[_B + lane] -= d_bar * (row[2, lane] + shift) / B  # d = S / m - 1 / width
        for lane in range(LANES):
            sn = row[0, lane]
            zn = row[1, lane]
            s_next_bar = adj[_SP + lane] + adj[_S + lane]
            adj[_SP + lane] = s_next_bar * (c + vol * zn)
            adj[_C + lane] += s_next_bar * sn
            adj[_VOL + lane] += s_next_bar * sn * zn


@njit(inline="always")
def smoothed_sweep(x, T, n_steps, key0, key1, option, first_path, width, sweep, scratch):
    """One block's payoffs and, with ``sweep``, the adjoints of its parameters: the smoothed
    estimator's ``survival_block.survival_sweep``, on the same ``scratch``."""
    z, tape, s, S, log_w, alive, adj, weight, payoff, near, _ = scratch
    _forward(x, T, n_steps, key0, key1, option, first_path, width, z, tape, near, s, S, log_w)
    for lane in range(LANES):
        alive[lane] = True  # never knocked out
    payoffs_and_seeds(x[0], x[5], T, n_steps, S, log_w, alive, weight, payoff, adj)
    if sweep:
        _reverse(x, T, n_steps, width, tape, near, adj)
