"""Standard normals from Philox words: Box-Muller with polynomial ``log`` and ``sin``/``cos``.

Every Monte Carlo backend turns two 32-bit random words into two normals the same way:

* ``u1 = (float32(x0) + 0.5) * 2**-32`` lies in ``[2**-33, 1]``, so its logarithm is finite;
* the angle is ``2 pi x1 / 2**32``, reduced *exactly*, in integers, to a quadrant ``k`` and a
  residual in ``[-pi/4, pi/4)``: the word's 32 bits all count, and the sine and cosine keep
  their relative accuracy near their zeros;
* ``z0 = R cos(angle)``, ``z1 = R sin(angle)`` with ``R = sqrt(-2 log u1)``.

Why not ``math.log`` and ``math.cos``? On a CPU they are calls into libm, one value at a time,
so a loop that draws normals for a block of paths cannot be vectorised and the random numbers
cost several times the Euler step. Here ``log``, ``sin`` and ``cos`` are Cephes' float32
polynomials (S. L. Moshier, Cephes Math Library, ``logf.c`` and ``sinf.c``), written without
branches (every test is a select), so LLVM vectorises the whole draw across a block of paths;
``sqrt`` stays the IEEE square root, a single correctly rounded instruction on every CPU and
GPU, which no polynomial could beat. The same functions, with the same float32 constants, are
compiled by Numba for the CPU and for numba.cuda, and restated in ``kernels/barrier_option.cu``
for the CuPy kernel (a test checks that the constants agree).

Accuracy, measured over all 2**32 values of the input word by ``python -m helpers.mc.normals``
against float64 references (the exact angle for ``sin``/``cos``), in units in the last place
(ulp) of the float32 result:

* ``log_unit``: at most 0.83 ulp (0.829);
* ``sincos_turn``: at most 2.76 ulp (2.759) for ``cos`` and for ``sin`` (the residual angle's
  rounding to float32 included).

The largest normal reachable is ``LARGEST_NORMAL`` = ``sqrt(66 ln 2)`` = 6.764, from
``x0 = 0``; a standard normal exceeds it in absolute value with probability 1.3e-11.

All functions are plain Python on NumPy scalars, so they also run under the CUDA simulator;
``jit.kernel_function`` has Numba inline them into the CPU kernels and compile them as device
functions for numba.cuda.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import kernel_function

_F = np.float32
_U = np.uint64

# Cephes logf: log(1 + x) = x - x^2/2 + x^3 P(x) for x in [sqrt(1/2) - 1, sqrt(2) - 1).
LOG_P0 = _F(7.0376836292e-2)
LOG_P1 = _F(-1.1514610310e-1)
LOG_P2 = _F(1.1676998740e-1)
LOG_P3 = _F(-1.2420140846e-1)
LOG_P4 = _F(1.4249322787e-1)
LOG_P5 = _F(-1.6668057665e-1)
LOG_P6 = _F(2.0000714765e-1)
LOG_P7 = _F(-2.4999993993e-1)
LOG_P8 = _F(3.3333331174e-1)
LN2_HI = _F(0.693359375)  # ln 2 = LN2_HI + LN2_LO, LN2_HI exact in 9 bits
LN2_LO = _F(-2.12194440e-4)
SQRT_HALF = _F(0.707106781186547524)

# Cephes sinf/cosf on [-pi/4, pi/4].
SIN_P0 = _F(-1.9515295891e-4)
SIN_P1 = _F(8.3321608736e-3)
SIN_P2 = _F(-1.6666654611e-1)
COS_P0 = _F(2.443315711809948e-5)
COS_P1 = _F(-1.388731625493765e-3)
COS_P2 = _F(4.166664568298827e-2)
QUARTER_TURN_PER_2_31 = _F(math.pi / 2**31)  # residual word (in 2**-30 quarter turns) -> radians

TWO_POW_M32 = _F(2.0**-32)

COEFFICIENTS: dict[str, np.float32] = {
    name: value
    for name, value in globals().items()
    if name.startswith(("LOG_", "LN2_", "SQRT_", "SIN_", "COS_", "QUARTER_", "TWO_POW"))
}
"""Every float32 constant of the draw, by name; ``kernels/barrier_option.cu`` defines each as
``RNG_<name>`` with the same value."""

MAX_ULP_ERROR: dict[str, float] = {"log": 1.0, "cos": 3.0, "sin": 3.0}
"""Bounds, in float32 ulp, that the measured errors (module docstring) stay within."""

LARGEST_NORMAL = math.sqrt(-2.0 * math.log(2.0**-33))
"""The largest ``|z|`` the draw can return (6.764), reached at ``x0 = 0``."""

_HALF, _ONE, _TWO = _F(0.5), _F(1.0), _F(2.0)


@kernel_function
def log_unit(u):
    """Natural logarithm of a float32 ``u`` in ``[2**-33, 1]``, without branches.

    ``u`` is scaled by powers of two (exactly) into ``[1/2, 1]``, counting the exponent ``e``;
    then ``log u = log(1 + x) + e ln 2`` with ``1 + x`` in ``[sqrt(1/2), sqrt(2))``.

    Args:
        u: float32 in ``[2**-33, 1]`` (smaller values are not scaled far enough).

    Returns:
        float32 ``log(u)``, within 0.83 ulp over every ``u`` that ``box_muller`` forms.
    """
    e = _F(0.0)
    for shift in (16.0, 8.0, 4.0, 2.0, 1.0, 1.0):
        small = u < _F(2.0**-shift)
        u = u * _F(2.0**shift) if small else u
        e = e - _F(shift) if small else e
    low = u < SQRT_HALF
    x = (u + u - _ONE) if low else (u - _ONE)
    e = e - _ONE if low else e
    z = x * x
    p = LOG_P0 * x + LOG_P1
    p = p * x + LOG_P2
    p = p * x + LOG_P3
    p = p * x + LOG_P4
    p = p * x + LOG_P5
    p = p * x + LOG_P6
    p = p * x + LOG_P7
    p = p * x + LOG_P8
    y = p * x * z + LN2_LO * e
    y = y - _HALF * z
    return x + y + LN2_HI * e


@kernel_function
def sincos_turn(w):
    """Cosine and sine of the angle ``2 pi w / 2**32``, without branches.

    The 32-bit word ``w`` is split, in integers, into a quadrant ``k``
    (``w`` rounded to the nearest quarter turn) and a residual of at most
    an eighth of a turn, so the polynomials only see ``[-pi/4, pi/4)``.

    Args:
        w: ``np.uint64`` holding a value below 2**32.

    Returns:
        ``(cos, sin)``, float32, each within 2.76 ulp of the exact value.
    """
    v = (w + _U(0x20000000)) & _U(0xFFFFFFFF)  # w + 1/8 turn, mod 1 turn
    k = v >> _U(30)  # quadrant: round(4 w / 2**32) mod 4
    residual = np.int64(v & _U(0x3FFFFFFF)) - np.int64(0x20000000)
    a = _F(residual) * QUARTER_TURN_PER_2_31  # radians, |a| <= pi/4
    z = a * a
    s = ((SIN_P0 * z + SIN_P1) * z + SIN_P2) * z * a + a
    c = ((COS_P0 * z + COS_P1) * z + COS_P2) * z * z - _HALF * z + _ONE
    odd = (k & _U(1)) != _U(0)  # quadrants 1, 3: cosine and sine swap
    cc = s if odd else c
    ss = c if odd else s
    cc = -cc if ((k + _U(1)) & _U(2)) != _U(0) else cc  # < 0 in 1, 2
    ss = -ss if (k & _U(2)) != _U(0) else ss  # < 0 in quadrants 2, 3
    return cc, ss


@kernel_function
def box_muller(x0, x1):
    """Two independent standard normals from two 32-bit random words (Box-Muller).

    Args:
        x0, x1: ``np.uint64`` holding values below 2**32 (Philox output words).

    Returns:
        A pair of float32 standard normals, each at most ``LARGEST_NORMAL`` in absolute value.
    """
    u1 = (_F(x0) + _HALF) * TWO_POW_M32
    radius = _F(math.sqrt(_F(-2.0) * log_unit(u1)))  # _F: float32 under the CUDA simulator too
    c, s = sincos_turn(x1)
    return radius * c, radius * s


# --- accuracy measurement (python -m helpers.mc.normals) ----------------------------------------


def _ulp(exact: np.ndarray) -> np.ndarray:
    """The float32 ulp at each float64 value (the smallest subnormal at zero)."""
    return np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)


def max_ulp_errors(words: np.ndarray) -> dict[str, float]:
    """Largest errors of ``log_unit`` and ``sincos_turn`` over the given 32-bit words, in ulp.

    Args:
        words: ``uint64`` array of shape ``(n,)``, values below 2**32.

    Returns:
        ``{"log": ..., "cos": ..., "sin": ...}``: the largest error over ``words`` in units in
        the last place of the float32 result, against float64 references (the uniform
        ``u1`` itself for the logarithm, the exact angle ``2 pi w / 2**32`` for cosine and sine).
    """
    words = np.asarray(words, dtype=np.uint64)
    logs, cosines, sines = _draw_parts(words)
    u1 = (words.astype(np.float32) + np.float32(0.5)) * TWO_POW_M32
    exact_log = np.log(u1.astype(np.float64))
    v = (words + np.uint64(0x20000000)) & np.uint64(0xFFFFFFFF)
    k = (v >> np.uint64(30)).astype(np.int64)
    a = ((v & np.uint64(0x3FFFFFFF)).astype(np.int64) - 0x20000000) * (math.pi / 2**31)
    c, s = np.cos(a), np.sin(a)
    exact_cos = np.choose(k, [c, -s, -c, s])
    exact_sin = np.choose(k, [s, c, -s, -c])
    return {
        name: float(np.max(np.abs(got - exact) / _ulp(exact)))
        for name, got, exact in (
            ("log", logs, exact_log),
            ("cos", cosines, exact_cos),
            ("sin", sines, exact_sin),
        )
    }


def _draw_parts(words: np.ndarray):
    from numba import njit

    global _parts_kernel
    if _parts_kernel is None:

        @njit
        def kernel(words, logs, cosines, sines):
            for i in range(words.size):
                u1 = (np.float32(words[i]) + np.float32(0.5)) * TWO_POW_M32
                logs[i] = log_unit(u1)
                cosines[i], sines[i] = sincos_turn(words[i])

        _parts_kernel = kernel
    out = [np.empty(words.size, dtype=np.float32) for _ in range(3)]
    _parts_kernel(words, *out)
    return out


_parts_kernel = None


def main() -> None:
    """Measures the largest errors over all 2**32 input words (about ten minutes, one core)."""
    worst = {"log": 0.0, "cos": 0.0, "sin": 0.0}
    chunk = 2**26
    for start in range(0, 2**32, chunk):
        words = np.arange(start, start + chunk, dtype=np.uint64)
        for name, err in max_ulp_errors(words).items():
            worst[name] = max(worst[name], err)
    print("largest error over all 2**32 words, in float32 ulp:")
    for name, err in worst.items():
        print(f"  {name:4s} {err:.3f}")
    print(f"largest |z|: {LARGEST_NORMAL:.4f}")


if __name__ == "__main__":
    main()
