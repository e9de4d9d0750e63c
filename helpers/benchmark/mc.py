"""The Monte Carlo backends (Chapter 1): path-steps per second of every backend, QuantLib's
anchor, the CPU kernel taken apart, and the article's GPU kernel where there is a GPU.

All rates are *path-steps per second*: options x paths x steps simulated, over wall seconds. The
workload is a batch of Asian options (barrier ``B = 0``, drift ``mu = r``), so no path is knocked
out early and every path really takes every step, as in QuantLib's engine, the ratio anchor.
Each timing follows a warm-up call (compilation is not timed) and takes the best of ``repeats``;
QuantLib's anchor, which compiles nothing, takes the best of 2 runs with no warm-up.
"""

from __future__ import annotations

import os
from dataclasses import asdict

import numpy as np

from ..core import config, machine
from ..core.domain import ARTICLE_MC_EXAMPLE, sample_options
from ..mc import available_backends, price_options
from ..mc.numba_backend import LANES
from .common import Timing, best_seconds

ANCHOR_OPTION = {"S0": 100.0, "K": 100.0, "sigma": 0.2, "r": 0.05}
"""The at-the-money Asian call timed on QuantLib and on every backend with the same paths."""


GPU_PATHS = 8_192
"""Paths per option when a CuPy kernel is timed: with ``throughput_options`` = 4,800 options and
365 steps, 1.4e10 path-steps, tens of milliseconds at the GPU target, long enough to measure."""


GPU_TARGET = 5e11
"""Path-steps per second the ``cupy`` backend (in-kernel Philox RNG) should reach on an H100."""


def asian_batch(n_options: int, seed: int = 0) -> np.ndarray:
    """``n_options`` options from the article's domain with ``B = 0`` and ``mu = r`` (Asian calls).

    Returns:
        Array of shape ``(n_options, 6)``.
    """
    X = sample_options(n_options, np.random.default_rng(seed), dtype=np.float64)
    X[:, 1] = 0.0
    X[:, 4] = X[:, 5]
    return X


def _threads(backend: str) -> int:
    """CPU threads a backend uses; 0 for a GPU."""
    if backend == "numba":
        import numba

        return numba.get_num_threads()
    return 0 if backend.startswith("cupy") else 1


def time_backend(
    backend: str, X: np.ndarray, n_paths: int, n_steps: int = 365, repeats: int = 3
) -> Timing:
    """Times ``price_options`` on ``X`` (shape ``(n, 6)``) with one backend.

    Results come back as NumPy arrays, so GPU work is finished when the clock stops.
    """
    seconds = best_seconds(
        lambda: price_options(X, n_paths, n_steps=n_steps, seed=1, backend=backend), repeats
    )
    if backend.startswith("cupy"):
        _release_gpu_memory()
    return Timing("batch", backend, X.shape[0], n_paths, n_steps, _threads(backend), seconds)


def _release_gpu_memory() -> None:
    """Hands CuPy's cached blocks (the article's normals buffer) back to the driver, so that the
    next measurement (PyTorch's, say) finds the GPU's memory free."""
    import cupy

    cupy.get_default_memory_pool().free_all_blocks()


def gpu_free_bytes() -> int:
    """Free GPU memory in bytes, CuPy's cached blocks included (as ``price_article`` counts)."""
    import cupy

    return cupy.cuda.runtime.memGetInfo()[0] + cupy.get_default_memory_pool().free_bytes()


def anchor_option() -> np.ndarray:
    """``ANCHOR_OPTION`` as a batch of shape ``(1, 6)`` (``B = 0``, ``mu = r``)."""
    o = ANCHOR_OPTION
    return np.array([[o["K"], 0.0, o["S0"], o["sigma"], o["r"], o["r"]]])


