"""The survival estimator and its adjoint in the block kernel's lanes (Chapter 8).

``helpers.mc.adjoint.survival_path`` defines the estimator one path at a time, with libm's
``erfc`` and ``log`` and a branch per step; it runs at a fraction of the plain price kernel's
speed. Here the same estimator runs as Chapter 1's kernel does: ``LANES`` paths of one option
side by side, every per-step loop over the lanes free of branches (each test a select, the
distribution functions those of ``helpers.mc.lane_special``), so LLVM vectorises it:

1. **Normals**: the plain kernel's (``numba_backend.draw_normals``: Philox4x32-10 and
   Box-Muller), four steps of every lane at once;
2. **Forward**, per step: every lane's distance ``a`` to the barrier (``_distances``); if any
   lane of the block is within 12 standard deviations of it, every lane's ``p = Phi(-a)``,
   ``log p`` and conditioned normal ``z = -Phi^-1(V p)`` with ``V = Phi(-Z_0)`` from the plain
   normal ``Z_0`` (``lane_special.survival_draw``, ``_step_near``), ``Z_0`` itself selected
   for the lanes far from it; else the plain normals alone (``_step_far``: ``p = 1`` in
   float64 there, and no distribution function); then the Euler step, and the step's tape
   (``TAPE_ROWS`` values per lane) for the reverse sweep;
3. **Reverse**, per step, backwards: the adjoints of the price, the running sum and the
   log-weight, and of the step's parameters, as ``survival_path``'s reverse sweep computes
   them (``_back_near``), or through the Euler step alone at a step where no lane was near
   the barrier (``_back_far``).

The tape belongs to the block in flight: ``n_steps x TAPE_ROWS x LANES`` float64 (274 KiB for
365 steps), reused by the thread's next block, so memory grows with the steps, not the paths:
the survival step cannot be run backwards from its end state (its normal depends on the state
before it), so each step's state is kept. A path's price depends only on its own normals, so
the lanes change nothing: the block kernel and ``survival_path`` agree to rounding
(``tests/test_survival_block.py``). ``helpers.mc.block_moments`` runs the blocks over the
options and paths, and over the cores.

Precision: float64 throughout. Near the barrier ``a`` runs deep into the normal's tail, where
``p`` underflows float32 at ``a = 9.4`` and ``log p`` must stay finite far beyond;
``lane_special`` works with log-probabilities for that, and float64 keeps ``survival_path``'s
semantics to rounding. Far from the barrier a step costs what the plain kernel's step costs
(its normal, the Euler step) plus the tape: on 2026-12-06, on an AMD EPYC, when every step
drew a float64 inverse normal instead, the forward sweep cost 4.6 plain prices, most of it that
inverse normal. ``make bench``'s adjoint section (``R_price``) has what it costs now.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .lane_special import A_HIGHEST, A_LOWEST, normal_tails, survival_draw
from .numba_backend import draw_normals

LANES = 16
"""Paths side by side: two AVX-512 vectors of float64, four of AVX2."""

TAPE_ROWS = 6
"""Per step and lane: the price ``s`` before the step, the normal ``z``, and for the adjoint
of ``a``: ``mills = phi(a) / p``, ``shift * g`` (``g = s sigma sqrt(dt)``), ``1 / g`` and
``a`` itself. The last four are zero for a lane far from the barrier at a step where another
lane is near it, and are not written at a step where no lane is (the reverse sweep skips them
there)."""

GAMMA_BUMP = 0.01
"""Relative bump of S0 for gamma by central differences of the adjoint delta (the block
kernels' and ``helpers.mc.adjoint``'s)."""


@njit(inline="always")
def _forward(x, T, n_steps, key0, key1, option, first_path, n_live, z, tape, near, s, S, log_w,
             alive, a):  # fmt: skip
    """The forward sweep of one block: fills ``tape`` and ``near`` (whether any lane of a step
    came within ``-A_LOWEST`` standard deviations of the barrier), and leaves each lane's
    final running sum in ``S``, its log-weight in ``log_w`` and whether it lives in
    ``alive``; ``z`` (normals) and ``a`` are scratch."""
    B, S0, sigma, mu = x[1], x[2], x[3], x[4]
    dt = T / n_steps
    c = 1.0 + mu * dt
    vol = sigma * math.sqrt(dt)
    for lane in range(LANES):
        s[lane] = S0
        S[lane] = 0.0
        log_w[lane] = 0.0
        alive[lane] = lane < n_live
    for counter in range((n_steps + 3) // 4):
        draw_normals(z, counter, first_path, option, key0, key1)
        for k in range(min(4, n_steps - 4 * counter)):
            n = 4 * counter + k
            near[n] = _distances(n, B, c, vol, s, S, a, alive)
            if near[n]:
                _step_near(z[k], c, vol, a, tape[n], s, S, log_w, alive)
            else:
                _step_far(z[k], c, vol, tape[n], s, S)


@njit(inline="always")
def _distances(n, B, c, vol, s, S, a, alive):
    """Each lane's distance ``a`` to the barrier at step ``n``, in standard deviations of the
    step. A step with a price or volatility of zero is deterministic: its lane is marked dead
    here if it fails, and its ``a`` is ``A_LOWEST - 1`` (far). Returns whether any lane is
    within ``-A_LOWEST`` standard deviations of the barrier."""
    barrier = (n + 1) * B
    near = False
    for lane in range(LANES):
        sn = s[lane]
        g = sn * vol
        random = g > 0.0
        threshold = barrier - S[lane]
        distance = (threshold - sn * c) / (g if random else 1.0)
        a[lane] = distance if random else A_LOWEST - 1.0
        alive[lane] &= random | (sn * c > threshold)
        near |= a[lane] >= A_LOWEST
    return near


@njit(inline="always")
def _step_far(normals, c, vol, tape, s, S):
    """A step where no lane is near the barrier: survival is certain in float64 (``p = 1``,
    ``log p = 0``) and every lane takes the plain kernel's normal (``normals``, float32),
    without a distribution function. The tape's rows for ``a`` are not written: the reverse
    sweep skips them at such a step."""
    for lane in range(LANES):
        sn = s[lane]
        z = np.float64(normals[lane]) if sn * vol > 0.0 else 0.0
        tape[0, lane] = sn
        tape[1, lane] = z
        sn = sn * (c + vol * z)
        s[lane] = sn
        S[lane] += sn


@njit(inline="always")
def _step_near(normals, c, vol, a, tape, s, S, log_w, alive):
    """A step where some lane is near the barrier: every lane's uniform ``V = Phi(-Z_0)`` from
    its plain normal ``Z_0`` (``lane_special.normal_tails``), conditioned normal, survival
    probability and log-weight (``lane_special.survival_draw``), the plain normal itself
    selected for the lanes far from it (where ``p = 1`` and ``log p = 0`` exactly), and the
    tape's rows for the adjoint of ``a`` (zero for the lanes far from it)."""
    for lane in range(LANES):
        sn = s[lane]
        g = sn * vol
        random = g > 0.0
        z0 = np.float64(normals[lane])
        v, v_c = normal_tails(z0)
        z, p, log_p, mills, shift = survival_draw(v, v_c, a[lane])
        near = a[lane] >= A_LOWEST
        z = (z if near else z0) if random else 0.0
        log_w[lane] += log_p if random else 0.0
        alive[lane] &= (p > 0.0) | (not random)  # survival impossible: p = 0 in float64
        tape[0, lane] = sn
        tape[1, lane] = z
        tape[2, lane] = mills if near else 0.0
        tape[3, lane] = shift * g if near else 0.0
        tape[4, lane] = 1.0 / g if near else 0.0
        tape[5, lane] = min(a[lane], A_HIGHEST) if near else 0.0
        sn = sn * (c + vol * z)
        s[lane] = sn
        S[lane] += sn


