"""Control variates for the plain estimator: the path's average and its square, whose means are
known exactly.

The average ``A`` of an Euler path has exact first and second moments
(``helpers.mc.moments.average_moments``), and the payoff ``exp(-r T) (A - K)+`` on a surviving
path is close to a quadratic in ``A`` wherever the barrier is far. So each option's payoffs
``Y`` are regressed on the dimensionless controls ``c1 = A / E[A] - 1`` and
``c2 = (A / E[A])^2 - E[A^2] / E[A]^2`` (both of mean zero), and the price is
``mean(Y) - beta . mean(c)``. The variance left is the regression's residual variance: far
less than the payoff's deep in the money, where the payoff is almost linear in ``A``, and least
reduced near the money and near the barrier (Chapter 10 measures it, per option and on
average).

The coefficients are **cross-fitted**: the paths are split in two halves (even and odd path
numbers), ``beta`` is fitted on one half and applied to the other, and the two estimates are
averaged. Fitting ``beta`` on the very paths it corrects would bias the price: an option whose
few paths all finish in the money looks exactly linear in ``A`` to them, and the in-sample fit
then drops the value of the unseen paths below the strike. With ``beta`` from the other half,
each half's estimate is unbiased whatever ``beta`` is.

The kernel is ``numba_backend``'s, with every path run to the end: a knocked-out path still
needs its average for the controls. It draws the same Philox normals, so with the controls'
coefficients at zero it gives the plain estimator's numbers exactly.
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from numba import njit, prange

from .jit import cached_njit
from .numba_backend import LANES, block_scratch, draw_normals, euler_steps
from .path import discounted_excess
from .philox import split_seed
from .result import MCResult

SUMS = 10
"""Per-option, per-half sums the kernel returns: the count of paths, then the sums of ``Y``,
``c1``, ``c2``, ``Y^2``, ``c1^2``, ``c2^2``, ``c1 c2``, ``Y c1`` and ``Y c2``."""

MIN_PATHS = 8
"""Fewest paths the estimator takes: each half fits two coefficients and a mean."""

CHUNK = 1024
"""Paths per unit of parallel work."""

_IMPORT_PID = os.getpid()


@njit(inline="always")
def _block(x, m1, ratio2, T, n_steps, key0, key1, option, first_path, n_live, z, s, total,
           alive, out):  # fmt: skip
    """Adds the sums ``SUMS`` over paths ``first_path`` to ``first_path + n_live - 1`` of the
    option ``x`` to ``out`` (shape ``(2, SUMS)``, one row per half: even and odd path numbers;
    ``first_path`` is even); ``m1`` is ``E[A]``, ``ratio2`` is ``E[A^2] / E[A]^2``; ``z``,
    ``s``, ``total`` and ``alive`` are scratch arrays."""
    K, B, S0, sigma, mu, r = x[0], x[1], x[2], x[3], x[4], x[5]
    dt = T / n_steps
    drift = mu * dt
    vol = sigma * math.sqrt(dt)
    for lane in range(LANES):
        s[lane] = S0
        total[lane] = 0.0
        alive[lane] = True
    n = 0
    for counter in range((n_steps + 3) // 4):  # every path to the end: its average is needed
        draw_normals(z, counter, first_path, option, key0, key1)
        n = euler_steps(s, total, alive, z, n, n_steps, B, drift, vol)
    discount = math.exp(-r * T)
    for lane in range(n_live):
        y = discounted_excess(total[lane], n_steps, K, discount) if alive[lane] else 0.0
        a = total[lane] / n_steps / m1 if m1 > 0.0 else 1.0
        c1 = a - 1.0
        c2 = a * a - ratio2
        half = out[lane % 2]
        half[0] += 1.0
        half[1] += y
        half[2] += c1
        half[3] += c2
        half[4] += y * y
        half[5] += c1 * c1
        half[6] += c2 * c2
        half[7] += c1 * c2
        half[8] += y * c1
        half[9] += y * c2


def _sums(X, m1, ratio2, n_paths, n_steps, T, key0, key1, chunk):
    n_options = X.shape[0]
    n_chunks = (n_paths + chunk - 1) // chunk
    parts = np.zeros((n_options, n_chunks, 2, SUMS))
    for work in prange(n_options * n_chunks):
        i = work // n_chunks
        c = work % n_chunks
        z, s, total, alive = block_scratch()
        end = min((c + 1) * chunk, n_paths)
        for first in range(c * chunk, end, LANES):
            _block(X[i], m1[i], ratio2[i], T, n_steps, key0, key1, np.uint64(i),
                   np.uint64(first), min(LANES, end - first), z, s, total, alive,
                   parts[i, c])  # fmt: skip
    return parts.sum(axis=1)


_sums_parallel = cached_njit(_sums, "_sums_parallel", parallel=True)
# for processes forked after the parallel kernel ran (numba_backend)
_sums_serial = cached_njit(_sums, "_sums_serial")


def _moments(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts, means ``(n, 3)`` of ``(Y, c1, c2)`` and covariances ``(n, 3, 3)`` (divided by
    the count) from one half's sums ``(n, SUMS)``."""
    count = sums[:, 0].clip(1.0, None)
    mean = sums[:, 1:4] / count[:, None]
    second = np.empty((len(sums), 3, 3))
    for a, b, k in [(0, 0, 4), (1, 1, 5), (2, 2, 6), (1, 2, 7), (0, 1, 8), (0, 2, 9)]:
        second[:, a, b] = second[:, b, a] = sums[:, k] / count
    return count, mean, second - mean[:, :, None] * mean[:, None, :]


