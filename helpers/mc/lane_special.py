"""``exp``, ``log``, the normal distribution and its inverse in float64, written for the lane
loops: no branch, no libm call, so that LLVM vectorises a loop that calls them.

The survival estimator (``helpers.mc.survival_block``) needs, at every step that a block of
paths takes near the barrier, the probability ``p = Phi(-a)`` that each path survives the step,
its logarithm, and the conditioned normal ``z = -Phi^-1(V p)``, with ``V = Phi(-Z_0)`` from the
step's plain normal ``Z_0``.
``helpers.mc.special`` computes them with ``math.erfc`` and
``math.log``: calls into libm, one value at a time, which keep a loop over lanes scalar. Here
every function is straight-line arithmetic on float64 (each test a select), so a loop over the
lanes of a block runs on whole vectors of paths:

* ``exp64`` and ``log64``: fdlibm's ``e_exp.c`` and ``e_log.c`` (Sun Microsystems, 1993; the
  algorithms of every C library since), the exponent taken apart and put together with integer
  operations on the float's bits (``_bits``, ``_from_bits``: LLVM's ``bitcast``, free);
* ``survival_draw(v, v_c, a)`` and ``normal_tails(z)``: ``Phi(-a)`` and ``log Phi(-a)``, and
  the uniform ``Phi(-z)`` of a plain normal with its complement, from W. J. Cody's rational
  Chebyshev approximations of ``erf`` and ``erfc`` (W. J. Cody, "Rational Chebyshev
  approximations for the error function", Mathematics of Computation 23 (1969), 631-637; the
  constants of netlib's ``specfun/erf``), each interval's ratio formed and the right one
  selected, written as ``exp(-a^2 / 2)`` times a ratio so that the logarithm never underflows:
  ``a = 40`` gives ``log p = -804.6``, where ``p`` itself is below the smallest float64;
* ``normal_quantile(q, log_small)``: Wichura's AS 241 (``helpers.mc.special.norm_ppf``), its
  tail branches fed with the logarithm already known, so that the deepest tail keeps its
  precision.

Accuracy, measured by ``max_errors`` (``python -m helpers.mc.lane_special``, about ten seconds)
against NumPy and SciPy (``scipy.special.ndtr``, ``log_ndtr``, ``ndtri``) on two million evenly
spaced points of each range the kernel uses (``ERROR_GRIDS``), on 2026-12-06:

* ``exp64``: at most 1 ulp on ``[-745, 0]``; ``log64``: at most 1 ulp on ``[2**-40, 2**40]``;
* ``Phi(-a)``: at most 5.8e-14 relative for ``a`` in ``[-12, 37]`` (2e-15 below ``a = 5.7``;
  the rounding of ``a / sqrt(2)`` grows with ``a^2``, in SciPy's ``ndtr`` too);
* ``log Phi(-a)``: at most 6.4e-16 relative (absolute where ``|log p| < 1``) on ``[-12, 40]``;
* ``normal_quantile``: at most 1.1e-14 relative for ``q`` in ``[1e-300, 1 - 2**-33]``.

``MAX_ERROR`` states bounds above these; ``tests/test_survival_block.py`` checks them.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

# --- the float's bits ----------------------------------------------------------------------


@intrinsic
def _bits(typingctx, x):
    """The IEEE-754 bits of a float64, as an int64 (a bitcast: no instruction)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, x):
    """The float64 whose IEEE-754 bits are the int64 ``x``."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


_MANTISSA = np.int64(0x000FFFFFFFFFFFFF)
_ONE_BITS = np.int64(0x3FF0000000000000)
_SQRT2 = math.sqrt(2.0)

# fdlibm e_exp.c and e_log.c
LN2_HI = 6.93147180369123816490e-01
LN2_LO = 1.90821492927058770002e-10
INV_LN2 = 1.44269504088896338700e00
EXP_P1 = 1.66666666666666019037e-01
EXP_P2 = -2.77777777770155933842e-03
EXP_P3 = 6.61375632143793436117e-05
EXP_P4 = -1.65339022054652515390e-06
EXP_P5 = 4.13813679705723846039e-08
LOG_LG1 = 6.666666666666735130e-01
LOG_LG2 = 3.999999999940941908e-01
LOG_LG3 = 2.857142874366239149e-01
LOG_LG4 = 2.222219843214978396e-01
LOG_LG5 = 1.818357216161805012e-01
LOG_LG6 = 1.531383769920937332e-01
LOG_LG7 = 1.479819860511658591e-01

EXP_LOWEST = -745.0
"""Below it ``exp64`` returns 0 (``exp(-745.14)`` is half the smallest subnormal)."""


@njit(inline="always")
def _power_of_two(k):
    """``2.0 ** k`` for an integer-valued float64 ``k`` in ``[-1022, 1023]``."""
    return _from_bits((np.int64(k) + np.int64(1023)) << np.int64(52))


@njit(inline="always")
def exp64(x):
    """``e ** x`` for a float64 ``x <= 709``, within 1 ulp; 0 below ``EXP_LOWEST``.

    fdlibm: ``x = k ln 2 + r`` with ``|r| <= ln(2) / 2``, a rational approximation of
    ``e ** r``, then ``2 ** k`` applied in two halves (so that results below the smallest
    normal float keep their subnormal bits).
    """
    low = x < EXP_LOWEST
    x = 0.0 if low else x
    k = math.floor(x * INV_LN2 + 0.5)
    hi = x - k * LN2_HI
    lo = k * LN2_LO
    r = hi - lo
    t = r * r
    c = r - t * (EXP_P1 + t * (EXP_P2 + t * (EXP_P3 + t * (EXP_P4 + t * EXP_P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    half = math.floor(0.5 * k)
    y = y * _power_of_two(half) * _power_of_two(k - half)
    return 0.0 if low else y


@njit(inline="always")
def log64(x):
    """Natural logarithm of a positive, normal, finite float64, within 1 ulp.

    fdlibm: ``x = 2 ** k m`` with ``m`` in ``[sqrt(1/2), sqrt(2))`` taken from the bits, then
    ``log m = 2 atanh(f / (2 + f))``, ``f = m - 1``, by a minimax polynomial. Zero, negative,
    subnormal and non-finite inputs give meaningless values: the kernel never passes them.
    """
    bits = _bits(x)
    k = np.float64((bits >> np.int64(52)) - np.int64(1023))
    m = _from_bits((bits & _MANTISSA) | _ONE_BITS)  # in [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m
    k = k + 1.0 if big else k
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LOG_LG2 + w * (LOG_LG4 + w * LOG_LG6))
    t2 = z * (LOG_LG1 + w * (LOG_LG3 + w * (LOG_LG5 + w * LOG_LG7)))
    R = t2 + t1
    hfsq = 0.5 * f * f
    return k * LN2_HI - ((hfsq - (s * (hfsq + R) + k * LN2_LO)) - f)


# --- the normal tail ---------------------------------------------------------------------------

SQRT_2PI = math.sqrt(2.0 * math.pi)
SQRT_HALF = math.sqrt(0.5)
INV_SQRT_PI = 1.0 / math.sqrt(math.pi)

# W. J. Cody's rational Chebyshev approximations of erf and erfc (CALERF, netlib specfun), in
# y = |a| / sqrt(2): erf on [0, 0.46875], erfc(y) exp(y^2) on (0.46875, 4] and beyond 4.
CODY_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)  # fmt: skip
CODY_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)  # fmt: skip
CODY_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
          2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
          2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)  # fmt: skip
CODY_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
          1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
          3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
CODY_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
          1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
CODY_Q = (2.56852019228982242e00, 1.87295284992346725e00, 5.27905102951428412e-1,
          6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip
CODY_SMALL, CODY_MIDDLE = 0.46875, 4.0
"""The ends of Cody's first two intervals, in ``y = |a| / sqrt(2)``."""

