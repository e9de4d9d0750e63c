"""Natural cubic splines in torch, batched and differentiable in their knots and values.

``scipy.interpolate.CubicSpline`` fits the same curve, but autograd cannot see through it: the
local-volatility chain needs the derivative of every spline with respect to the quotes it was
fitted to (and to the quotes' strikes), so the few lines of the textbook construction are
written here over tensors. The tests check them against scipy.
"""

from __future__ import annotations

import functools

import torch


def natural_spline(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Second derivatives ``M`` of the natural cubic spline through ``(x, y)``.

    Solves ``h_{i-1} M_{i-1} + 2 (h_{i-1} + h_i) M_i + h_i M_{i+1} = 6 (slope_i - slope_{i-1})``
    with ``M_0 = M_{q-1} = 0``, one small dense system per curve (``torch.linalg.solve``).

    Example:
        >>> x = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
        >>> natural_spline(x, x**2).tolist()
        [0.0, 2.4, 2.4, 0.0]

    Args:
        x: knots, shape ``(..., q)``, increasing, ``q >= 2``.
        y: values, shape ``(..., q)`` (``x`` broadcasts against it).

    Returns:
        ``M``, shape ``(..., q)``.
    """
    x = x.expand_as(y)
    q = y.shape[-1]
    if q < 3:
        return torch.zeros_like(y)
    h = x[..., 1:] - x[..., :-1]
    slope = (y[..., 1:] - y[..., :-1]) / h
    rhs = 6.0 * (slope[..., 1:] - slope[..., :-1])
    off = h[..., 1:-1]
    matrix = (torch.diag_embed(2.0 * (h[..., :-1] + h[..., 1:]))
              + torch.diag_embed(off, offset=1) + torch.diag_embed(off, offset=-1))  # fmt: skip
    inner = torch.linalg.solve(matrix, rhs[..., None])[..., 0]
    zero = torch.zeros_like(y[..., :1])
    return torch.cat([zero, inner, zero], dim=-1)


def natural_spline_uniform(h: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``natural_spline`` on knots spaced ``h`` apart: the system is ``h`` times the constant
    tridiagonal ``(1, 4, 1)`` matrix, whose inverse is computed once and applied to every
    curve (a matrix product instead of one solve per curve).

    Args:
        h: the spacing, shape broadcasting against ``y[..., :1]``, positive.
        y: values, shape ``(..., q)``.

    Returns:
        ``M``, shape ``(..., q)``.
    """
    q = y.shape[-1]
    if q < 3:
        return torch.zeros_like(y)
    inverse = _tridiagonal_inverse(q - 2, y.dtype, y.device)
    second_differences = y[..., 2:] - 2 * y[..., 1:-1] + y[..., :-2]
    inner = 6.0 / h**2 * (second_differences @ inverse)  # the inverse is symmetric
    zero = torch.zeros_like(y[..., :1])
    return torch.cat([zero, inner, zero], dim=-1)


@functools.lru_cache(maxsize=8)
def _tridiagonal_inverse(n: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    matrix = (4.0 * torch.eye(n, dtype=torch.float64)
              + torch.diag(torch.ones(n - 1, dtype=torch.float64), 1)
              + torch.diag(torch.ones(n - 1, dtype=torch.float64), -1))  # fmt: skip
    return torch.linalg.inv(matrix).to(dtype=dtype, device=device)


def evaluate_spline(
    x: torch.Tensor, y: torch.Tensor, M: torch.Tensor, at: torch.Tensor,
    extrapolation: str = "linear",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """The spline's value and first two derivatives at ``at``.

    Beyond ``x[0]`` and ``x[-1]`` the curve is extended ``"linear"``-ly along its end
    slopes: a natural spline's second derivative is zero at its ends, so the extended curve
    keeps two continuous derivatives, and so does anything Dupire's formula computes from it.
    ``"flat"`` extends it by its end values instead (QuantLib's ``BlackVarianceSurface`` does
    that with implied variance), which leaves a kink at each end.

    Args:
        x, y, M: knots, values and ``natural_spline(x, y)``, shape ``(..., q)``.
        at: where to evaluate, shape ``(..., n)``.
        extrapolation: ``"linear"`` or ``"flat"``.

    Returns:
        ``(value, first, second)``, each of shape ``(..., n)``.
    """
    if extrapolation not in ("linear", "flat"):
        raise ValueError(f"extrapolation must be 'linear' or 'flat', got {extrapolation!r}")
    x = x.expand_as(y)
    inside = (at >= x[..., :1]) & (at <= x[..., -1:])
    clamped = torch.minimum(torch.maximum(at, x[..., :1]), x[..., -1:])
    i = torch.searchsorted(x.detach().contiguous(), clamped.detach().contiguous(), right=True)
    i = (i - 1).clamp(0, y.shape[-1] - 2)
    x0, x1 = x.gather(-1, i), x.gather(-1, i + 1)
    y0, y1 = y.gather(-1, i), y.gather(-1, i + 1)
    M0, M1 = M.gather(-1, i), M.gather(-1, i + 1)
    h = x1 - x0
    a, b = (x1 - clamped) / h, (clamped - x0) / h
    value = a * y0 + b * y1 + ((a**3 - a) * M0 + (b**3 - b) * M1) * h**2 / 6.0
    first = (y1 - y0) / h - (3 * a**2 - 1) * h * M0 / 6.0 + (3 * b**2 - 1) * h * M1 / 6.0
    second = a * M0 + b * M1
    if extrapolation == "flat":
        return value, first * inside, second * inside
    return value + first * (at - clamped), first, second * inside


def interval_polynomials(h: torch.Tensor, y: torch.Tensor, M: torch.Tensor) -> torch.Tensor:
    """The spline on each interval of uniform knots as ``c0 + c1 u + c2 u^2 + c3 u^3`` in the
    interval's own coordinate ``u = (x - x_i) / h`` in ``[0, 1]``: four coefficients per
    interval, what a simulation gathers per path (the table NAG store per time step).

    Args:
        h: the knots' spacing, shape broadcasting against ``y[..., :1]``.
        y, M: values and ``natural_spline`` second derivatives, shape ``(..., q)``.

    Returns:
        Shape ``(..., q - 1, 4)``.
    """
    h2 = h**2
    c0 = y[..., :-1]
    c1 = (y[..., 1:] - y[..., :-1]) - h2 * (2 * M[..., :-1] + M[..., 1:]) / 6.0
    c2 = h2 * M[..., :-1] / 2.0
    c3 = h2 * (M[..., 1:] - M[..., :-1]) / 6.0
    return torch.stack([c0, c1, c2, c3], dim=-1)
