"""Gamma by finite differences on common random numbers: two routes, several bumps (Chapter 8).

The survival estimator's paths are continuous in ``S0`` but their payoff ``(A_N - K)^+`` has a
kink, so a path's second derivative is a Dirac mass there: no pathwise gamma exists, and gamma
is a difference. Two are cheap in the block kernels (``helpers.mc.block_moments``):

* **delta differences** (the default): the adjoint delta at ``S0 (1 +- h)``, differenced;
  three forward and three reverse sweeps per block with the price and its six Greeks;
* **price differences**: the price's second difference at ``S0 - hS0``, ``S0``, ``S0 + hS0``;
  three forward sweeps and one reverse.

On common random numbers each route's bias grows as ``h^2`` (the price's fourth derivative;
near the barrier, where it is large, faster), and its variance as ``1 / h`` (a path's slope
jumps where its average crosses ``K``, which happens between the bumps with probability about
proportional to ``h``): ``gamma_by_route`` measures both at several bumps.
"""

from __future__ import annotations

from ..core.validate import check_real
from .adjoint import MAX_STEP_VOLATILITY
from .block_moments import GAMMA_ROUTES, moments
from .checks import (
    check_count,
    check_maturity,
    check_options,
    check_seed,
    check_step_volatility,
)  # fmt: skip
from .philox import split_seed
from .result import mean_and_stderr


def gamma_by_route(
    X: object,
    n_paths: int,
    bumps: tuple[float, ...] = (0.0025, 0.01, 0.04),
    *,
    n_steps: int = 365,
    T: float = 1.0,
    seed: int = 0,
) -> list[dict]:
    """Gamma of each option by each of ``GAMMA_ROUTES`` at each relative bump, on the same paths.

    Args:
        X: options, shape ``(n, 6)``, columns ``helpers.core.domain.COLUMNS``.
        n_paths: paths per option (the survival estimator); n_steps, T: steps, years.
        bumps: relative bumps ``h`` of ``S0``, each in ``(0, 1)``.
        seed: the Philox seed, one for every route and bump (common random numbers).

    Returns:
        One dictionary per (route, bump, option): ``route``, ``bump``, ``option`` (row of
        ``X``), ``gamma`` and its standard error ``stderr`` (currency per currency squared).

    Raises:
        ValueError: a bad option, count, maturity, seed or bump, naming it.
    """
    options = check_options(X)
    n_paths = check_count("n_paths", n_paths)
    n_steps = check_count("n_steps", n_steps)
    T = check_maturity(T)
    key = split_seed(check_seed(seed))
    check_step_volatility(options, T, n_steps, MAX_STEP_VOLATILITY)
    bumps = tuple(check_real("bump", h, low=0.0, high=1.0, low_open=True, high_open=True)
                  for h in bumps)  # fmt: skip
    rows = []
    for route in GAMMA_ROUTES:
        for h in bumps:
            total, total_sq = moments(options, n_paths, n_steps, T, *key, gamma_bump=h,
                                      gamma_route=route)  # fmt: skip
            mean, stderr = mean_and_stderr(total, total_sq, n_paths)
            rows += [{"route": route, "bump": h, "option": i, "gamma": float(mean[i, 7]),
                      "stderr": float(stderr[i, 7])} for i in range(len(options))]  # fmt: skip
    return rows