A_LOWEST = -12.0
"""Below ``a = -12`` survival is certain in float64 (``Phi(12) = 1 - 2e-33``): the functions
are evaluated at -12 (giving ``p = 1``, ``log p = 0`` exactly)."""

A_HIGHEST = 40.0
"""Above ``a = 40`` (``log p < -804``) the path is dead in any precision: the functions are
evaluated at 40."""


@njit(inline="always")
def _gaussian_factor(y):
    """``exp(-y^2)`` and the exponent ``y^2`` as ``(e, square, correction)`` with ``y^2 =
    square + correction`` exactly to float64's precision: ``y`` split as Cody does (``yh``, a
    multiple of 1/16, has an exact square), the two parts' sum compensated, so that ``e`` keeps
    its relative precision where ``y^2`` reaches 800."""
    yh = math.floor(16.0 * y) * 0.0625
    high = yh * yh
    low = (y - yh) * (y + yh)
    square = high + low
    correction = (high - square) + low
    return exp64(-square) * (1.0 - correction), square, correction


@njit(inline="always")
def _tail_ratio(y, e):
    """``erfc(y) exp(y^2) / 2`` for ``y >= 0`` (that is ``Phi(-a) exp(a^2 / 2)`` at ``a = y
    sqrt(2)``), from Cody's three intervals, each written as one ratio of polynomials; the
    interval that applies is selected, then divided once. ``e = exp(-y^2)``."""
    z = y * y
    # [0, 0.46875]: erfc = 1 - y N(z) / D(z), divided by e
    n1 = (((CODY_A[4] * z + CODY_A[0]) * z + CODY_A[1]) * z + CODY_A[2]) * z + CODY_A[3]
    d1 = (((z + CODY_B[0]) * z + CODY_B[1]) * z + CODY_B[2]) * z + CODY_B[3]
    # (0.46875, 4]: erfc exp(y^2) = N(y) / D(y), degree 8
    n2 = ((((((((CODY_C[8] * y + CODY_C[0]) * y + CODY_C[1]) * y + CODY_C[2]) * y
               + CODY_C[3]) * y + CODY_C[4]) * y + CODY_C[5]) * y + CODY_C[6]) * y
          + CODY_C[7])  # fmt: skip
    d2 = ((((((((y + CODY_D[0]) * y + CODY_D[1]) * y + CODY_D[2]) * y + CODY_D[3]) * y
               + CODY_D[4]) * y + CODY_D[5]) * y + CODY_D[6]) * y + CODY_D[7])  # fmt: skip
    # beyond 4: erfc exp(y^2) = (1/sqrt(pi) - N(u) / (u D(u))) / y in u = y^2, Cody's
    # polynomials in 1/y^2 multiplied through by u^5
    n3 = ((((CODY_P[4] * z + CODY_P[3]) * z + CODY_P[2]) * z + CODY_P[1]) * z
          + CODY_P[0]) * z + CODY_P[5]  # fmt: skip
    d3 = ((((CODY_Q[4] * z + CODY_Q[3]) * z + CODY_Q[2]) * z + CODY_Q[1]) * z
          + CODY_Q[0]) * z + 1.0  # fmt: skip
    small = y <= CODY_SMALL
    middle = y <= CODY_MIDDLE
    top = (d1 - y * n1) if small else (n2 if middle else INV_SQRT_PI * z * d3 - n3)
    bottom = d1 * e if small else (d2 if middle else z * d3 * y)
    return 0.5 * top / bottom