ADJOINTS = ("S_bar", "s_bar", "c_bar", "vol_bar", "B_bar", "log_w_bar")
"""The reverse sweep's adjoints per lane, rows of one flat array ``adj`` (row ``k`` at
``k * LANES``): the running sum, the price (delta at the end), ``c = 1 + mu dt``, ``vol =
sigma sqrt(dt)``, the barrier, and the log-weight (the seed, constant). One array with rows at
constant offsets, not one array each: LLVM then proves the rows apart without runtime checks and
vectorises the loops."""

_S, _SP, _C, _VOL, _B, _LW = (k * LANES for k in range(len(ADJOINTS)))


@njit(inline="always")
def payoffs_and_seeds(K, r, T, n_steps, S, log_w, alive, weight, payoff, adj):
    """Each lane's discounted weight and payoff after a forward sweep, and the reverse sweep's
    seeds (rows ``S_bar`` and ``log_w_bar`` of ``adj``; zero for a lane that pays nothing):
    both block kernels' end of the forward sweep."""
    for lane in range(LANES):
        excess = S[lane] / n_steps - K
        pays = alive[lane] and excess > 0.0
        w = math.exp(-r * T + log_w[lane]) if pays else 0.0
        weight[lane] = w
        payoff[lane] = w * excess if pays else 0.0
        adj[_S + lane] = w / n_steps
        adj[_LW + lane] = payoff[lane]


