"""The standard normal's density, distribution and quantile functions, for the kernels.

Numba compiles ``math.erfc`` and ``math.exp`` on the CPU and for CUDA, but no inverse of the
normal distribution: ``norm_ppf`` is Wichura's algorithm AS 241 (``PPND16``), accurate to about
1e-16 relative over ``(0, 1)``, whose rational functions compile anywhere. All three are
``jit.kernel_function``s: plain Python on floats, inlined into the CPU kernels.

References:
    M. J. Wichura, "Algorithm AS 241: The percentage points of the normal distribution",
    Applied Statistics 37 (1988), 477-484.
"""

from __future__ import annotations

import math

from .jit import kernel_function

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_INV_SQRT_2 = 1.0 / math.sqrt(2.0)


@kernel_function
def norm_pdf(x):
    """Standard normal density ``exp(-x^2 / 2) / sqrt(2 pi)`` (float64)."""
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@kernel_function
def norm_cdf(x):
    """Standard normal distribution ``P(Z <= x)``, accurate in both tails (``erfc``)."""
    return 0.5 * math.erfc(-x * _INV_SQRT_2)


@kernel_function
def norm_ppf(p):
    """The standard normal quantile: ``x`` with ``norm_cdf(x) = p``, for ``p`` in ``(0, 1)``.

    Accurate to about 1e-16 relative (AS 241); small ``p`` keep their precision, so an upper
    tail quantile is best taken as ``-norm_ppf(1 - P)`` with the tail probability itself.
    ``p = 0`` gives ``-inf`` and ``p = 1`` gives ``inf``.
    """
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = ((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r
                   + 6.7265770927008700853e4) * r + 4.5921953931549871457e4) * r
                 + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r
               + 1.3314166789178437745e2) * r + 3.3871328727963666080e0  # fmt: skip
        den = ((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r
                   + 3.9307895800092710610e4) * r + 2.1213794301586595867e4) * r
                 + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r
               + 4.2313330701600911252e1) * r + 1.0  # fmt: skip
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    if r <= 0.0:
        return -math.inf if q < 0.0 else math.inf
    r = math.sqrt(-math.log(r))
    if r <= 5.0:
        r -= 1.6
        num = ((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r
                   + 2.41780725177450611770e-1) * r + 1.27045825245236838258e0) * r
                 + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r
               + 4.63033784615654529590e0) * r + 1.42343711074968357734e0  # fmt: skip
        den = ((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r
                   + 1.51986665636164571966e-2) * r + 1.48103976427480074590e-1) * r
                 + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r
               + 2.05319162663775882187e0) * r + 1.0  # fmt: skip
    else:
        r -= 5.0
        num = ((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r
                   + 1.24266094738807843860e-3) * r + 2.65321895265761230930e-2) * r
                 + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r
               + 5.46378491116411436990e0) * r + 6.65790464350110377720e0  # fmt: skip
        den = ((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r
                   + 1.84631831751005468180e-5) * r + 7.86869131145613259100e-4) * r
                 + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
               + 5.99832206555887937690e-1) * r + 1.0  # fmt: skip
    x = num / den
    return -x if q < 0.0 else x