# --- the normal quantile (AS 241) ----------------------------------------------------------------

AS241 = (
    (2.5090809287301226727e3, 3.3430575583588128105e4, 6.7265770927008700853e4,
     4.5921953931549871457e4, 1.3731693765509461125e4, 1.9715909503065514427e3,
     1.3314166789178437745e2, 3.3871328727963666080e0),
    (5.2264952788528545610e3, 2.8729085735721942674e4, 3.9307895800092710610e4,
     2.1213794301586595867e4, 5.3941960214247511077e3, 6.8718700749205790830e2,
     4.2313330701600911252e1, 1.0),
    (7.74545014278341407640e-4, 2.27238449892691845833e-2, 2.41780725177450611770e-1,
     1.27045825245236838258e0, 3.64784832476320460504e0, 5.76949722146069140550e0,
     4.63033784615654529590e0, 1.42343711074968357734e0),
    (1.05075007164441684324e-9, 5.47593808499534494600e-4, 1.51986665636164571966e-2,
     1.48103976427480074590e-1, 6.89767334985100004550e-1, 1.67638483018380384940e0,
     2.05319162663775882187e0, 1.0),
    (2.01033439929228813265e-7, 2.71155556874348757815e-5, 1.24266094738807843860e-3,
     2.65321895265761230930e-2, 2.96560571828504891230e-1, 1.78482653991729133580e0,
     5.46378491116411436990e0, 6.65790464350110377720e0),
    (2.04426310338993978564e-15, 1.42151175831644588870e-7, 1.84631831751005468180e-5,
     7.86869131145613259100e-4, 1.48753612908506148525e-2, 1.36929880922735805310e-1,
     5.99832206555887937690e-1, 1.0),
)  # fmt: skip
"""AS 241's coefficients (``helpers.mc.special.norm_ppf``'s), highest power first: the central
branch's numerator and denominator, then the tail's for ``r <= 5``, then for ``r > 5``; for
``normal_quantile`` and its PyTorch mirror."""


