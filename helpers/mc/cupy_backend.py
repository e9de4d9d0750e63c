"""CuPy backends: the CUDA C kernels of ``helpers/kernels/barrier_option.cu`` on an NVIDIA GPU.

* ``"cupy"``: ``barrier_option_philox`` draws its normals in registers (Philox4x32-10, the same
  stream as the Numba backends) and reduces the paths of each option to two sums per block, so
  memory use is independent of the number of paths and steps.
* ``"cupy-article"``: the article's ``batched_barrier_option``, reading a buffer of
  ``n_options * n_paths * n_steps`` float32 normals drawn beforehand by ``cupy.random``. At the
  article's sizes (2 options, 2,048,000 paths, 365 steps) that buffer is 6 GB: it is kept to
  teach why the production kernel does without it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..core.machine import gpu_available
from .philox import split_seed
from .result import MCResult, from_moments, mean_and_stderr

KERNEL_SOURCE = Path(__file__).resolve().parent.parent / "kernels" / "barrier_option.cu"
"""The CUDA C file both CuPy kernels are compiled from (and which Chapter 1 shows)."""

THREADS_PER_BLOCK = 256
BLOCKS_PER_SM = 8
MAX_GRID_Y = 65_535


def is_usable() -> bool:
    """True when CuPy imports and sees at least one CUDA device
    (``helpers.core.machine.gpu_available``)."""
    return gpu_available()


@functools.lru_cache(maxsize=1)
def _module():
    import cupy

    return cupy.RawModule(code=KERNEL_SOURCE.read_text(), options=("--std=c++14",))


def kernel_source(name: str) -> str:
    """The text of one function of ``KERNEL_SOURCE`` (a ``__global__`` kernel or a ``__device__``
    function), from the line of its signature to its closing brace.

    Raises:
        ValueError: if the file defines no such function.
    """
    text = KERNEL_SOURCE.read_text()
    match = re.search(rf"^[^\n]*__(?:global|device)__[^\n(]*\b{re.escape(name)}\(", text, re.M)
    if match is None:
        raise ValueError(f"no kernel or device function named {name!r} in {KERNEL_SOURCE.name}")
    depth, i = 0, text.index("{", match.start())
    while True:
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[match.start() : i + 1]
        i += 1


def launch_config(n_options: int, n_paths: int, multiprocessors: int) -> dict[str, tuple]:
    """Grid and block shapes of both kernels for a batch, on a GPU with ``multiprocessors`` SMs.

    The article's kernel gets one thread per (option, path). The Philox kernel gets a
    ``(blocks_per_option, n_options)`` grid: enough blocks in all to fill the GPU
    (``BLOCKS_PER_SM`` per SM), never more than one block per ``THREADS_PER_BLOCK`` paths;
    each thread then loops over several paths.

    Returns:
        ``{"article": (grid, block), "philox": (grid, block)}`` with CUDA's tuple shapes.
    """
    wanted = max(1, (multiprocessors * BLOCKS_PER_SM) // max(n_options, 1))
    blocks_x = max(1, min(wanted, -(-n_paths // THREADS_PER_BLOCK)))
    article_blocks = -(-n_options * n_paths // THREADS_PER_BLOCK)
    return {
        "article": ((article_blocks,), (THREADS_PER_BLOCK,)),
        "philox": ((blocks_x, min(n_options, MAX_GRID_Y)), (THREADS_PER_BLOCK,)),
    }


def _multiprocessors() -> int:
    import cupy

    return cupy.cuda.Device().attributes["MultiProcessorCount"]


def price_on_device(d_X, n_paths: int, n_steps: int, T: float, seed: int):
    """In-kernel Philox backend on a CuPy batch, results left on the GPU.

    Args:
        d_X: CuPy array of shape ``(n, 6)`` (any float dtype), already checked.
        n_paths, n_steps, T, seed: as in ``helpers.mc.price_options``.

    Returns:
        ``(price, stderr)``: CuPy float64 arrays of shape ``(n,)``.
    """
    import cupy

    kernel = _module().get_function("barrier_option_philox")
    key0, key1 = (np.uint32(k) for k in split_seed(seed))
    n_options = d_X.shape[0]
    d_X = cupy.ascontiguousarray(d_X, dtype=cupy.float32)
    (blocks_x, _), _ = launch_config(n_options, n_paths, _multiprocessors())["philox"]
    sums = cupy.empty((n_options, blocks_x), dtype=cupy.float64)
    sums_sq = cupy.empty_like(sums)
    for start in range(0, n_options, MAX_GRID_Y):
        rows = min(MAX_GRID_Y, n_options - start)
        kernel(
            (blocks_x, rows),
            (THREADS_PER_BLOCK,),
            (sums[start:], sums_sq[start:], d_X, np.uint32(start), np.float32(T),
             np.uint32(n_steps), np.uint32(n_paths), key0, key1),
        )  # fmt: skip
    return mean_and_stderr(sums.sum(axis=1), sums_sq.sum(axis=1), n_paths)


def price(X: np.ndarray, n_paths: int, n_steps: int, T: float, seed: int) -> MCResult:
    """In-kernel Philox backend; see ``helpers.mc.price_options``."""
    import cupy

    mean, stderr = price_on_device(cupy.asarray(X), n_paths, n_steps, T, seed)
    return MCResult(cupy.asnumpy(mean), cupy.asnumpy(stderr), n_paths, n_steps, "cupy")


def normals_buffer_bytes(n_options: int, n_paths: int, n_steps: int) -> int:
    """Bytes of the float32 normals buffer the article's kernel reads."""
    return 4 * n_options * n_paths * n_steps


