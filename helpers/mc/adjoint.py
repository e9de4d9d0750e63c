"""Greeks of the Monte Carlo price itself, by a hand-written adjoint of each path (Chapter 8).

The hard knock-out makes a path's payoff a step function of the inputs, and a step function's
pathwise derivative is zero almost everywhere: differentiating the plain estimator misses the
barrier's whole contribution to delta, vega and dP/dB. Two estimators are smooth instead:

``"survival"`` (Glasserman and Staum, 2001)
    At each step the normal is drawn *conditioned on the path surviving the step*, and the
    path's weight is multiplied by the probability of that survival. With ``S_n`` the price
    after step ``n`` and ``n A_n`` the running sum (the code's ``s`` and ``S``), survival at step
    ``n + 1`` means ``(n + 1) A_{n+1} = n A_n + S_n (1 + mu dt + sigma sqrt(dt) Z) > (n + 1) B``,
    that is ``Z > a_n = ((n + 1) B - n A_n - S_n (1 + mu dt)) / (S_n sigma sqrt(dt))``, with
    probability ``p_n = Phi(-a_n)``; the conditioned draw is ``Z = -Phi^-1(V p_n)`` from the
    step's uniform ``V = Phi(-Z_0)``, ``Z_0`` the plain kernel's normal for that step (the same
    Philox counter, Box-Muller). More than ``FAR`` standard deviations from the barrier
    ``p_n = 1`` in float64 and the draw is ``Z_0`` itself, with no distribution function: a
    path that never comes near the barrier is the plain estimator's path, normal for normal,
    and the draw is continuous where a path crosses ``FAR``. No path is knocked out, the
    estimator is unbiased for the discretely monitored option, and it is smooth in every
    input, so its pathwise derivatives are unbiased too.
``"smoothed"``
    The plain paths (the same Box-Muller normals as ``price_options``), never knocked out, with
    the indicator of survival replaced by a logistic factor ``f(d_n)``,
    ``d_n = (A_n - B) / (width B)`` on the running average ``A_n``. Biased, by an amount that
    shrinks with ``width``; measured in Chapter 8.

The price of a path is ``exp(-r T) L max(A_N - K, 0)`` with ``L`` the product of its factors.
Each path is swept twice: forward, writing a small tape (``TAPE_COLUMNS`` float64 per step: the
price and running sum before the step, which the reverse sweep cannot rebuild from the end
because the survival step has no closed-form inverse, and the step's normal and distance to the
barrier, which would cost an inverse normal distribution to recompute), then in reverse,
propagating the adjoints of the price ``s``, the running sum ``S`` and ``log L`` back to the six
inputs. The tape belongs to the path in flight and is reused by the thread's next path: memory
grows with the steps, not with the paths. Every thread keeps its own sums of the per-path
values and derivatives (and their squares), added in a fixed order at the end, so no two threads
ever write the same accumulator (the race NAG describe in their GPU adjoint) and the result does
not depend on the number of threads.

Gamma is the central difference of the adjoint delta at ``S0 (1 +- GAMMA_BUMP)``, on the same
paths (common random numbers).

References:
    P. Glasserman and J. Staum, "Conditioning on one-step survival for barrier option
    simulations", Operations Research 49 (2001), 923-937.
"""

from __future__ import annotations

import math
import os

import numpy as np
from numba import njit, prange

from .jit import cached_njit
from .normals import box_muller
from .path import discounted_payoff
from .philox import philox4x32_10
from .special import norm_cdf, norm_pdf, norm_ppf
from .survival_block import GAMMA_BUMP

METHODS: tuple[str, ...] = ("survival", "smoothed")
"""The smooth estimators whose Greeks the adjoint computes."""

DEFAULT_WIDTH = 0.0005
"""Default width of the smoothed knock-out, as a fraction of the barrier: Chapter 8 measures its
bias below the price's standard error at 20,000 paths, 3% above the barrier."""