@njit(inline="always")
def _horner8(t, c):
    """``c[0] t^7 + c[1] t^6 + ... + c[7]`` (eight coefficients, highest power first)."""
    return ((((((c[0] * t + c[1]) * t + c[2]) * t + c[3]) * t + c[4]) * t + c[5]) * t
            + c[6]) * t + c[7]  # fmt: skip


@njit(inline="always")
def normal_quantile(q, log_small):
    """``Phi^-1(q)``, Wichura's AS 241 (``helpers.mc.special.norm_ppf``) without branches.

    Args:
        q: the probability, float64 in ``[0, 1)`` (0 allowed when ``log_small`` carries it).
        log_small: ``log(min(q, 1 - q))``, computed by the caller where it is most accurate
            (from log-probabilities in the lower tail), so that ``q`` may underflow.

    Returns:
        float64: the quantile. Each branch's ratio of polynomials is formed; the one that
        applies is selected, then divided once.
    """
    qq = q - 0.5
    rc = 0.180625 - qq * qq
    c_num, c_den = _horner8(rc, AS241[0]), _horner8(rc, AS241[1])
    r = math.sqrt(-min(log_small, -0.5))  # the central branch's lanes take any r
    m_num, m_den = _horner8(r - 1.6, AS241[2]), _horner8(r - 1.6, AS241[3])
    f_num, f_den = _horner8(r - 5.0, AS241[4]), _horner8(r - 5.0, AS241[5])
    central = abs(qq) <= 0.425
    mid = r <= 5.0
    sign = -1.0 if qq < 0.0 else 1.0
    num = qq * c_num if central else sign * (m_num if mid else f_num)
    den = c_den if central else (m_den if mid else f_den)
    return num / den


@njit(inline="always")
def _tail(a):
    """``Phi(-|a|) = e * tail`` in parts: ``(e, tail, square, correction)``, with ``e =
    exp(-a^2 / 2)`` and ``a^2 / 2 = square + correction`` (``_gaussian_factor``)."""
    y = abs(a) * SQRT_HALF
    e, square, correction = _gaussian_factor(y)
    return e, _tail_ratio(y, e), square, correction


@njit(inline="always")
def normal_tails(z):
    """``(Phi(-z), Phi(z))``, each to its own relative precision (neither as one minus the
    other), for the uniform ``V = Phi(-Z_0)`` of a plain normal ``Z_0`` and its complement."""
    e, tail, _, _ = _tail(z)
    small = e * tail  # Phi(-|z|)
    return (small, 1.0 - small) if z >= 0.0 else (1.0 - small, small)


@njit(inline="always")
def survival_draw(v, v_c, a):
    """One step of the survival estimator: the conditioned normal and what the adjoint needs.

    Args:
        v: the step's uniform, float64 in ``(0, 1)``; v_c: ``1 - v`` to its own precision.
        a: the distance to the barrier in step standard deviations: the path survives the step
            iff its normal exceeds ``a``.

    Returns:
        ``(z, p, log_p, mills, shift)``: ``z = -Phi^-1(v p)``, the normal conditioned on
        ``Z > a``; ``p = Phi(-a)`` (underflowing to 0 above ``a = 38.4``) and ``log p`` (finite
        up to ``A_HIGHEST``); ``mills = phi(a) / p``; ``shift = v phi(a) / phi(z)``. The last
        two are the derivatives
        ``-d log p / da`` and ``dz / da`` of the exact functions (``d/da`` of
        ``-Phi^-1(v Phi(-a))``), evaluated at the computed values.
    """
    a = min(max(a, A_LOWEST), A_HIGHEST)
    e, tail, square, correction = _tail(a)  # Phi(-|a|) = e * tail
    upper = a >= 0.0
    p = e * tail if upper else 1.0 - e * tail
    p_c = 1.0 - e * tail if upper else e * tail  # 1 - p
    base = tail if upper else p  # p = base * exp(-a^2 / 2), or base itself
    shift_log = (square + correction) if upper else 0.0
    log_p = log64(base) - shift_log
    q = v * p
    lower = q < 0.5  # log min(q, 1 - q): from log-probabilities below 1/2, one log either way
    log_small = log64(v * base if lower else v_c + v * p_c) - (shift_log if lower else 0.0)
    z = -normal_quantile(q, log_small)
    mills = (1.0 / (SQRT_2PI * tail)) if upper else (e / (SQRT_2PI * p))
    shift = v * exp64(0.5 * (z * z - a * a))
    return z, p, log_p, mills, shift


