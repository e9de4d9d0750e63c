"""A closed-form first guess of the price, for a network to correct (Chapter 10).

The course's option pays ``exp(-r T) (A - K)+`` on the average ``A`` of the Euler path
``S_i = S_{i-1} (1 + mu dt + sigma sqrt(dt) Z_i)``, ``i = 1..N``, unless the running average
falls to the barrier. Without the barrier the first two moments of ``A`` are exact sums over the
steps: ``E[S_i] = S0 q^i`` with ``q = 1 + mu dt`` and ``E[S_i S_j] = S0^2 g^i q^(j - i)`` for
``i <= j`` with ``g = q^2 + sigma^2 dt``. Writing ``q^i = exp(a i)`` and ``g^i = exp(b i)``, the
sums are power series in the small log growth rates ``a`` and ``b`` (``N |b| < 1`` on the
article's domain) whose coefficients are sums of integer powers, computed once: no branch, no
cancellation at ``mu = sigma = 0``, and autograd gives every derivative.

Matching a lognormal to those two moments (Levy, 1992) prices the option without its barrier
in Black's formula. ``helpers.networks.residual.ResidualPricer`` adds a network to that guess,
so the network learns only what the guess misses: the barrier and the lognormal's error.

References:
    E. Levy, "Pricing European average rate currency options", Journal of International Money
    and Finance 11 (1992).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from ..core.validate import check_integer, check_real

MATURITY = 1.0
"""Years to expiry of every option in the course (``helpers.mc.price_options``' default)."""

N_STEPS = 365
"""Euler steps per path, daily over the year (``helpers.mc.price_options``' default)."""

VARIANCE_FLOOR = 1e-14
"""Floor of the lognormal's variance ``v`` in ``levy_price``: at ``sigma = 0`` it is zero up to
rounding, and Black's formula divides by its square root."""

LOG_MONEYNESS_LIMIT = 1e3
"""``log(m1 / K)`` in ``levy_price`` where ``m1`` (``S0 = 0``) or ``K`` is zero: its limit,
infinite, as a finite number that takes ``N(d1)`` and ``N(d2)`` to exactly 0 or 1."""

SERIES_TERMS = 28
"""Terms of each power series; the last one is below 1e-17 of the sum for ``N |x| <= 2``."""


@lru_cache(maxsize=8)
def _coefficients(n_steps: int, terms: int = SERIES_TERMS) -> tuple[np.ndarray, np.ndarray]:
    """``P[k] = sum_i i^k / k!`` over ``i = 1..N`` and ``Q[k, l] = sum i^k m^l / (k! l!)`` over
    ``i, m >= 1``, ``i + m <= N``: the series' coefficients, shapes ``(terms,)`` and
    ``(terms, terms)``."""
    i = np.arange(1, n_steps + 1, dtype=np.float64)
    k = np.arange(terms)
    factorials = np.array([math.factorial(j) for j in range(terms)], dtype=np.float64)
    V = i[:, None] ** k[None, :] / factorials  # (N, terms)
    below = (i[:, None] + i[None, :]) <= n_steps  # (N, N): pairs with i + m <= N
    return V.sum(axis=0), V.T @ below.astype(np.float64) @ V


def _series(n_steps: int, dtype: torch.dtype, device: torch.device):
    """``_coefficients`` as tensors, with the powers ``0 .. terms - 1``. Made afresh on each
    call (a few hundred numbers): a cache of tensors would keep the fake tensors of a
    ``torch.export`` trace and hand them to later eager calls."""
    P, Q = _coefficients(n_steps)
    k = np.arange(len(P), dtype=np.float64)
    return tuple(torch.as_tensor(c, dtype=dtype, device=device) for c in (P, Q, k))


def _powers(a: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``a[..., None] ** k`` for the integer powers ``k = 0, 1, 2, ...``, whose first and
    second derivatives stay finite at ``a = 0`` (``mu = 0``; ``sigma = mu = 0`` for ``b``).

    Autograd differentiates ``a ** k`` twice into ``k (k - 1) a^(k - 2)``, which at ``a = 0``
    is ``0 * inf`` for ``k = 0`` and ``k = 1``: a NaN gamma at zero drift. Those two powers are
    written as ``1`` and ``a``, the same numbers bit for bit, with the right derivatives.
    """
    a = a[..., None]
    return torch.cat([torch.ones_like(a), a, a ** k[2:]], dim=-1)


def _moment_factors(
    sigma: torch.Tensor, mu: torch.Tensor, T: float, n_steps: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``N E[A] / S0`` and ``N^2 E[A^2] / S0^2``: the moments' sums without the spot, positive
    everywhere.

    The step ``dt`` enters as a tensor of ``sigma``'s dtype, not as a Python number:
    ``torch.onnx`` writes a Python number as a float32 constant, which would round it."""
    T = check_real("T", T, low=0.0, low_open=True, unit="years")
    n_steps = check_integer("n_steps", n_steps, low=1)
    P, Q, k = _series(n_steps, sigma.dtype, sigma.device)
    dt = torch.as_tensor(T / n_steps, dtype=sigma.dtype, device=sigma.device)
    a = torch.log1p(mu * dt)
    b = torch.log((1 + mu * dt) ** 2 + sigma**2 * dt)
    a_powers, b_powers = _powers(a, k), _powers(b, k)
    sum_q = a_powers @ P  # sum over i of q^i
    sum_g = b_powers @ P  # sum over i of g^i
    cross = ((b_powers @ Q) * a_powers).sum(-1)  # sum over i < j of g^i q^(j - i)
    return sum_q, sum_g + 2 * cross


def average_moments(
    S0: torch.Tensor, sigma: torch.Tensor, mu: torch.Tensor,
    T: float = MATURITY, n_steps: int = N_STEPS,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``E[A]`` and ``E[A^2]`` of the Euler path's average ``A = (S_1 + ... + S_N) / N``.

    Args:
        S0: spot, currency units; sigma, mu: annualised volatility and drift; any shape, one
            broadcast shape ``(...)``, float64 for full accuracy.
        T: maturity in years; n_steps: the Euler steps ``N``.

    Returns:
        ``(m1, m2)``, each of shape ``(...)``, in currency and currency squared.
    """
    sum_q, sum_squares = _moment_factors(sigma, mu, T, n_steps)
    return S0 * sum_q / n_steps, S0**2 * sum_squares / n_steps**2


def levy_price(x: torch.Tensor, T: float = MATURITY, n_steps: int = N_STEPS, *,
               cdf_dtype: torch.dtype = torch.float64) -> torch.Tensor:  # fmt: skip
    """Black's price of the average with a lognormal matched to its two moments; no barrier.

    ``exp(-r T) (m1 N(d1) - K N(d2))`` with ``v = log(m2 / m1^2)``, ``d1 = (log(m1 / K) + v / 2)
    / sqrt(v)`` and ``d2 = d1 - sqrt(v)``. It is exact when the payoff is linear (``K = 0``) or
    the path deterministic (``sigma = 0``, where it tends to ``exp(-r T) (m1 - K)+``), and it
    ignores the barrier, so it bounds the option's price from above up to the lognormal's error.
    Computed in float64 and returned in ``x``'s dtype; ``cdf_dtype=torch.float32`` evaluates
    only the two normal CDFs in float32 (ONNX Runtime has no float64 ``Erf``; the price then
    moves by at most ``(m1 + K)`` times float32's rounding of ``N``, about ``6e-8``).

    The edges of the domain are limits, taken explicitly: at ``S0 = 0`` the average is 0 and so
    is the price (and every derivative); at ``K = 0`` the price is ``exp(-r T) m1``; at
    ``sigma = 0`` the variance ``v`` is floored at ``VARIANCE_FLOOR``; at ``mu = 0`` the powers
    of the series keep finite second derivatives (``_powers``). Every constant that float32
    would round (``dt``, ``T``, the variance's floor) is a float64 tensor: ``torch.onnx`` writes
    a Python number as a float32 constant, which once turned a clamp to the smallest float64
    into a clamp to 0 and the exported price at ``S0 = 0`` into ``0 / 0``.

    Example:
        >>> x = torch.tensor([[0.0, 0.0, 100.0, 0.2, 0.0, 0.0]])
        >>> round(float(levy_price(x)), 4)  # K = 0: the mean of the average
        100.0

    Args:
        x: options, shape ``(..., 6)``, columns ``helpers.core.domain.COLUMNS``.
        T: maturity in years; n_steps: Euler steps of the Monte Carlo it stands in for.
        cdf_dtype: the dtype of ``N(d1)`` and ``N(d2)``.

    Returns:
        Prices, shape ``(...)``.
    """
    z = x.double()
    K, S0, sigma, mu, r = z[..., 0], z[..., 2], z[..., 3], z[..., 4], z[..., 5]
    sum_q, sum_squares = _moment_factors(sigma, mu, T, n_steps)
    m1 = S0 * sum_q / n_steps
    floor = torch.as_tensor(VARIANCE_FLOOR, dtype=z.dtype, device=z.device)
    v = torch.maximum(torch.log(sum_squares / sum_q**2), floor)  # m2 / m1^2, S0 cancelled
    width = v.sqrt()
    # log(m1 / K) where both are positive; at S0 = 0 (m1 = 0) or K = 0 its limit, -inf or
    # +inf, stands as -/+ LOG_MONEYNESS_LIMIT, so that N(d1) and N(d2) are exactly 0 or 1 and
    # nothing divides zero by zero (the price is then 0, or exp(-r T) m1 at K = 0). A
    # torch.where, not a clamp to the smallest float: torch.onnx writes a clamp's bound as
    # float32, where that float64 number is 0.
    both = (m1 > 0) & (K > 0)
    one = torch.ones_like(m1)
    limit = torch.where(m1 > 0, one, -one) * LOG_MONEYNESS_LIMIT
    log_moneyness = torch.where(
        both, torch.log(torch.where(both, m1, one)) - torch.log(torch.where(both, K, one)), limit
    )
    d1 = (log_moneyness + v / 2) / width
    n1 = torch.special.ndtr(d1.to(cdf_dtype)).double()
    n2 = torch.special.ndtr((d1 - width).to(cdf_dtype)).double()
    discount = torch.exp(-r * torch.as_tensor(T, dtype=z.dtype, device=z.device))
    return (discount * (m1 * n1 - K * n2)).to(x.dtype)