MAX_STEP_VOLATILITY = 0.1
"""Largest ``sigma sqrt(T / n_steps)`` accepted: beyond it an Euler step can turn a price
negative, where the survival condition changes direction."""

OUTPUTS: tuple[str, ...] = ("price", "K", "B", "S0", "sigma", "mu", "r", "gamma")
"""What a path yields, in the kernel's column order: its payoff, the six pathwise derivatives
(``helpers.core.domain.COLUMNS``) and its gamma."""

_TWO_POW_M32 = 2.0**-32
_U0 = np.uint64(0)

# Called, not inlined at Numba's IR level: their loops and branches, inlined into the sweeps'
# conditional blocks, trip a pedantic check of Numba's SSA pass (NumbaIRAssumptionWarning).
# The scalar sweeps do not vectorise anyway; LLVM still inlines what it finds worth it.
_philox = njit(cache=True)(philox4x32_10)
_norm_ppf = njit(cache=True)(norm_ppf)


FAR = 12.0
"""Beyond ``FAR`` standard deviations from the barrier a step's survival probability is 1 in
float64 (``Phi(12) = 1 - 2e-33``) and its density ``6e-33``: the step skips the distribution
functions, and its derivatives through the barrier vanish below float64 rounding."""

FAR_LOGISTIC = 50.0
"""Beyond ``d = FAR_LOGISTIC`` the smoothed factor's logarithm, ``-log(1 + exp(-d))``, is below
2e-22 and skipped, with its derivative."""

TAPE_COLUMNS = 4
"""What the forward sweep keeps per step: the price and the running sum before the step, the
step's normal and its distance to the barrier (``a`` for survival, ``d`` for smoothed)."""


@njit(inline="always")
def _word(x0, x1, x2, x3, k):
    if k == 0:
        return x0
    if k == 1:
        return x1
    if k == 2:
        return x2
    return x3


@njit(inline="always")
def _input_adjoints(grad, weight, payoff, T, dt, sqrt_dt, B_bar, s_bar, c_bar, vol_bar):
    """Writes d payoff / d (K, B, S0, sigma, mu, r) into ``grad`` from a reverse sweep's adjoints:
    ``c = 1 + mu dt`` and ``vol = sigma sqrt(dt)``, and ``r`` only discounts."""
    grad[0] = -weight
    grad[1] = B_bar
    grad[2] = s_bar
    grad[3] = vol_bar * sqrt_dt
    grad[4] = c_bar * dt
    grad[5] = -T * payoff


