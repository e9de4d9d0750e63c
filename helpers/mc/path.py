"""One path of the Asian barrier option: the single definition the Numba backends compile.

The semantics, shared by every backend (the NumPy reference and the CUDA C kernels restate them):

* ``n_steps`` Euler steps of ``dt = T / n_steps``: ``s += mu * dt * s + sigma * s * sqrt(dt) * Z``;
* a running arithmetic average of the simulated prices ``s_1 .. s_n`` (``S0`` is not included);
* the path is knocked out the first time the running average is ``<= B``, and then pays nothing;
  the kernels keep the running *sum* and test ``sum <= B * n``, the same condition without a
  division per step;
* a surviving path pays ``exp(-r * T) * max(average - K, 0)`` at ``T``.

The normals of option ``i``, path ``p``, steps ``4j .. 4j+3`` come from
``philox4x32_10(j, p, i, 0; seed)`` through two Box-Muller pairs (``normals.box_muller``).

``euler_step`` and ``discounted_excess`` are the two pieces of arithmetic every Numba kernel
shares: ``discounted_payoff`` below (one path, numba.cuda's kernel) and the block kernel of
``numba_backend`` (a block of paths at once, vectorised).
"""

from __future__ import annotations

import math

import numpy as np
from numba.extending import register_jitable

from .jit import kernel_function
from .normals import box_muller
from .philox import philox4x32_10


@kernel_function
def euler_step(s, drift, vol, z):
    """One Euler step of geometric Brownian motion: ``s + drift s + vol s z``.

    Args:
        s: the price before the step, float64.
        drift: ``mu * dt``; vol: ``sigma * sqrt(dt)`` (float64).
        z: the step's standard normal (float32).
    """
    return s + (drift * s + vol * s * np.float64(z))


@kernel_function
def discounted_excess(total, n_steps, K, discount):
    """What a surviving path pays: ``discount * max(total / n_steps - K, 0)``.

    A NaN average (a path that overflowed) stays NaN, so ``price_options`` can name it; a zero
    excess stays exactly zero, never ``inf * 0`` (a large negative ``r T`` makes ``discount``
    infinite).
    """
    excess = total / n_steps - K
    return 0.0 if excess <= 0.0 else discount * excess


@register_jitable
def discounted_payoff(K, B, S0, sigma, mu, r, T, n_steps, key0, key1, option, path):
    """Discounted payoff of one simulated path.

    Args:
        K, B, S0: strike, barrier and spot, currency units (float64 scalars).
        sigma, mu, r: annualised volatility, drift and continuously compounded rate.
        T: maturity in years, ``> 0``.
        n_steps: number of Euler steps (and averaging dates), ``>= 1``.
        key0, key1: the Philox key (the seed), ``np.uint64`` below 2**32.
        option, path: the option's row and the path's number, ``np.uint64``.

    Returns:
        The path's payoff discounted to t = 0 (float64): zero if knocked out.
    """
    dt = T / n_steps
    drift = mu * dt
    vol = sigma * math.sqrt(dt)
    s = S0
    total = 0.0
    n = 0
    block = np.uint64(0)
    zero = np.uint64(0)
    one = np.uint64(1)
    while n < n_steps:
        x0, x1, x2, x3 = philox4x32_10(block, path, option, zero, key0, key1)
        block += one
        for pair in range(2):
            if pair == 0:
                za, zb = box_muller(x0, x1)
            else:
                za, zb = box_muller(x2, x3)
            for half in range(2):
                if n == n_steps:
                    break
                z = za if half == 0 else zb
                s = euler_step(s, drift, vol, z)
                n += 1
                total += s
                if total <= B * n:
                    return 0.0
    return discounted_excess(total, n_steps, K, math.exp(-r * T))
