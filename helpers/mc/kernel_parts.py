"""The CPU kernel taken apart, to measure where its time goes (Chapter 1, ``make bench``).

Each function runs one part of the ``numba`` backend's work on a single thread and returns a
checksum (so the compiler cannot drop the work); ``helpers.benchmark.mc.time_kernel_parts``
times them. A normal drawn is a path-step's worth of random numbers, so every rate here is
comparable with the kernel's path-steps per second.

* ``libm_payoffs``: the kernel as it was before the block kernel, kept to measure against:
  one path at a time, Box-Muller through libm's ``log`` and ``cos`` (one call per value, so
  nothing vectorises), ``sin`` from the cosine with a ``sqrt`` and a sign branch.
* ``libm_normals``: that kernel's normals alone.
* ``block_philox``: the block kernel's Philox words alone, ``LANES`` paths at once.
* ``block_normals``: the block kernel's normals alone (Philox and the polynomial Box-Muller of
  ``helpers.mc.normals`` for ``LANES`` paths at once).
* ``block_steps``: the block kernel's Euler steps alone, on normals drawn once: the speed the
  kernel would reach if random numbers were free.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .normals import box_muller
from .numba_backend import LANES, draw_normals, euler_steps
from .path import discounted_excess, euler_step
from .philox import philox4x32_10

_TWO_POW_M32 = 2.0**-32
_TWO_PI = np.float32(2.0 * math.pi)


@njit(inline="always")
def _libm_box_muller(x0, x1):
    """The course's Box-Muller before the polynomial one: libm ``log``/``cos``, float32."""
    u1 = np.float32((np.float64(x0) + 0.5) * _TWO_POW_M32)
    u2 = np.float32(np.float64(x1) * _TWO_POW_M32)
    radius = math.sqrt(np.float32(-2.0) * math.log(u1))
    c = math.cos(_TWO_PI * u2)
    sine = math.sqrt(max(np.float32(1.0) - c * c, np.float32(0.0)))
    if u2 > 0.5:
        sine = -sine
    return radius * c, radius * sine


@njit(cache=True)
def libm_normals(n_paths: int, n_steps: int) -> float:
    """Draws ``n_paths * n_steps`` normals one path at a time through libm; returns their sum."""
    acc = 0.0
    for p in range(n_paths):
        for counter in range((n_steps + 3) // 4):
            x0, x1, x2, x3 = philox4x32_10(np.uint64(counter), np.uint64(p), np.uint64(0),
                                           np.uint64(0), np.uint64(1), np.uint64(0))  # fmt: skip
            za, zb = _libm_box_muller(x0, x1)
            zc, zd = _libm_box_muller(x2, x3)
            acc += za + zb + zc + zd
    return acc


@njit(cache=True)
def libm_payoffs(x: np.ndarray, n_paths: int, n_steps: int, T: float) -> float:
    """The former kernel: each path simulated alone with libm normals; returns the payoff sum.

    Args:
        x: one option, shape ``(6,)``, columns ``helpers.core.domain.COLUMNS``.
    """
    K, B, S0, sigma, mu, r = x[0], x[1], x[2], x[3], x[4], x[5]
    dt = T / n_steps
    drift, vol = mu * dt, sigma * math.sqrt(dt)
    discount = math.exp(-r * T)
    acc = 0.0
    for p in range(n_paths):
        s, total, n, out = S0, 0.0, 0, False
        for counter in range((n_steps + 3) // 4):
            x0, x1, x2, x3 = philox4x32_10(np.uint64(counter), np.uint64(p), np.uint64(0),
                                           np.uint64(0), np.uint64(1), np.uint64(0))  # fmt: skip
            za, zb = _libm_box_muller(x0, x1)
            zc, zd = _libm_box_muller(x2, x3)
            for z in (za, zb, zc, zd):
                if n < n_steps and not out:
                    s = euler_step(s, drift, vol, z)
                    n += 1
                    total += s
                    out = total <= B * n
            if out:
                break
        if not out:
            acc += discounted_excess(total, n_steps, K, discount)
    return acc


@njit(cache=True)
def block_philox(n_paths: int, n_steps: int) -> float:
    """Draws the Philox words of ``n_paths * n_steps`` normals ``LANES`` paths at a time."""
    words = np.empty((4, LANES), dtype=np.uint64)
    acc = 0.0
    for first in range(0, n_paths, LANES):
        for counter in range((n_steps + 3) // 4):
            for lane in range(LANES):
                path, zero = np.uint64(first + lane), np.uint64(0)
                x0, x1, x2, x3 = philox4x32_10(np.uint64(counter), path, zero, zero,
                                               np.uint64(1), zero)  # fmt: skip
                words[0, lane], words[1, lane] = x0, x1
                words[2, lane], words[3, lane] = x2, x3
            acc += words[0, 0] + words[3, LANES - 1]  # a checksum that costs nothing per lane
    return acc


@njit(cache=True)
def block_normals(n_paths: int, n_steps: int) -> float:
    """Draws ``n_paths * n_steps`` normals ``LANES`` paths at a time; returns a checksum."""
    z = np.empty((4, LANES), dtype=np.float32)
    acc = 0.0
    for first in range(0, n_paths, LANES):
        for counter in range((n_steps + 3) // 4):
            draw_normals(z, counter, np.uint64(first), np.uint64(0), np.uint64(1), np.uint64(0))
            acc += z[0, 0] + z[3, LANES - 1]  # a checksum that costs nothing per lane
    return acc


@njit(cache=True)
def block_steps(x: np.ndarray, n_paths: int, n_steps: int, T: float) -> float:
    """The block kernel's Euler steps, sums and knock-out masks on normals drawn once.

    Args:
        x: one option, shape ``(6,)``.

    Returns:
        The sum of the surviving paths' running sums (a checksum).
    """
    B, S0, sigma, mu = x[1], x[2], x[3], x[4]
    dt = T / n_steps
    drift, vol = mu * dt, sigma * math.sqrt(dt)
    z = np.empty((4, LANES), dtype=np.float32)
    for lane in range(LANES):  # fixed normals, drawn once
        z[0, lane], z[1, lane] = box_muller(np.uint64(lane), np.uint64(7 * lane))
        z[2, lane], z[3, lane] = box_muller(np.uint64(3 * lane), np.uint64(5 * lane))
    s = np.empty(LANES)
    total = np.empty(LANES)
    alive = np.empty(LANES, dtype=np.bool_)
    acc = 0.0
    for _ in range(0, n_paths, LANES):
        s[:] = S0
        total[:] = 0.0
        alive[:] = True
        n = 0
        for _counter in range((n_steps + 3) // 4):
            n = euler_steps(s, total, alive, z, n, n_steps, B, drift, vol)
        for lane in range(LANES):
            acc += total[lane] if alive[lane] else 0.0
    return acc
