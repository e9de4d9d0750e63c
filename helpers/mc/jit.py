"""One decorator for the scalar functions that both the CPU and the CUDA kernels compile.

``kernel_function(f)`` registers the plain Python function ``f`` with Numba twice:

* for the CPU, inlined into its caller at Numba's IR level (``inline="always"``): the block
  kernel's lane loops only vectorise when Philox and Box-Muller are inlined into them, and
  LLVM does not inline Numba's separately compiled functions on its own;
* for every other target (numba.cuda), as an ordinary device function, which NVVM inlines as it
  sees fit. (``inline="always"`` on overloads broke in numba-cuda 0.21, NVIDIA/numba-cuda#624.)

``f`` itself is returned unchanged, so it still runs as Python on NumPy scalars: the CUDA
simulator executes it that way, and tests call it directly.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import TypeVar

from numba.extending import overload, register_jitable

F = TypeVar("F", bound=Callable)


def kernel_function(function: F) -> F:
    """Registers ``function`` for Numba's CPU (inlined) and generic (CUDA) targets."""

    @overload(function, target="cpu", inline="always", strict=False)
    def _cpu(*args, **kwargs):
        return function

    return register_jitable(function)


def cached_njit(function: Callable, name: str, **options) -> Callable:
    """``numba.njit(cache=True, **options)`` of a copy of ``function`` named ``name``.

    Numba's on-disk cache (``helpers.core.kernel_cache``) keys a function's entries on its module
    and qualified name, not on options such as ``parallel``: two compilations of one Python
    function (a parallel and a serial kernel, say) would load each other's machine code. A copy
    under its own name keeps their entries apart.
    """
    from numba import njit

    copy = types.FunctionType(
        function.__code__, function.__globals__, name, function.__defaults__,
        function.__closure__,
    )  # fmt: skip
    copy.__qualname__ = name
    copy.__doc__ = function.__doc__
    copy.__module__ = function.__module__
    return njit(cache=True, **options)(copy)