def time_quantlib(n_paths: int, n_steps: int = 365, repeats: int = 2) -> Timing:
    """Times QuantLib's Monte Carlo on ``ANCHOR_OPTION`` (one core) with ``n_paths`` paths.

    QuantLib is imported here, not with the module, so that the GPU measurements of this module
    (``make gpu-check``) run on a machine without it.
    """
    from ..mc import quantlib_ref

    o = ANCHOR_OPTION
    seconds = min(
        quantlib_ref.arithmetic_asian_mc(
            o["S0"], o["K"], o["sigma"], o["r"], n_fixings=n_steps, n_paths=n_paths, seed=7 + i
        ).seconds
        for i in range(repeats)
    )
    return Timing("anchor", "quantlib", 1, n_paths, n_steps, 1, seconds)


def time_numba_anchor(n_paths: int, threads: int, n_steps: int = 365) -> Timing:
    """Times the numba backend on ``ANCHOR_OPTION`` with ``threads`` threads."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        t = time_backend("numba", anchor_option(), n_paths, n_steps)
    finally:
        numba.set_num_threads(before)
    return Timing("anchor", "numba", 1, n_paths, n_steps, threads, t.seconds)


NUMBA_ANCHOR_PATHS_FACTOR = 10
"""The numba backend prices the anchor with this many times QuantLib's paths: at QuantLib's
20,000 paths it finishes in milliseconds, too short to time threads reliably."""


CPU_TARGET_X_QUANTLIB = 40.0
"""The numba backend on one thread should price at least this many times QuantLib's rate."""


CPU_TARGET_THREAD_SCALING = 1.8
"""Two threads should price at least this many times one thread's rate."""


def time_numba_knockout(n_paths: int, threads: int, n_steps: int = 365) -> Timing:
    """Times the numba backend on ``ARTICLE_MC_EXAMPLE`` with ``threads`` threads.

    Its rate counts every path as taking every step (options x paths x steps over seconds):
    a knocked-out path's skipped steps count as done, so the figure shows what early exits buy.
    """
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        t = time_backend("numba", ARTICLE_MC_EXAMPLE, n_paths, n_steps)
    finally:
        numba.set_num_threads(before)
    return Timing("knock-out", "numba", len(ARTICLE_MC_EXAMPLE), n_paths, n_steps, threads,
                  t.seconds)  # fmt: skip


def time_kernel_parts(n_paths: int = 20_000, n_steps: int = 365, repeats: int = 3) -> dict:
    """Where the CPU kernel's time goes, on one thread (``helpers.mc.kernel_parts``).

    Times, best of ``repeats`` after a warm-up, on ``ANCHOR_OPTION``: the former kernel (one path
    at a time, libm normals) and its normals alone; the block kernel's Philox words alone, its
    normals alone and its Euler steps alone (on normals drawn once); and the whole block kernel
    (the numba backend on one thread). A normal is one path-step's random numbers, so all are
    path-steps per second.

    Returns:
        ``{"paths", "steps", "rates": {part: path-steps per second}}`` with parts
        ``libm_kernel``, ``libm_normals``, ``block_philox``, ``block_normals``, ``block_steps``
        and ``block_kernel``.
    """
    from ..mc import kernel_parts

    x = anchor_option()[0]
    parts = {
        "libm_kernel": lambda: kernel_parts.libm_payoffs(x, n_paths, n_steps, 1.0),
        "libm_normals": lambda: kernel_parts.libm_normals(n_paths, n_steps),
        "block_philox": lambda: kernel_parts.block_philox(n_paths, n_steps),
        "block_normals": lambda: kernel_parts.block_normals(n_paths, n_steps),
        "block_steps": lambda: kernel_parts.block_steps(x, n_paths, n_steps, 1.0),
    }
    rates = {name: n_paths * n_steps / best_seconds(run, repeats) for name, run in parts.items()}
    kernel = time_numba_anchor(n_paths, threads=1, n_steps=n_steps)
    rates["block_kernel"] = kernel.path_steps_per_second
    return {"paths": n_paths, "steps": n_steps, "rates": rates}


