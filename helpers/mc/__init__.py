"""Batched Monte Carlo pricing of the arithmetic-average barrier call, on several backends.

``price_options`` is the entry point; ``BACKENDS`` lists the implementations:

================ =========================================================================
``"cupy"``        CUDA C kernel via CuPy, Philox normals drawn in the kernel, reduced on GPU
``"cupy-article"`` the article's CUDA C kernel, reading a pre-generated buffer of normals
``"numba"``       Numba on every CPU core, blocks of paths in SIMD lanes, same Philox normals
``"numba-cuda"``  a numba.cuda kernel; runs on a CPU under ``NUMBA_ENABLE_CUDASIM=1``
``"numpy"``       a vectorised reference with NumPy's own generator, for small sizes
================ =========================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..core.domain import COLUMNS
from . import numba_backend, numpy_backend
from .checks import (
    METHODS,
    check_count,
    check_finite_result,
    check_maturity,
    check_method,
    check_options,
    check_seed,
    check_step_volatility,
    check_width,
)
from .result import MCResult

__all__ = [
    "BACKENDS",
    "METHODS",
    "MCResult",
    "available_backends",
    "price_options",
    "resolve_backend",
]

BACKENDS: tuple[str, ...] = ("cupy", "cupy-article", "numba", "numba-cuda", "numpy")
"""Every backend name ``price_options`` accepts, besides ``"auto"``."""


def _cupy_usable() -> bool:
    from . import cupy_backend

    return cupy_backend.is_usable()


def _numba_cuda_usable() -> bool:
    from . import numba_cuda_backend

    return numba_cuda_backend.is_usable()


def available_backends() -> list[str]:
    """The backends that can run on this machine, in the order of ``BACKENDS``."""
    usable = {"cupy": _cupy_usable(), "numba-cuda": _numba_cuda_usable()}
    usable["cupy-article"] = usable["cupy"]
    return [b for b in BACKENDS if usable.get(b, True)]


def resolve_backend(backend: str) -> str:
    """Maps ``"auto"`` to ``"cupy"`` when a CUDA device is usable, else ``"numba"``.

    Raises:
        ValueError: for an unknown name, or for a GPU backend with no usable GPU.
    """
    if backend == "auto":
        return "cupy" if _cupy_usable() else "numba"
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose 'auto' or one of {list(BACKENDS)}")
    if backend.startswith("cupy") and not _cupy_usable():
        raise ValueError(
            f"backend {backend!r} needs CuPy and a CUDA GPU, and none is usable here; "
            "use backend='numba' (CPU) or 'auto'"
        )
    if backend == "numba-cuda" and not _numba_cuda_usable():
        raise ValueError(
            "backend 'numba-cuda' needs a CUDA GPU or the CUDA simulator "
            "(set NUMBA_ENABLE_CUDASIM=1 before importing numba)"
        )
    return backend


def _implementation(backend: str) -> Callable[..., MCResult]:
    if backend == "numba":
        return numba_backend.price
    if backend == "numpy":
        return numpy_backend.price
    if backend == "numba-cuda":
        from . import numba_cuda_backend

        return numba_cuda_backend.price
    from . import cupy_backend

    return cupy_backend.price if backend == "cupy" else cupy_backend.price_article


def price_options(
    X: object,
    n_paths: int,
    n_steps: int = 365,
    T: float = 1.0,
    seed: int = 0,
    backend: str = "auto",
    *,
    greeks: bool = False,
    method: str | None = None,
    width: float | None = None,
    gamma: bool = True,
) -> MCResult:
    """Prices a batch of arithmetic-average barrier calls by Monte Carlo.

    Each option's spot follows ``n_steps`` Euler steps of geometric Brownian motion with drift
    ``mu``; the running arithmetic average of the simulated prices (``S0`` excluded) is checked
    after every step, and the first time it is at or below the barrier ``B`` the path is knocked
    out and pays nothing. A surviving path pays ``exp(-r T) max(average - K, 0)`` at ``T``.
    The article's kernel keeps the average reached at knock-out instead of paying nothing; that
    pays nothing too whenever ``B < K``, as everywhere in its parameter domain.

    Example:
        >>> from helpers.core.domain import ARTICLE_MC_EXAMPLE
        >>> X = ARTICLE_MC_EXAMPLE[:1]  # the first option of the article's Monte Carlo example
        >>> price_options(X, n_paths=100_000, backend="numba")
        MCResult([21.16... ± 0.07...], n_paths=100000, n_steps=365, backend='numba')

    Args:
        X: array-like of shape ``(n, 6)``, columns ``[K, B, S0, sigma, mu, r]``
            (``helpers.core.domain.COLUMNS``): strike, barrier and spot in currency units,
            annualised volatility, annualised drift, continuously compounded rate. One option
            may be given as a row of 6 (a batch of one, as the network pricers take it).
        n_paths: paths per option, an integer in ``[1, 2**32)``.
        n_steps: time steps (and averaging dates) per path, an integer in ``[1, 2**32)``; 365
            is daily over a year.
        T: maturity in years, finite and ``> 0``.
        seed: integer in ``[0, 2**64)``. The same seed and backend give the same numbers.
            The sizes, the seed, ``T`` and ``width`` go through ``helpers.core.validate``: a
            bool, a string or a float where an integer belongs is refused, not converted.
        backend: ``"auto"`` (``"cupy"`` when a CUDA GPU is usable, else ``"numba"``) or one of
            ``BACKENDS``.
        greeks: also return the derivatives of each price with respect to the six inputs, and
            gamma, by a hand-written adjoint of every path (``helpers.mc.adjoint``).
        method: the estimator, one of ``METHODS``: ``"plain"`` (the hard knock-out, the
            default without Greeks), ``"survival"`` (one-step survival conditioning, unbiased
            and smooth: the default with Greeks) or ``"smoothed"`` (a logistic knock-out of
            ``width``, biased). The smooth estimators run on the ``numba`` backend, and
            ``"survival"`` on ``cupy`` too. ``"control"`` is the plain estimator with the
            path average and its square as control variates (``helpers.mc.control``): prices
            only, on ``numba``, with a mean standard error about 17 to 19 times smaller on
            the article's domain (Chapter 10 measures it).
        width: the smoothed knock-out's width as a fraction of ``B``
            (default ``helpers.mc.adjoint.DEFAULT_WIDTH``).
        gamma: with ``greeks``, also gamma, which costs two more sweeps per path (about three
            times the first-order Greeks); ``False`` leaves it out of ``greeks``.

    Returns:
        ``MCResult`` with ``price`` and ``stderr``, float64 arrays of shape ``(n,)``, and with
        ``greeks=True`` the dicts ``greeks`` and ``greeks_stderr`` keyed ``K``, ``B``, ``S0``,
        ``sigma``, ``mu``, ``r`` (dP/d column) and ``gamma`` (d2P/dS0^2).

    Raises:
        ValueError: ``X`` is not of shape ``(n, 6)`` (or one row of 6), holds NaN or inf, or a
            negative K, B, S0 or sigma (the message names the row and column); ``n_paths`` or
            ``n_steps`` not an integer in range; a seed not an integer in ``[0, 2**64)``; ``T``
            not finite and ``> 0``; an unknown backend; a GPU backend without a usable GPU; the
            ``cupy-article`` normals buffer does not fit in GPU memory; inputs so extreme
            (``mu T``, ``sigma sqrt(T)`` or ``-r T`` far beyond any market's) that a path
            overflowed the floating-point range, so that no finite price exists to return;
            an unknown ``method``, Greeks with ``method="plain"``, a ``width`` that is not
            positive, a smooth estimator on a backend that lacks its adjoint, or an Euler step
            ``sigma sqrt(T / n_steps)`` above ``adjoint.MAX_STEP_VOLATILITY`` with one.
    """
    options = check_options(X)
    n_paths = check_count("n_paths", n_paths)
    n_steps = check_count("n_steps", n_steps)
    T = check_maturity(T)
    seed = check_seed(seed)
    method = check_method(method, bool(greeks))
    if method == "plain":
        name = resolve_backend(backend)
    elif method == "control":
        name = _control_backend(backend)
    else:
        from . import adjoint

        width = check_width(width, adjoint.DEFAULT_WIDTH)
        name = _smooth_estimator_backend(backend, method)
        check_step_volatility(options, T, n_steps, adjoint.MAX_STEP_VOLATILITY)
    if options.shape[0] == 0:
        empty = np.zeros(0)
        result = MCResult(empty, empty.copy(), n_paths, n_steps, name, method)
        if greeks:
            names = (*COLUMNS, "gamma") if gamma else COLUMNS
            result = replace(result, greeks={k: empty.copy() for k in names},
                             greeks_stderr={k: empty.copy() for k in names})  # fmt: skip
        return result
    if method == "plain":
        result = _implementation(name)(options, n_paths, n_steps, T, seed)
    elif method == "control":
        from . import control

        result = control.price(options, n_paths, n_steps, T, seed)
    elif name == "cupy":
        from . import cupy_backend

        result = cupy_backend.price_survival(options, n_paths, n_steps, T, seed, bool(greeks),
                                             bool(gamma))  # fmt: skip
    else:
        from . import block_moments

        result = block_moments.price(options, n_paths, n_steps, T, seed, method, width,
                                     bool(greeks), bool(gamma))  # fmt: skip
    check_finite_result(result, options, T)
    return result


def _control_backend(backend: str) -> str:
    """The control-variate estimator's backend: ``numba`` (also for ``"auto"``)."""
    if backend not in ("auto", "numba"):
        if backend not in BACKENDS:
            raise ValueError(
                f"unknown backend {backend!r}: choose 'auto' or one of {list(BACKENDS)}"
            )
        raise ValueError(f"method 'control' runs on backend 'numba' (or 'auto'), not {backend!r}")
    return "numba"


def _smooth_estimator_backend(backend: str, method: str) -> str:
    """The backend of a smooth estimator: ``numba``, or ``cupy`` for ``"survival"`` (the CUDA C
    adjoint); ``"auto"`` takes ``cupy`` for it when a GPU is usable."""
    if backend == "auto":
        return "cupy" if method == "survival" and _cupy_usable() else "numba"
    supported = ("numba", "cupy") if method == "survival" else ("numba",)
    if backend not in supported:
        if backend not in BACKENDS:
            raise ValueError(
                f"unknown backend {backend!r}: choose 'auto' or one of {list(BACKENDS)}"
            )
        raise ValueError(
            f"method {method!r} runs on backend {' or '.join(map(repr, supported))} (or"
            f" 'auto'), not {backend!r}: its hand adjoint is written for those"
        )
    return resolve_backend(backend)