def _coefficients(cov: np.ndarray) -> np.ndarray:
    """The regression coefficients ``(n, 2)`` of ``Y`` on the controls; zero for a control
    that does not vary (a deterministic path)."""
    cc, cy = cov[:, 1:, 1:], cov[:, 1:, 0]
    scale = np.sqrt(np.einsum("nii->ni", cc)).clip(1e-300, None)
    usable = scale.min(axis=1) > 1e-12
    beta = np.zeros((len(cov), 2))
    if usable.any():
        unit = cc[usable] / (scale[usable, :, None] * scale[usable, None, :])
        rhs = cy[usable] / scale[usable]
        beta[usable] = np.linalg.solve(unit + 1e-12 * np.eye(2), rhs[..., None])[..., 0]
        beta[usable] /= scale[usable]
    return beta


def estimate(sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cross-fitted control-variate price and its standard error from the kernel's sums.

    Args:
        sums: shape ``(n, 2, SUMS)``, one row of ``SUMS`` per half of the paths.

    Returns:
        ``(price, stderr)``, each of shape ``(n,)``: the two halves' estimates, each with the
        coefficients fitted on the other half, weighted by their paths.
    """
    halves = [_moments(sums[:, h]) for h in (0, 1)]
    betas = [_coefficients(cov) for _, _, cov in halves]
    total = halves[0][0] + halves[1][0]
    price = np.zeros(len(sums))
    variance = np.zeros(len(sums))
    for h, (count, mean, cov) in enumerate(halves):
        beta = betas[1 - h]
        weight = count / total
        price += weight * (mean[:, 0] - np.einsum("ni,ni->n", beta, mean[:, 1:]))
        residual = (cov[:, 0, 0] - 2 * np.einsum("ni,ni->n", beta, cov[:, 1:, 0])
                    + np.einsum("ni,nij,nj->n", beta, cov[:, 1:, 1:], beta))  # fmt: skip
        variance += weight**2 * residual.clip(0.0, None) / (count - 1).clip(1.0, None)
    return price, np.sqrt(variance)


def price(X: np.ndarray, n_paths: int, n_steps: int, T: float, seed: int) -> MCResult:
    """Prices the checked float64 batch ``X`` (shape ``(n, 6)``) with the control variates; see
    ``mc.price_options(..., method="control")``.

    Raises:
        ValueError: ``n_paths`` below ``MIN_PATHS``.
    """
    if n_paths < MIN_PATHS:
        raise ValueError(f"method 'control' needs n_paths >= {MIN_PATHS}, got {n_paths}")
    from .moments import average_moments

    with torch.no_grad():
        columns = torch.as_tensor(X, dtype=torch.float64)
        m1, m2 = average_moments(columns[:, 2], columns[:, 3], columns[:, 4], T, n_steps)
    m1, m2 = m1.numpy(), m2.numpy()
    safe = np.where(m1 > 0, m1, 1.0)
    ratio2 = np.where(m1 > 0, m2 / safe**2, 1.0)
    key0, key1 = split_seed(seed)
    sums_of = _sums_parallel if os.getpid() == _IMPORT_PID else _sums_serial
    sums = sums_of(X, m1, ratio2, n_paths, n_steps, T, key0, key1, CHUNK)
    mean, stderr = estimate(sums)
    return MCResult(mean, stderr, n_paths, n_steps, "numba", "control")
