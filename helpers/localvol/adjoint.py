"""A hand-written adjoint of the basket's Monte Carlo stage (Numba), as NAG wrote theirs.

The Euler steps dominate the gradient's cost when torch records them (a tape of every step of
every path, or a recomputation of every block under checkpointing). Here the paths are swept
``WIDTH`` at a time, side by side: forward, keeping a short tape (per step, pair and path: the
normal, the local volatility, its slope in ``y`` and the position in the spline, 28 bytes),
then in reverse, recomputing the correlated normals from the tape's normals and accumulating
the adjoints of the local-volatility table's coefficients, of the Cholesky factor and of the
step. Every chunk of paths owns its accumulators (the spline coefficients are shared by all
paths: the race NAG's slides describe, and their fix), added in a fixed order at the end, so
the result does not depend on the number of threads.

The normals come from the Philox counters of Chapter 1's kernel, in its blocks of ``LANES``
paths, with the pair's index where Chapter 1 has the option's (``step_normals``): the torch
version of the same simulation (``helpers.localvol.basket`` with ``engine="torch"``) draws the
very same numbers, so the two agree path by path.

``MonteCarloStage`` wraps the kernel as a ``torch.autograd.Function``: torch differentiates the
quotes-to-table chain, this kernel the simulation, and one ``backward`` joins them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange

from ..mc.numba_backend import LANES, draw_normals
from ..mc.philox import split_seed

CHUNKS = 8
"""Chunks of paths, each with its own accumulators (the parallel loop runs over them): a
fixed number, so that the sums do not depend on the number of threads."""

GROUPS = 8
"""Blocks of ``LANES`` paths swept together: the reverse sweep runs through every step's
coefficient adjoints once per ``GROUPS * LANES`` paths, not once per ``LANES``, which divides
the memory traffic of those accumulators by ``GROUPS``."""

WIDTH = GROUPS * LANES
"""Paths swept side by side."""


@njit(parallel=True, cache=True)
def fill_normals(key0, key1, first_step, n_block, n_paths, m):
    """The normals of steps ``first_step ...`` for every path, shape ``(n_block, n_paths, m)``:
    pair ``i``'s normals of steps ``4 k ... 4 k + 3`` come from Philox counter
    ``(k, path, i, 0)`` (Chapter 1's layout, with the pair in the option's word)."""
    out = np.empty((n_block, n_paths, m))
    n_blocks = (n_paths + LANES - 1) // LANES
    for b in prange(n_blocks):
        z = np.empty((4, LANES), dtype=np.float32)
        first = b * LANES
        for i in range(m):
            for counter in range(first_step // 4, (first_step + n_block + 3) // 4):
                draw_normals(z, counter, np.uint64(first), np.uint64(i), key0, key1)
                for step in range(4):
                    n = 4 * counter + step - first_step
                    if 0 <= n < n_block:
                        for lane in range(min(LANES, n_paths - first)):
                            out[n, first + lane, i] = z[step, lane]
    return out


def step_normals(seed: int, first_step: int, n_block: int, n_paths: int, m: int) -> np.ndarray:
    """The simulation's standard normals for steps ``first_step`` to ``first_step + n_block - 1``,
    shape ``(n_block, n_paths, m)``, float64 (from float32 Box-Muller draws)."""
    return fill_normals(*split_seed(seed), first_step, n_block, n_paths, m)


@njit(parallel=True, cache=True)
def _sweep(coef, start, spacing, chol, dt, forwards, weights, strike, discount, key0, key1,
           n_paths, gradient):  # fmt: skip
    n_steps, m, n_intervals, _ = coef.shape
    last = n_intervals - 1.0
    n_blocks = (n_paths + WIDTH - 1) // WIDTH
    n_chunks = min(CHUNKS, n_blocks)
    sums = np.zeros((n_chunks, 2))
    coef_bar = np.zeros((n_chunks,) + coef.shape) if gradient else np.zeros((1, 1, 1, 1, 1))
    chol_bar = np.zeros((n_chunks, m, m))
    small = np.zeros((n_chunks, 2 * m + 3))  # forwards, weights, strike, discount, dt
    sqrt_dt = math.sqrt(dt)
    for c in prange(n_chunks):
        z = np.empty((m, 4, WIDTH), dtype=np.float32)
        y = np.empty((m, WIDTH))
        tape_z = np.empty((n_steps, m, WIDTH), dtype=np.float32)
        tape_sigma = np.empty((n_steps, m, WIDTH))
        tape_slope = np.empty((n_steps, m, WIDTH))
        tape_position = np.empty((n_steps, m, WIDTH))
        excess = np.empty(WIDTH)
        w_now = np.empty(WIDTH)
        sigma_bar = np.empty(WIDTH)
        w_bar = np.empty(WIDTH)
        dt_lanes = np.zeros(WIDTH)
        chol_lanes = np.zeros((m, m, WIDTH))
        for b in range(c * n_blocks // n_chunks, (c + 1) * n_blocks // n_chunks):
            first = b * WIDTH
            n_live = min(WIDTH, n_paths - first)
            y[:] = 0.0
            for n in range(n_steps):
                step = n % 4
                if step == 0:
                    for i in range(m):
                        for g in range(GROUPS):  # Chapter 1's blocks of LANES paths
                            draw_normals(z[i, :, g * LANES : (g + 1) * LANES], n // 4,
                                         np.uint64(first + g * LANES), np.uint64(i), key0,
                                         key1)  # fmt: skip
                for i in range(m):
                    st, sp = start[n, i], spacing[n, i]
                    w = w_now
                    for lane in range(WIDTH):
                        w[lane] = 0.0
                    for j in range(i + 1):
                        for lane in range(WIDTH):
                            w[lane] += chol[i, j] * z[j, step, lane]
                    for lane in range(WIDTH):
                        u = (y[i, lane] - st) / sp
                        k = min(max(math.floor(u), 0.0), last)
                        f = u - k
                        inside = 1.0 if 0.0 <= f <= 1.0 else 0.0
                        f = min(max(f, 0.0), 1.0)
                        ki = int(k)
                        c0, c1, c2, c3 = coef[n, i, ki, 0], coef[n, i, ki, 1], \
                            coef[n, i, ki, 2], coef[n, i, ki, 3]  # fmt: skip
                        sigma = c0 + f * (c1 + f * (c2 + f * c3))
                        y[i, lane] += sigma * (sqrt_dt * w[lane] - 0.5 * sigma * dt)
                        if gradient:
                            tape_sigma[n, i, lane] = sigma
                            tape_slope[n, i, lane] = inside * (c1 + f * (2.0 * c2 + 3.0 * f * c3))
                            tape_position[n, i, lane] = k + f  # interval and place in it
                    if gradient:
                        for lane in range(WIDTH):
                            tape_z[n, i, lane] = z[i, step, lane]
            for lane in range(n_live):
                basket = 0.0
                for i in range(m):
                    basket += weights[i] * forwards[i] * math.exp(y[i, lane])
                excess[lane] = basket - strike
                payoff = discount * excess[lane] if excess[lane] > 0.0 else 0.0
                sums[c, 0] += payoff
                sums[c, 1] += payoff * payoff
            if not gradient:
                continue
            for lane in range(WIDTH):  # payoff = discount (sum_i a_i F_i exp(y_i) - K)
                itm = lane < n_live and excess[lane] > 0.0
                for i in range(m):
                    growth = math.exp(y[i, lane]) if itm else 0.0
                    small[c, i] += discount * weights[i] * growth
                    small[c, m + i] += discount * forwards[i] * growth
                    y[i, lane] = discount * weights[i] * forwards[i] * growth  # now y_bar
                if itm:
                    small[c, 2 * m] -= discount
                    small[c, 2 * m + 1] += excess[lane]
            for n in range(n_steps - 1, -1, -1):
                for i in range(m):
                    sp = spacing[n, i]
                    for lane in range(WIDTH):  # the correlated normal, again: cheaper than a tape
                        w_now[lane] = 0.0
                    for j in range(i + 1):
                        for lane in range(WIDTH):
                            w_now[lane] += chol[i, j] * tape_z[n, j, lane]
                    for lane in range(WIDTH):
                        y_bar = y[i, lane]
                        sigma = tape_sigma[n, i, lane]
                        w = w_now[lane]
                        sigma_bar[lane] = y_bar * (sqrt_dt * w - sigma * dt)
                        dt_lanes[lane] += y_bar * sigma * (0.5 * w / sqrt_dt - 0.5 * sigma)
                        w_bar[lane] = y_bar * sigma * sqrt_dt
                        y[i, lane] = y_bar + sigma_bar[lane] * tape_slope[n, i, lane] / sp
                    for j in range(i + 1):  # per lane, not a reduction: it vectorises
                        for lane in range(WIDTH):
                            chol_lanes[i, j, lane] += w_bar[lane] * tape_z[n, j, lane]
                    for lane in range(WIDTH):  # the shared coefficients: a scatter
                        position = tape_position[n, i, lane]
                        ki = min(int(position), n_intervals - 1)
                        f = position - ki
                        coef_bar[c, n, i, ki, 0] += sigma_bar[lane]
                        coef_bar[c, n, i, ki, 1] += sigma_bar[lane] * f
                        coef_bar[c, n, i, ki, 2] += sigma_bar[lane] * f * f
                        coef_bar[c, n, i, ki, 3] += sigma_bar[lane] * f * f * f
        for lane in range(WIDTH):  # the chunk's lanes, added in a fixed order
            small[c, 2 * m + 2] += dt_lanes[lane]
            for i in range(m):
                for j in range(i + 1):
                    chol_bar[c, i, j] += chol_lanes[i, j, lane]
    return sums, coef_bar, chol_bar, small


def sweep(coef, start, spacing, chol, dt, forwards, weights, strike, discount, seed, n_paths,
          gradient):  # fmt: skip
    """Runs the kernel: per-chunk sums reduced in chunk order.

    Returns:
        ``(sum, sum_sq, bars)``: the payoffs' sum and sum of squares, and (with ``gradient``)
        the sums over paths of the adjoints ``{"coefficients", "chol", "forwards",
        "weights", "strike", "discount", "dt"}``.
    """
    m = len(forwards)
    sums, coef_bar, chol_bar, small = _sweep(coef, start, spacing, chol, float(dt), forwards,
                                             weights, float(strike), float(discount),
                                             *split_seed(seed), n_paths, gradient)  # fmt: skip
    total, total_sq = sums.sum(axis=0)
    if not gradient:
        return total, total_sq, None
    small = small.sum(axis=0)
    bars = {"coefficients": coef_bar.sum(axis=0), "chol": chol_bar.sum(axis=0),
            "forwards": small[:m], "weights": small[m : 2 * m], "strike": small[2 * m],
            "discount": small[2 * m + 1], "dt": small[2 * m + 2]}  # fmt: skip
    return total, total_sq, bars


class MonteCarloStage(torch.autograd.Function):
    """``price = mean of the discounted payoffs`` as a torch operation whose backward is the
    hand adjoint: its forward runs the kernel once, forward and reverse per path, and keeps the
    adjoints for ``backward``. Inputs: the table's coefficients, its grid (start, spacing:
    constants), the Cholesky factor, ``dt``, the forwards at expiry, the weights, the strike,
    the discount factor; then ``seed`` and ``n_paths``. Output: ``(price, sum of squares)``."""

    @staticmethod
    def forward(ctx, coef, start, spacing, chol, dt, forwards, weights, strike, discount, seed,
                n_paths):  # fmt: skip
        # C-contiguous float64 always, so that Numba compiles the kernel once
        arrays = [np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64)
                  for t in (coef, start, spacing, chol)]  # fmt: skip
        scalars = [float(t) for t in (dt, strike, discount)]
        gradient = any(ctx.needs_input_grad)
        vectors = [np.ascontiguousarray(t.detach().cpu().numpy(), dtype=np.float64)
                   for t in (forwards, weights)]  # fmt: skip
        total, total_sq, bars = sweep(*arrays, scalars[0], *vectors, scalars[1], scalars[2],
                                      seed, n_paths, gradient)  # fmt: skip
        ctx.bars = bars
        ctx.n_paths = n_paths
        like = coef
        return (torch.tensor(total / n_paths, dtype=like.dtype, device=like.device),
                torch.tensor(total_sq, dtype=like.dtype, device=like.device))  # fmt: skip

    @staticmethod
    def backward(ctx, price_bar, _):
        b, n = ctx.bars, ctx.n_paths

        def tensor(value):
            return price_bar * torch.as_tensor(value / n, dtype=price_bar.dtype,
                                               device=price_bar.device)  # fmt: skip

        return (tensor(b["coefficients"]), None, None, tensor(b["chol"]), tensor(b["dt"]),
                tensor(b["forwards"]), tensor(b["weights"]), tensor(b["strike"]),
                tensor(b["discount"]), None, None)  # fmt: skip