def time_article_kernel(n_options: int, n_paths: int, n_steps: int = 365) -> dict:
    """GPU only: the article's launch split into drawing its normals and pricing with them.

    Times, best of 3 after a warm-up, (1) drawing the ``n_options * n_paths * n_steps`` float32
    normals with ``cupy.random``, (2) the article's whole launch (``price_article``: draw, kernel,
    reduction) and (3) the in-kernel Philox backend on the same batch. Pricing alone is (2) - (1).
    Each count is one normal per path-step, so every figure is also a rate in path-steps/s.

    Returns:
        The sizes, the device's name, the three times (``*_s``) and the rates
        (``*_path_steps_per_second``) of drawing, of pricing after the draw, of the whole launch
        and of the Philox kernel.
    """
    import cupy

    from ..mc import cupy_backend

    X = asian_batch(n_options)
    count = n_options * n_paths * n_steps

    def draw() -> None:
        cupy.random.default_rng(1).standard_normal(count, dtype=cupy.float32)
        cupy.cuda.Device().synchronize()

    figures = {
        "device": machine.describe_machine()["gpu"],
        "options": n_options,
        "paths": n_paths,
        "steps": n_steps,
        "generate_normals_s": best_seconds(draw, 3),
        "generate_and_price_s": best_seconds(
            lambda: cupy_backend.price_article(X, n_paths, n_steps, 1.0, 1), 3
        ),
    }
    _release_gpu_memory()
    figures["philox_kernel_s"] = time_backend("cupy", X, n_paths, n_steps).seconds
    pricing_s = figures["generate_and_price_s"] - figures["generate_normals_s"]
    figures |= {
        "normals_path_steps_per_second": count / figures["generate_normals_s"],
        "article_pricing_path_steps_per_second": count / pricing_s if pricing_s > 0 else None,
        "article_launch_path_steps_per_second": count / figures["generate_and_price_s"],
        "philox_path_steps_per_second": count / figures["philox_kernel_s"],
    }
    return figures


SLOW_BACKEND_OPTIONS = 64
"""Options in the batch for the NumPy reference and for numba.cuda under the CUDA simulator."""


def workload(backend: str, sizes: config.Sizes) -> tuple[np.ndarray, int]:
    """The batch ``X`` (shape ``(n, 6)``) and paths per option at which a backend is timed.

    The CPU backends get ``sizes.throughput_options`` x ``sizes.throughput_paths``; the NumPy
    reference (which holds every path in memory) and numba.cuda under the CUDA simulator (Python)
    get at most ``SLOW_BACKEND_OPTIONS`` options and their own, smaller path counts. The CuPy
    kernels get at least ``GPU_PATHS`` paths, so that a launch lasts long enough to time; for
    ``cupy-article`` the options are halved until its normals buffer (and its output) takes at
    most half the GPU's free memory, leaving room for the generator and for PyTorch.
    """
    X = asian_batch(sizes.throughput_options)
    simulated = backend == "numba-cuda" and os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    if backend == "numpy":
        return X[:SLOW_BACKEND_OPTIONS], sizes.numpy_paths
    if simulated:
        return X[:SLOW_BACKEND_OPTIONS], sizes.simulator_paths
    if backend == "cupy":
        return X, max(sizes.throughput_paths, GPU_PATHS)
    if backend == "cupy-article":
        from ..mc.cupy_backend import normals_buffer_bytes

        paths, room = max(sizes.throughput_paths, GPU_PATHS), gpu_free_bytes() // 2
        n = len(X)
        while n > 1 and normals_buffer_bytes(n, paths, 365) + 4 * n * paths > room:
            n //= 2
        return X[:n], paths
    return X, sizes.throughput_paths