@njit(cache=True)
def survival_path(x, T, n_steps, key0, key1, option, path, tape, grad, sweep):
    """Payoff and pathwise derivatives of one survival-conditioned path.

    Args:
        x: the option, shape ``(6,)``, columns ``helpers.core.domain.COLUMNS``.
        T: maturity in years; n_steps: Euler steps.
        key0, key1: the Philox key (``np.uint64``); option, path: the counter's words.
        tape: scratch, float64 of shape ``(n_steps, TAPE_COLUMNS)``.
        grad: output, shape ``(6,)``: d payoff / d (K, B, S0, sigma, mu, r).
        sweep: whether to run the reverse sweep; without it ``grad`` stays zero.

    Returns:
        The path's discounted, weighted payoff (float64).
    """
    K, B, S0, sigma, mu, r = x[0], x[1], x[2], x[3], x[4], x[5]
    dt = T / n_steps
    c = 1.0 + mu * dt
    sqrt_dt = math.sqrt(dt)
    vol = sigma * sqrt_dt
    s, S, log_weight = S0, 0.0, 0.0
    grad[:] = 0.0
    z0 = z1 = z2 = z3 = np.float32(0.0)
    for n in range(n_steps):
        if n % 4 == 0:
            x0, x1, x2, x3 = _philox(np.uint64(n // 4), path, option, _U0, key0, key1)
            z0, z1 = box_muller(x0, x1)
            z2, z3 = box_muller(x2, x3)
        normal = np.float64(_word(z0, z1, z2, z3, n % 4))  # the plain kernel's normal Z_0
        g = s * vol
        threshold = (n + 1) * B - S  # survival: the next price exceeds it
        if g > 0.0:
            a = (threshold - s * c) / g  # survival: Z > a
            if a < -FAR:  # survival certain: Z_0 itself
                p = 1.0
                z = normal
            else:
                p = norm_cdf(-a)
                if p == 0.0:
                    return 0.0  # survival impossible: weight zero, and so are its derivatives
                v, v_c = norm_cdf(-normal), norm_cdf(normal)  # V = Phi(-Z_0), 1 - V
                q, q_c = v * p, v_c + v * norm_cdf(a)  # q = V p, 1 - q
                z = -_norm_ppf(q) if q < 0.5 else _norm_ppf(q_c)  # Z | Z > a
                log_weight += math.log(p)
        else:  # a price or volatility of zero: a deterministic step
            if not s * c > threshold:
                return 0.0
            a, z = -math.inf, 0.0
        tape[n, 0] = s
        tape[n, 1] = S
        tape[n, 2] = z
        tape[n, 3] = a
        s = s * (c + vol * z)
        S += s
    excess = S / n_steps - K
    if excess <= 0.0:
        return 0.0
    weight = math.exp(-r * T + log_weight)
    payoff = weight * excess
    if not sweep:
        return payoff
    # reverse sweep: adjoints of s_{n+1}, S_{n+1}, log L and of the step's parameters
    s_bar, S_bar, log_weight_bar = 0.0, weight / n_steps, payoff
    c_bar = vol_bar = B_bar = 0.0
    for n in range(n_steps - 1, -1, -1):
        s, z, a = tape[n, 0], tape[n, 2], tape[n, 3]
        s_next_bar = s_bar + S_bar  # S_{n+1} = S_n + s_{n+1}
        s_bar = s_next_bar * (c + vol * z)  # s_{n+1} = s_n (c + vol Z)
        c_bar += s_next_bar * s
        vol_bar += s_next_bar * s * z
        if a >= -FAR:  # near the barrier: Z and the weight depend on a
            g = s * vol
            p = norm_cdf(-a)
            v_p = norm_cdf(-z)  # q = V p = Phi(-Z)
            z_bar = s_next_bar * g
            q_bar = -z_bar / norm_pdf(z)  # Z = -Phi^-1(q)
            p_bar = q_bar * v_p / p + log_weight_bar / p  # q = V p, log L += log p
            a_bar = -p_bar * norm_pdf(a)  # p = Phi(-a)
            B_bar += a_bar * (n + 1) / g
            S_bar -= a_bar / g
            s_bar -= a_bar * (c / g + a / s)
            c_bar -= a_bar / vol
            vol_bar -= a_bar * a / vol
    _input_adjoints(grad, weight, payoff, T, dt, sqrt_dt, B_bar, s_bar, c_bar, vol_bar)
    return payoff


@njit(inline="always")
def _log_logistic(d):
    """``log(1 / (1 + exp(-d)))`` without overflow."""
    return -math.log1p(math.exp(-d)) if d > 0.0 else d - math.log1p(math.exp(d))


@njit(inline="always")
def _logistic(d):
    return 1.0 / (1.0 + math.exp(-d)) if d > 0.0 else math.exp(d) / (1.0 + math.exp(d))


@njit(cache=True)
def smoothed_path(x, T, n_steps, key0, key1, option, path, width, tape, grad, sweep):
    """Payoff and pathwise derivatives of one plain path with a logistic knock-out.

    Args as ``survival_path``, and ``width``: the logistic's scale as a fraction of ``B``.
    """
    K, B, S0, sigma, mu, r = x[0], x[1], x[2], x[3], x[4], x[5]
    dt = T / n_steps
    c = 1.0 + mu * dt
    sqrt_dt = math.sqrt(dt)
    vol = sigma * sqrt_dt
    scale = width * B
    s, S, log_weight = S0, 0.0, 0.0
    grad[:] = 0.0
    z0 = z1 = z2 = z3 = np.float32(0.0)
    for n in range(n_steps):
        if n % 4 == 0:
            x0, x1, x2, x3 = _philox(np.uint64(n // 4), path, option, _U0, key0, key1)
            z0, z1 = box_muller(x0, x1)
            z2, z3 = box_muller(x2, x3)
        z = np.float64(_word(z0, z1, z2, z3, n % 4))
        tape[n, 0] = s
        tape[n, 1] = S
        tape[n, 2] = z
        s = s * (c + vol * z)
        S += s
        d = (S - (n + 1) * B) / ((n + 1) * scale) if scale > 0.0 else math.inf
        tape[n, 3] = d
        if d < FAR_LOGISTIC:
            log_weight += _log_logistic(d)
    excess = S / n_steps - K
    if excess <= 0.0:
        return 0.0
    weight = math.exp(-r * T + log_weight)
    payoff = weight * excess
    if not sweep:
        return payoff
    s_bar, S_bar, log_weight_bar = 0.0, weight / n_steps, payoff
    c_bar = vol_bar = B_bar = 0.0
    for n in range(n_steps - 1, -1, -1):
        s, z, d = tape[n, 0], tape[n, 2], tape[n, 3]
        if d < FAR_LOGISTIC:
            m = (n + 1) * scale
            d_bar = log_weight_bar * _logistic(-d)  # d log f / dd = f(-d)
            S_bar += d_bar / m
            B_bar -= d_bar * (d + 1.0 / width) / B  # d = S_{n+1} / m - 1 / width, m ~ B
        s_next_bar = s_bar + S_bar
        s_bar = s_next_bar * (c + vol * z)
        c_bar += s_next_bar * s
        vol_bar += s_next_bar * s * z
    _input_adjoints(grad, weight, payoff, T, dt, sqrt_dt, B_bar, s_bar, c_bar, vol_bar)
    return payoff


@njit(cache=True)
def _path(method, x, T, n_steps, key0, key1, option, path, width, tape, grad, sweep):
    if method == 0:
        return survival_path(x, T, n_steps, key0, key1, option, path, tape, grad, sweep)
    return smoothed_path(x, T, n_steps, key0, key1, option, path, width, tape, grad, sweep)


def _moments(X, n_paths, n_steps, T, key0, key1, method, width, sweep, with_gamma, chunk):
    """Per-option sums and sums of squares of ``OUTPUTS`` over the paths, shape ``(n, 8)``."""
    n_options = X.shape[0]
    n_chunks = (n_paths + chunk - 1) // chunk
    n_out = len(OUTPUTS)
    sums = np.zeros((n_options, n_chunks, n_out))
    sums_sq = np.zeros((n_options, n_chunks, n_out))
    for work in prange(n_options * n_chunks):
        i = work // n_chunks
        c = work % n_chunks
        tape = np.empty((n_steps, TAPE_COLUMNS))
        grad = np.empty(6)
        grad_bumped = np.empty(6)
        x = X[i].copy()
        S0 = x[2]
        h = GAMMA_BUMP * S0 if S0 > 0.0 else GAMMA_BUMP
        acc = np.zeros(n_out)
        acc_sq = np.zeros(n_out)
        for p in range(c * chunk, min((c + 1) * chunk, n_paths)):
            path = np.uint64(p)
            option = np.uint64(i)
            x[2] = S0
            value = _path(method, x, T, n_steps, key0, key1, option, path, width, tape, grad,
                          sweep)  # fmt: skip
            gamma = 0.0
            if with_gamma:
                x[2] = S0 + h
                _path(method, x, T, n_steps, key0, key1, option, path, width, tape, grad_bumped,
                      True)  # fmt: skip
                delta_up = grad_bumped[2]
                x[2] = max(S0 - h, 0.0)
                _path(method, x, T, n_steps, key0, key1, option, path, width, tape, grad_bumped,
                      True)  # fmt: skip
                gamma = (delta_up - grad_bumped[2]) / (S0 + h - x[2])
            acc[0] += value
            acc_sq[0] += value * value
            for k in range(6):
                acc[1 + k] += grad[k]
                acc_sq[1 + k] += grad[k] * grad[k]
            acc[7] += gamma
            acc_sq[7] += gamma * gamma
        sums[i, c] = acc
        sums_sq[i, c] = acc_sq
    return sums.sum(axis=1), sums_sq.sum(axis=1)


_moments_parallel = cached_njit(_moments, "_moments_parallel", parallel=True)
_moments_serial = cached_njit(_moments, "_moments_serial")
_IMPORT_PID = os.getpid()

CHUNK = 256
"""Paths per unit of parallel work (fewer than the pricing kernel's: a path costs more)."""


def moments(
    X: np.ndarray,
    n_paths: int,
    n_steps: int,
    T: float,
    key0: np.uint64,
    key1: np.uint64,
    method: str,
    width: float,
    greeks: bool = True,
    with_gamma: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Sums and sums of squares over the paths of every entry of ``OUTPUTS``.

    Args:
        X: checked options, float64 of shape ``(n, 6)``.
        method: one of ``METHODS``; width: the smoothed method's width (fraction of ``B``).
        greeks: run the reverse sweep (without it, only the price columns are filled).
        with_gamma: also sweep each path at ``S0 (1 +- GAMMA_BUMP)`` for gamma (3x the work).

    Returns:
        Two float64 arrays of shape ``(n, 8)``, columns ``OUTPUTS``; the columns not computed
        are zero.
    """
    kernel = _moments_parallel if os.getpid() == _IMPORT_PID else _moments_serial
    return kernel(X, n_paths, n_steps, T, key0, key1, METHODS.index(method), width, greeks,
                  greeks and with_gamma, CHUNK)  # fmt: skip


@njit(cache=True)
def _curve(X, method, n_steps, T, key0, key1, path, width):
    tape = np.empty((n_steps, TAPE_COLUMNS))
    grad = np.empty(6)
    out = np.empty(X.shape[0])
    for k in range(X.shape[0]):
        x = X[k]
        if method < 0:
            out[k] = discounted_payoff(x[0], x[1], x[2], x[3], x[4], x[5], T, n_steps, key0, key1,
                                       np.uint64(0), path)  # fmt: skip
        else:
            out[k] = _path(method, x, T, n_steps, key0, key1, np.uint64(0), path, width, tape,
                           grad, False)  # fmt: skip
    return out


def payoff_curve(
    x: object,
    column: str,
    values: object,
    method: str,
    *,
    n_steps: int = 365,
    T: float = 1.0,
    seed: int = 0,
    path: int = 0,
    width: float = DEFAULT_WIDTH,
) -> np.ndarray:
    """One path's discounted payoff as one input moves, the random numbers held fixed.

    Args:
        x: the option's six inputs (``helpers.core.domain.COLUMNS``).
        column: the input that moves, a name of ``COLUMNS``.
        values: its values, shape ``(m,)``.
        method: ``"plain"`` (the hard knock-out) or one of ``METHODS``.
        n_steps, T, seed: as in ``helpers.mc.price_options``; path: the path's number.
        width: the smoothed knock-out's width, a fraction of ``B``.

    Returns:
        float64 array of shape ``(m,)``.

    Raises:
        ValueError: an unknown column or method.
    """
    from ..core.domain import COLUMNS
    from .philox import split_seed

    if column not in COLUMNS:
        raise ValueError(f"unknown column {column!r}: choose one of {list(COLUMNS)}")
    if method != "plain" and method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose 'plain' or one of {list(METHODS)}")
    values = np.asarray(values, dtype=np.float64)
    X = np.repeat(np.asarray(x, dtype=np.float64).reshape(1, 6), len(values), axis=0)
    X[:, COLUMNS.index(column)] = values
    code = -1 if method == "plain" else METHODS.index(method)
    return _curve(X, code, n_steps, T, *split_seed(seed), np.uint64(path), width)