# --- accuracy (python -m helpers.mc.lane_special) ------------------------------------------------

MAX_ERROR: dict[str, float] = {"exp": 1.0, "log": 1.0, "p": 1e-13, "log_p": 1e-15, "z": 2e-14}
"""Bounds on the errors ``max_errors`` measures, each above what was measured (module
docstring): ``exp`` and ``log`` in ulp, the others relative."""

ERROR_GRIDS: dict[str, tuple[float, float, int]] = {
    "exp": (-745.0, 0.0, 2_000_001),
    "log": (-40.0, 40.0, 2_000_001),  # log2 of the inputs
    "p": (-12.0, 37.0, 2_000_001),  # beyond, Phi(-a) is subnormal
    "log_p": (-12.0, 40.0, 2_000_001),
    "z": (-300.0, -0.30103, 2_000_001),  # log10 of q, the lower half; the upper half by 1 - q
}
"""Each measurement's grid: ``(start, stop, points)``, evenly spaced."""


@njit
def _evaluate(kind, x):
    out = np.empty_like(x)
    for i in range(x.size):
        if kind == 0:
            out[i] = exp64(x[i])
        elif kind == 1:
            out[i] = log64(x[i])
        elif kind == 2:
            out[i] = survival_draw(0.5, 0.5, x[i])[1]
        elif kind == 3:
            out[i] = survival_draw(0.5, 0.5, x[i])[2]
        elif kind == 4:  # x holds log q: the lower tail from its logarithm
            q = math.exp(x[i])
            out[i] = normal_quantile(q, x[i])
        else:  # x holds 1 - q: the upper tail
            q = 1.0 - x[i]
            out[i] = normal_quantile(q, math.log(1.0 - q))
    return out


def max_errors(points: int | None = None) -> dict[str, float]:
    """The largest error of each function on its grid (``ERROR_GRIDS``), against NumPy and
    SciPy in float64: ``exp`` and ``log`` in ulp, ``p`` and ``z`` relative, ``log_p`` relative
    where ``|log p| > 1`` and absolute below (so that it bounds the relative error of the
    weight ``exp(sum log p)`` that it enters).

    Args:
        points: points per grid (default: each grid's own, ``ERROR_GRIDS``).
    """
    from scipy import special

    def grid(name: str) -> np.ndarray:
        start, stop, n = ERROR_GRIDS[name]
        return np.linspace(start, stop, points or n)

    def ulp(got: np.ndarray, exact: np.ndarray) -> float:
        return float(np.max(np.abs(got - exact) / np.spacing(np.abs(exact))))

    def relative(got: np.ndarray, exact: np.ndarray) -> float:
        return float(np.max(np.abs(got - exact) / np.abs(exact)))

    x = grid("exp")
    errors = {"exp": ulp(_evaluate(0, x), np.exp(x))}
    x = 2.0 ** grid("log")
    errors["log"] = ulp(_evaluate(1, x), np.log(x))
    a = grid("p")
    errors["p"] = relative(_evaluate(2, a), special.ndtr(-a))
    a = grid("log_p")
    exact = special.log_ndtr(-a)  # relative where |log p| > 1, absolute below: the weight's error
    errors["log_p"] = float(np.max(np.abs(_evaluate(3, a) - exact) / np.maximum(np.abs(exact), 1)))
    log_q = grid("z") * math.log(10.0)
    lower = relative(_evaluate(4, log_q), special.ndtri(np.exp(log_q)))
    tail = np.exp(log_q[log_q > math.log(2.0**-33)])  # 1 - q no smaller than a uniform's gap
    upper = relative(_evaluate(5, tail), special.ndtri(1.0 - tail))
    errors["z"] = max(lower, upper)
    return errors


