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