def cpu_target_lines(result: dict) -> list[str]:
    """The CPU targets (``CPU_TARGET_*``) against this run's figures, as Markdown lines."""
    rate = {
        (t["name"], t["backend"], t["threads"]): t["path_steps_per_second"]
        for t in result["timings"]
    }
    quantlib = rate[("anchor", "quantlib", 1)]
    one = rate[("anchor", "numba", 1)]
    verdict = "met" if one >= CPU_TARGET_X_QUANTLIB * quantlib else "MISSED"
    lines = [
        "The course's target: numba on one thread at least"
        f" {CPU_TARGET_X_QUANTLIB:.0f}x QuantLib per core: {one / quantlib:.1f}x, {verdict}.",
    ]
    two = rate.get(("anchor", "numba", 2))
    if two:
        verdict = "met" if two >= CPU_TARGET_THREAD_SCALING * one else "MISSED"
        lines[0] += (
            " And its target for scaling: two threads at least"
            f" {CPU_TARGET_THREAD_SCALING}x one thread: {two / one:.2f}x, {verdict}."
        )
    knock = {k[2]: v for k, v in rate.items() if k[0] == "knock-out"}
    if knock:
        figures = ", ".join(
            f"{v:.3g} path-steps/s on {n} thread{'s' * (n > 1)}" for n, v in knock.items()
        )
        lines[0] += (
            " With the article's barriers (many paths knocked out, skipped steps counted as"
            f" done): {figures}."
        )
    return lines


def kernel_parts_lines(parts: dict) -> list[str]:
    """``time_kernel_parts``'s figures as a Markdown table and a sentence of shares.

    A kernel's time per path-step is taken as its normal's time plus its step's time, and a
    normal's as its Philox words' time plus Box-Muller's, so a part's share of a kernel is
    ``kernel rate / part rate`` (Box-Muller's: the normals' share less Philox's).
    """
    r = parts["rates"]
    rows = [
        ("former kernel: one path at a time, libm normals", r["libm_kernel"]),
        ("its normals alone", r["libm_normals"]),
        (f"block kernel: {LANES} paths at once, polynomial normals", r["block_kernel"]),
        ("its Philox words alone", r["block_philox"]),
        ("its normals alone (Philox and Box-Muller)", r["block_normals"]),
        ("its Euler steps alone (normals drawn once)", r["block_steps"]),
    ]
    normals_share = r["block_kernel"] / r["block_normals"]
    philox_share = r["block_kernel"] / r["block_philox"]
    lines = [
        "| part (one thread, Asian option) | path-steps/s | ns per path-step |",
        "|---|---|---|",
        *(f"| {name} | {value:.3g} | {1e9 / value:.2f} |" for name, value in rows),
        "",
        f"Random numbers take {r['libm_kernel'] / r['libm_normals']:.0%} of the former kernel's"
        f" time and {normals_share:.0%} of the block kernel's (Philox {philox_share:.0%},"
        f" Box-Muller {normals_share - philox_share:.0%}); the block kernel is"
        f" {r['block_kernel'] / r['libm_kernel']:.1f}x the former, and"
        f" {r['block_kernel'] / r['block_steps']:.0%} of the step-loop-only limit.",
    ]
    return lines


def measure(sizes: config.Sizes, anchor_paths: int = 20_000) -> dict:
    """Every backend's rate, QuantLib's anchor, the CPU kernel's parts and, on a GPU, the
    article's kernel: ``results.json``'s ``timings``, ``kernel_parts``, ``article_kernel``
    and ``cuda_simulator``."""
    cores = os.cpu_count() or 1
    numba_paths = NUMBA_ANCHOR_PATHS_FACTOR * anchor_paths
    timings = [
        time_quantlib(anchor_paths),
        time_numba_anchor(numba_paths, threads=1),
        time_numba_anchor(numba_paths, threads=cores),
        time_numba_knockout(numba_paths, threads=1),
        time_numba_knockout(numba_paths, threads=cores),
    ]
    backends = available_backends()
    timings += [time_backend(b, *workload(b, sizes)) for b in backends]
    result = {
        "cuda_simulator": os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1",
        "timings": [
            asdict(t) | {"path_steps_per_second": t.path_steps_per_second} for t in timings
        ],
        "kernel_parts": time_kernel_parts(anchor_paths),
    }
    if "cupy" in backends:
        X, paths = workload("cupy-article", sizes)
        result["article_kernel"] = time_article_kernel(len(X), paths)
    return result