def main() -> None:
    """Prints ``max_errors()`` (about a minute)."""
    for name, error in max_errors().items():
        unit = "ulp" if name in ("exp", "log") else "relative"
        print(f"{name:6s} {error:.3g} {unit}")


if __name__ == "__main__":
    main()


# --- the same approximations in PyTorch, for autograd (helpers.mc.autograd) ----------------------


def _torch_tail(a):
    """``_tail`` on float64 tensors: ``(e, tail, square, correction)``."""
    import torch

    y = a.abs() * SQRT_HALF
    yh = torch.floor(16.0 * y) * 0.0625
    high, low = yh * yh, (y - yh) * (y + yh)
    square = high + low
    correction = (high - square) + low
    e = torch.exp(-square) * (1.0 - correction)
    z2 = y * y
    n1 = _horner(z2, (CODY_A[4], CODY_A[0], CODY_A[1], CODY_A[2], CODY_A[3]))
    d1 = _horner(z2, (1.0, *CODY_B))
    n2 = _horner(y, (CODY_C[8], *CODY_C[:8]))
    d2 = _horner(y, (1.0, *CODY_D))
    n3 = _horner(z2, (CODY_P[4], CODY_P[3], CODY_P[2], CODY_P[1], CODY_P[0], CODY_P[5]))
    d3 = _horner(z2, (CODY_Q[4], CODY_Q[3], CODY_Q[2], CODY_Q[1], CODY_Q[0], 1.0))
    small, middle = y <= CODY_SMALL, y <= CODY_MIDDLE
    top = torch.where(small, d1 - y * n1, torch.where(middle, n2, INV_SQRT_PI * z2 * d3 - n3))
    bottom = torch.where(small, d1 * e, torch.where(middle, d2, z2 * d3 * y))
    return e, 0.5 * top / bottom, square, correction


def torch_normal_tails(z):
    """``normal_tails`` on float64 tensors."""
    import torch

    e, tail, _, _ = _torch_tail(z)
    small = e * tail
    upper = z >= 0.0
    return torch.where(upper, small, 1.0 - small), torch.where(upper, 1.0 - small, small)


def torch_survival_draw(v, v_c, a):
    """``survival_draw``'s ``(z, p, log_p)`` on float64 tensors, by the same approximations
    (Cody's ratios, the split exponent, AS 241 fed with log-probabilities; PyTorch's own ``exp``
    and ``log``, within an ulp of ``exp64`` and ``log64``), so that autograd differentiates what
    the kernel computes."""
    import torch

    a = a.clamp(A_LOWEST, A_HIGHEST)
    e, tail, square, correction = _torch_tail(a)
    upper = a >= 0.0
    p = torch.where(upper, e * tail, 1.0 - e * tail)
    p_c = torch.where(upper, 1.0 - e * tail, e * tail)
    base = torch.where(upper, tail, p)
    shift_log = torch.where(upper, square + correction, torch.zeros_like(a))
    log_p = torch.log(base) - shift_log
    q = v * p
    log_q = torch.log(v * base) - shift_log
    lower = q < 0.5
    log_small = torch.where(lower, log_q, torch.log(torch.where(lower, 0.5, v_c + v * p_c)))
    return -_torch_quantile(q, log_small), p, log_p


def _horner(t, coefficients):
    """``sum c_i t^(n - i)`` over ``coefficients`` (highest power first), on a tensor."""
    out = t * 0.0 + coefficients[0]
    for coefficient in coefficients[1:]:
        out = out * t + coefficient
    return out


def _torch_quantile(q, log_small):
    """``normal_quantile`` on tensors."""
    import torch

    horner = _horner

    qq = q - 0.5
    rc = 0.180625 - qq * qq
    r = torch.sqrt(-torch.clamp(log_small, max=-0.5))
    central = horner(rc, AS241[0]) / horner(rc, AS241[1]) * qq
    mid = horner(r - 1.6, AS241[2]) / horner(r - 1.6, AS241[3])
    far = horner(r - 5.0, AS241[4]) / horner(r - 5.0, AS241[5])
    tail = torch.where(r <= 5.0, mid, far)
    tail = torch.where(qq < 0.0, -tail, tail)
    return torch.where(qq.abs() <= 0.425, central, tail)