def price_article(X: np.ndarray, n_paths: int, n_steps: int, T: float, seed: int) -> MCResult:
    """The article's kernel with its pre-generated normals; see ``helpers.mc.price_options``.

    Raises:
        ValueError: when the normals buffer would not fit in the GPU's free memory.
    """
    import cupy

    n_options = X.shape[0]
    need = normals_buffer_bytes(n_options, n_paths, n_steps) + 4 * n_options * n_paths
    free = cupy.cuda.runtime.memGetInfo()[0] + cupy.get_default_memory_pool().free_bytes()
    if need > free:
        raise ValueError(
            f"backend 'cupy-article' needs {need / 2**30:.1f} GiB for its normals buffer "
            f"({n_options} x {n_paths} x {n_steps} float32) but the GPU has {free / 2**30:.1f} GiB "
            "free; use backend='cupy', which draws normals in the kernel"
        )
    kernel = _module().get_function("batched_barrier_option")
    normals = cupy.random.default_rng(seed).standard_normal(
        n_options * n_paths * n_steps, dtype=cupy.float32
    )
    out = cupy.empty(n_options * n_paths, dtype=cupy.float32)
    cols = [cupy.ascontiguousarray(cupy.asarray(X[:, j], dtype=cupy.float32)) for j in range(6)]
    grid, block = launch_config(n_options, n_paths, _multiprocessors())["article"]
    kernel(
        (min(grid[0], 2**31 - 1),),
        block,
        (out, np.float32(T), *cols, normals,
         np.int64(n_steps), np.int64(n_paths), np.int64(n_options)),
    )  # fmt: skip
    payoff = out.reshape(n_options, n_paths).astype(cupy.float64)
    return from_moments(
        cupy.asnumpy(payoff.sum(axis=1)),
        cupy.asnumpy((payoff**2).sum(axis=1)),
        n_paths,
        n_steps,
        "cupy-article",
    )


TAPE_BUDGET_BYTES = 2**30
"""GPU memory for the adjoint's tapes in one launch (each thread owns ``n_steps`` x 4 float64):
a batch whose threads would need more is priced in several launches."""


def price_survival(
    X: np.ndarray, n_paths: int, n_steps: int, T: float, seed: int, greeks: bool, gamma: bool
) -> MCResult:
    """The survival-conditioned estimator and, with ``greeks``, its adjoint Greeks on the GPU
    (``barrier_option_survival_greeks``); see ``helpers.mc.price_options``.

    The same paths as the ``numba`` backend's ``helpers.mc.adjoint``, in double precision.
    """
    import cupy

    from . import adjoint

    kernel = _module().get_function("barrier_option_survival_greeks")
    key0, key1 = (np.uint32(k) for k in split_seed(seed))
    n_options = X.shape[0]
    d_X = cupy.ascontiguousarray(cupy.asarray(X, dtype=cupy.float64))
    (blocks_x, _), _ = launch_config(n_options, n_paths, _multiprocessors())["philox"]
    tape_per_option = blocks_x * THREADS_PER_BLOCK * n_steps * adjoint.TAPE_COLUMNS * 8
    rows_per_launch = int(max(1, min(MAX_GRID_Y, TAPE_BUDGET_BYTES // tape_per_option)))
    tapes = cupy.empty(rows_per_launch * tape_per_option // 8, dtype=cupy.float64)
    partial = cupy.empty((n_options, blocks_x, 16), dtype=cupy.float64)
    gamma_bump = adjoint.GAMMA_BUMP if greeks and gamma else 0.0
    for start in range(0, n_options, rows_per_launch):
        rows = min(rows_per_launch, n_options - start)
        kernel(
            (blocks_x, rows),
            (THREADS_PER_BLOCK,),
            (partial[start:], tapes, d_X, np.uint32(start), np.float64(T), np.uint32(n_steps),
             np.uint32(n_paths), key0, key1, np.float64(gamma_bump), np.int32(greeks)),
        )  # fmt: skip
    sums = cupy.asnumpy(partial.sum(axis=1))  # (n_options, 16)
    mean, stderr = mean_and_stderr(sums[:, :8], sums[:, 8:], n_paths)
    result = MCResult(mean[:, 0], stderr[:, 0], n_paths, n_steps, "cupy", "survival")
    if not greeks:
        return result
    names = adjoint.OUTPUTS[1:] if gamma else adjoint.OUTPUTS[1:-1]
    return replace(
        result,
        greeks={name: mean[:, 1 + k] for k, name in enumerate(names)},
        greeks_stderr={name: stderr[:, 1 + k] for k, name in enumerate(names)},
    )
