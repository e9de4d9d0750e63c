"""Vectorised NumPy reference: all paths of all options advance one time step at a time.

It draws its normals from NumPy's own generator (PCG64), independent of the Philox stream the
other backends share, so agreement with them is a test of the random numbers as well as of the
path arithmetic. Memory grows as ``n_options * n_paths``: for small sizes only.
"""

from __future__ import annotations

import numpy as np

from .result import MCResult, from_moments


def price(X: np.ndarray, n_paths: int, n_steps: int, T: float, seed: int) -> MCResult:
    """Prices the checked float64 batch ``X`` of shape ``(n, 6)``; see ``mc.price_options``."""
    rng = np.random.default_rng(seed)
    K, B, S0, sigma, mu, r = (X[:, j : j + 1] for j in range(6))  # each (n, 1)
    dt = T / n_steps
    drift, vol = mu * dt, sigma * np.sqrt(dt)
    s = np.repeat(S0, n_paths, axis=1)
    total = np.zeros_like(s)
    alive = np.ones(s.shape, dtype=bool)
    # an overflow is not warned about here: price_options names the row it happened in
    with np.errstate(over="ignore", invalid="ignore"):
        for n in range(1, n_steps + 1):
            z = rng.standard_normal(s.shape)
            s += drift * s + vol * s * z
            total += s
            alive &= ~(total <= B * n)  # knocked out once the running average total / n <= B
        excess = total / n_steps - K
        paid = alive & ~(excess <= 0.0)  # a NaN excess (an overflowed path) stays NaN and is caught
        payoff = np.where(paid, np.exp(-r * T) * excess, 0.0)
        return from_moments(payoff.sum(axis=1), (payoff**2).sum(axis=1), n_paths, n_steps, "numpy")
