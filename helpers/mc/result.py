"""The result type every Monte Carlo backend returns, and the moment-to-error arithmetic."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MCResult:
    """Monte Carlo prices of a batch of options.

    Attributes:
        price: shape ``(n,)``, the mean discounted payoff of each option, currency units.
        stderr: shape ``(n,)``, its standard error (sample standard deviation over
            ``sqrt(n_paths)``); NaN when ``n_paths == 1``, where it cannot be estimated.
        n_paths: paths simulated per option.
        n_steps: time steps per path.
        backend: the backend that produced the numbers.
        method: the estimator: ``"plain"`` (hard knock-out), ``"survival"`` or ``"smoothed"``
            (``helpers.mc.adjoint``).
        greeks: with ``greeks=True``, the derivatives of the price, each of shape ``(n,)``:
            ``"K"``, ``"B"``, ``"S0"``, ``"sigma"``, ``"mu"``, ``"r"`` (dP/d column, in price
            units per unit of the column) and ``"gamma"`` (d2P/dS0^2); else ``None``.
        greeks_stderr: their standard errors, the same keys; else ``None``.
    """

    price: np.ndarray
    stderr: np.ndarray
    n_paths: int
    n_steps: int
    backend: str
    method: str = "plain"
    greeks: dict[str, np.ndarray] | None = None
    greeks_stderr: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        head = zip(self.price[:4], self.stderr[:4], strict=True)
        pairs = ", ".join(f"{p:.4f} ± {e:.4f}" for p, e in head)
        more = ", ..." if self.price.size > 4 else ""
        method = "" if self.method == "plain" else f", method={self.method!r}"
        greeks = "" if self.greeks is None else f", greeks={list(self.greeks)}"
        return (
            f"MCResult([{pairs}{more}], n_paths={self.n_paths}, n_steps={self.n_steps}, "
            f"backend={self.backend!r}{method}{greeks})"
        )


def from_moments(
    total: np.ndarray, total_sq: np.ndarray, n_paths: int, n_steps: int, backend: str
) -> MCResult:
    """Builds an ``MCResult`` from per-option sums of payoffs and of squared payoffs.

    Args:
        total: shape ``(n,)``, sum of the discounted payoffs over the paths.
        total_sq: shape ``(n,)``, sum of their squares.
        n_paths: number of paths in each sum.
        n_steps: time steps per path (recorded in the result).
        backend: backend name (recorded in the result).
    """
    mean, stderr = mean_and_stderr(
        np.asarray(total, dtype=np.float64), np.asarray(total_sq, dtype=np.float64), n_paths
    )
    return MCResult(price=mean, stderr=stderr, n_paths=n_paths, n_steps=n_steps, backend=backend)


def mean_and_stderr(total, total_sq, n_paths: int):
    """Mean and standard error from sums of payoffs and of squared payoffs over ``n_paths`` paths.

    Works on NumPy and CuPy arrays alike (shape ``(n,)``, float64); the standard error is NaN
    when ``n_paths == 1``.
    """
    mean = total / n_paths
    if n_paths == 1:
        return mean, mean * float("nan")
    with np.errstate(over="ignore", invalid="ignore"):  # price_options names an overflowed row
        variance = (total_sq / n_paths - mean**2).clip(0.0, None) * (n_paths / (n_paths - 1))
    return mean, (variance / n_paths) ** 0.5