@njit(inline="always")
def reverse_start(x, T, n_steps, adj):
    """Zeroes the adjoints a reverse sweep accumulates (rows ``s_bar``, ``c_bar``, ``vol_bar``
    and ``B_bar`` of ``adj``; ``S_bar`` and ``log_w_bar`` hold the seeds) and returns the
    step's ``(c, vol) = (1 + mu dt, sigma sqrt(dt))``: both block kernels' first lines."""
    dt = T / n_steps
    for lane in range(LANES):
        adj[_SP + lane] = 0.0
        adj[_C + lane] = 0.0
        adj[_VOL + lane] = 0.0
        adj[_B + lane] = 0.0
    return 1.0 + x[4] * dt, x[3] * math.sqrt(dt)


@njit(inline="always")
def _reverse(x, T, n_steps, tape, near, adj):
    """The reverse sweep of one block from the seeds in ``adj`` (rows ``S_bar`` and
    ``log_w_bar``: zero for a lane that pays nothing); leaves each lane's d payoff / d (B, S0,
    c, vol) in its rows ``B_bar``, ``s_bar`` (delta), ``c_bar`` and ``vol_bar``. Steps where
    no lane was near the barrier (``near``) go back through the Euler step alone."""
    c, vol = reverse_start(x, T, n_steps, adj)
    inv_vol = 1.0 / vol if vol > 0.0 else 0.0
    for n in range(n_steps - 1, -1, -1):
        if near[n]:
            _back_near(n, c, vol, inv_vol, tape[n], adj)
        else:
            _back_far(c, vol, tape[n], adj)


@njit(inline="always")
def _back_far(c, vol, tape, adj):
    """The reverse of ``_step_far``: through the Euler step only."""
    for lane in range(LANES):
        sn = tape[0, lane]
        z = tape[1, lane]
        s_next_bar = adj[_SP + lane] + adj[_S + lane]  # S_{n+1} = S_n + s_{n+1}
        adj[_SP + lane] = s_next_bar * (c + vol * z)  # s_{n+1} = s_n (c + vol Z)
        adj[_C + lane] += s_next_bar * sn
        adj[_VOL + lane] += s_next_bar * sn * z


@njit(inline="always")
def _back_near(n, c, vol, inv_vol, tape, adj):
    """The reverse of ``_step_near``: through the Euler step, and through ``a`` where a lane
    was near the barrier (``survival_path``'s reverse sweep, with the ratios the forward
    sweep taped)."""
    for lane in range(LANES):
        sn = tape[0, lane]
        z = tape[1, lane]
        a = tape[5, lane]
        s_next_bar = adj[_SP + lane] + adj[_S + lane]
        a_bar = s_next_bar * tape[3, lane] - adj[_LW + lane] * tape[2, lane]
        a_g = a_bar * tape[4, lane]
        adj[_B + lane] += a_g * (n + 1)
        adj[_S + lane] -= a_g
        adj[_SP + lane] = s_next_bar * (c + vol * z) - a_g * (c + a * vol)
        adj[_C + lane] += s_next_bar * sn - a_bar * inv_vol
        adj[_VOL + lane] += s_next_bar * sn * z - a_bar * a * inv_vol


# Called, not inlined at Numba's IR level into the driver's branch on the method: Philox's
# loops, inlined into a conditional block, trip a pedantic check of Numba's SSA pass
# (NumbaIRAssumptionWarning). Its own lane loops vectorise as before.
@njit(inline="always")
def survival_sweep(x, T, n_steps, key0, key1, option, first_path, n_live, sweep, scratch):
    """One block's payoffs (``scratch``'s ``payoff``) and, with ``sweep``, the adjoints of
    its parameters (``adj``'s rows, ``ADJOINTS``); ``weight`` keeps each paying lane's
    discounted survival weight."""
    z, tape, s, S, log_w, alive, adj, weight, payoff, near, a = scratch
    K, r = x[0], x[5]
    _forward(x, T, n_steps, key0, key1, option, first_path, n_live, z, tape, near, s, S, log_w,
             alive, a)  # fmt: skip
    payoffs_and_seeds(K, r, T, n_steps, S, log_w, alive, weight, payoff, adj)
    if sweep:
        _reverse(x, T, n_steps, tape, near, adj)