def lines(result: dict) -> list[str]:
    """The backends' section of ``bench/results.md``: the rates, the targets, the kernel's
    parts, the article's kernel, and what was not measured here."""
    if "timings" not in result:
        return []
    rate = {
        (t["name"], t["backend"], t["threads"]): t["path_steps_per_second"]
        for t in result["timings"]
    }
    quantlib = rate[("anchor", "quantlib", 1)]
    out = [
        "Rates are path-steps per second (options x paths x steps / wall seconds), on Asian"
        " options (B = 0, mu = r) so that every path takes every step. Each backend: best of 3"
        " after a warm-up call (compilation is not timed). QuantLib's anchor: best of 2 runs"
        " (seeds differ), no warm-up, as it compiles nothing.",
        "",
        "| workload | backend | threads | options | paths | steps | seconds | path-steps/s"
        " | x QuantLib per core |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for t in result["timings"]:
        per_core = t["path_steps_per_second"] / max(t["threads"], 1) / quantlib
        if t["backend"] == "numba-cuda" and result.get("cuda_simulator"):
            ratio = "(CUDA simulator)"
        else:
            ratio = f"{per_core:.1f}" if t["threads"] else "(GPU)"
        out.append(
            f"| {t['name']} | {t['backend']} | {t['threads'] or 'GPU'} | {t['options']}"
            f" | {t['paths']} | {t['steps']} | {t['seconds']:.4f}"
            f" | {t['path_steps_per_second']:.3g} | {ratio} |"
        )
    if rate.get(("anchor", "numba", 1)):
        out += ["", *cpu_target_lines(result)]
    if "kernel_parts" in result:
        k = result["kernel_parts"]
        out += [
            "",
            f"## Where the CPU kernel's time goes ({k['paths']} paths x {k['steps']} steps)",
            "",
            *kernel_parts_lines(k),
        ]
    cupy_rates = [t["path_steps_per_second"] for t in result["timings"] if t["backend"] == "cupy"]
    if cupy_rates:
        device = result.get("machine", {}).get("gpu", "an unnamed GPU")
        verdict = "met" if max(cupy_rates) >= GPU_TARGET else "MISSED"
        caveat = "" if "H100" in device else " (the target is for an H100: indicative only)"
        out += [
            "",
            "The course's GPU target: cupy (in-kernel Philox RNG) at least"
            f" {GPU_TARGET:.0e} path-steps/s on an H100: {max(cupy_rates):.3g} on {device},"
            f" {verdict}{caveat}.",
        ]
    if "article_kernel" in result:
        out += ["", *article_kernel_lines(result["article_kernel"])]
    if not cupy_rates:
        out += [
            "",
            "No CUDA GPU on this machine: the CuPy kernels were not timed, and the course's GPU"
            " target (5e11 path-steps/s with in-kernel RNG on an H100) is not measured here.",
        ]
    if result.get("cuda_simulator"):
        out += ["", "numba-cuda ran under the CUDA simulator (Python on the CPU), not on a GPU."]
    return out


def article_kernel_lines(a: dict) -> list[str]:
    """``time_article_kernel``'s figures as a sentence."""
    alone = a.get("article_pricing_path_steps_per_second")
    return [
        f"Article's kernel on {a.get('device', 'the GPU')}, {a['options']} options x"
        f" {a['paths']} paths x {a['steps']} steps (one normal per path-step), best of 3"
        f" after a warm-up: drawing the normals {a['generate_normals_s']:.4f} s"
        f" ({a['normals_path_steps_per_second']:.3g} path-steps/s); drawing and pricing"
        f" {a['generate_and_price_s']:.4f} s"
        f" ({a['article_launch_path_steps_per_second']:.3g} path-steps/s), so pricing alone"
        + (f" {alone:.3g} path-steps/s;" if alone else " too short to separate;")
        + f" in-kernel Philox on the same batch {a['philox_kernel_s']:.4f} s"
        f" ({a['philox_path_steps_per_second']:.3g} path-steps/s).",
    ]
