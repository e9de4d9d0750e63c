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
    for n in range(1, n_steps + 1):
        z = rng.standard_normal(s.shape)
        s += drift * s + vol * s * z
        total += s
        alive &= total > B * n  # the running average total / n stays above the barrier
    payoff = np.where(alive, np.exp(-r * T) * np.maximum(total / n_steps - K, 0.0), 0.0)
    return from_moments(payoff.sum(axis=1), (payoff**2).sum(axis=1), n_paths, n_steps, "numpy")
