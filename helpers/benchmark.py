"""Throughput measurements of the Monte Carlo backends, for Chapter 1 and ``make bench``.

All rates are *path-steps per second*: options x paths x steps simulated, over wall seconds. The
workload is a batch of Asian options (barrier ``B = 0``, drift ``mu = r``), so no path is knocked
out early and every path really takes every step, as in QuantLib's engine, the ratio anchor.
Each timing follows a warm-up call (compilation is not timed) and takes the best of ``repeats``;
QuantLib's anchor, which compiles nothing, takes the best of 2 runs with no warm-up.

Run ``python -m helpers.benchmark --out bench`` (``make bench``) to write ``results.md`` and
``results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import config, quantlib_ref
from .domain import sample_options
from .mc import available_backends, price_options
from .mc.numba_backend import LANES

ANCHOR_OPTION = {"S0": 100.0, "K": 100.0, "sigma": 0.2, "r": 0.05}
"""The at-the-money Asian call timed on QuantLib and on every backend with the same paths."""

GPU_PATHS = 8_192
"""Paths per option when a CuPy kernel is timed: with ``throughput_options`` = 4,800 options and
365 steps, 1.4e10 path-steps, tens of milliseconds at the GPU target, long enough to measure."""

GPU_TARGET = 5e11
"""Path-steps per second the ``cupy`` backend (in-kernel Philox RNG) should reach on an H100."""


@dataclass(frozen=True)
class Timing:
    """One measured run: what was priced, on what, how fast."""

    name: str
    backend: str
    options: int
    paths: int
    steps: int
    threads: int
    seconds: float

    @property
    def path_steps_per_second(self) -> float:
        return self.options * self.paths * self.steps / self.seconds


def asian_batch(n_options: int, seed: int = 0) -> np.ndarray:
    """``n_options`` options from the article's domain with ``B = 0`` and ``mu = r`` (Asian calls).

    Returns:
        Array of shape ``(n_options, 6)``.
    """
    X = sample_options(n_options, np.random.default_rng(seed), dtype=np.float64)
    X[:, 1] = 0.0
    X[:, 4] = X[:, 5]
    return X


def _best_seconds(run, repeats: int, warm_up: bool = True) -> float:
    if warm_up:
        run()  # warm-up: JIT compilation, kernel loading, caches
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return float(best)


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
    seconds = _best_seconds(
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
    """Times QuantLib's Monte Carlo on ``ANCHOR_OPTION`` (one core) with ``n_paths`` paths."""
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


ARTICLE_OPTIONS = np.array(
    [
        [110.0, 100.0, 120.0, 0.35, 0.15, 0.05],
        [120.0, 90.0, 100.0, 0.20, 0.10, 0.05],
    ]
)
"""The article's two-option example, shape ``(2, 6)``: barriers that knock out many paths."""

NUMBA_ANCHOR_PATHS_FACTOR = 10
"""The numba backend prices the anchor with this many times QuantLib's paths: at QuantLib's
20,000 paths it finishes in milliseconds, too short to time threads reliably."""

CPU_TARGET_X_QUANTLIB = 40.0
"""The numba backend on one thread should price at least this many times QuantLib's rate."""

CPU_TARGET_THREAD_SCALING = 1.8
"""Two threads should price at least this many times one thread's rate."""


def time_numba_knockout(n_paths: int, threads: int, n_steps: int = 365) -> Timing:
    """Times the numba backend on ``ARTICLE_OPTIONS`` with ``threads`` threads.

    Its rate counts every path as taking every step (options x paths x steps over seconds):
    a knocked-out path's skipped steps count as done, so the figure shows what early exits buy.
    """
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        t = time_backend("numba", ARTICLE_OPTIONS, n_paths, n_steps)
    finally:
        numba.set_num_threads(before)
    return Timing("knock-out", "numba", len(ARTICLE_OPTIONS), n_paths, n_steps, threads,
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
    from .mc import kernel_parts

    x = anchor_option()[0]
    parts = {
        "libm_kernel": lambda: kernel_parts.libm_payoffs(x, n_paths, n_steps, 1.0),
        "libm_normals": lambda: kernel_parts.libm_normals(n_paths, n_steps),
        "block_philox": lambda: kernel_parts.block_philox(n_paths, n_steps),
        "block_normals": lambda: kernel_parts.block_normals(n_paths, n_steps),
        "block_steps": lambda: kernel_parts.block_steps(x, n_paths, n_steps, 1.0),
    }
    rates = {name: n_paths * n_steps / _best_seconds(run, repeats) for name, run in parts.items()}
    kernel = time_numba_anchor(n_paths, threads=1, n_steps=n_steps)
    rates["block_kernel"] = kernel.path_steps_per_second
    return {"paths": n_paths, "steps": n_steps, "rates": rates}


ADJOINT_TARGET = 2.5
"""The adjoint's cost ratio R = time(price and six Greeks) / time(price) should stay below it."""


def time_adjoint(n_paths: int = 5_000, n_steps: int = 365, repeats: int = 5) -> dict:
    """The adjoint Greeks' cost on ``ARTICLE_OPTIONS`` with the survival estimator (Chapter 8).

    Times, best of ``repeats`` interleaved runs after a warm-up, on one thread and on every
    core: the price alone; the price and its six first-order Greeks (one forward and one reverse
    sweep per path); the same with gamma (two more sweeps per path); and bump-and-revalue, 13
    prices of the same estimator at the same paths per price (``bump_and_revalue_batch``, in one
    batch). Then, on
    one thread, torch autograd through the same estimator (``helpers.mc.autograd``) and the
    bytes of its tape, against the hand adjoint's tape (``TAPE_COLUMNS`` float64 per step of
    each path in flight).

    Returns:
        A JSON-ready dictionary of seconds, ratios and bytes.
    """
    import numba
    import torch

    from .mc import adjoint, autograd
    from .mc.philox import split_seed

    X = ARTICLE_OPTIONS
    key = split_seed(1)
    bumped = bump_and_revalue_batch(X)

    def run(greeks: bool, gamma: bool = False) -> None:
        adjoint.moments(X, n_paths, n_steps, 1.0, *key, "survival", adjoint.DEFAULT_WIDTH,
                        greeks=greeks, with_gamma=gamma)  # fmt: skip

    result = {"options": len(X), "paths": n_paths, "steps": n_steps, "threads": {}}
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, os.cpu_count() or 1}):
            numba.set_num_threads(threads)
            # interleaved, best of each: a drift of the clock speed cannot favour one of them
            runs = {
                "price": lambda: run(False),
                "greeks": lambda: run(True),
                "gamma": lambda: run(True, True),
                "bump": lambda: price_options(bumped, n_paths, n_steps, seed=1, method="survival"),
            }
            for measure in runs.values():
                measure()  # warm-up: compilation
            best = dict.fromkeys(runs, np.inf)
            for _ in range(repeats):
                for name, measure in runs.items():
                    best[name] = min(best[name], _best_seconds(measure, 1, warm_up=False))
            price, greeks, gamma, bump = (best[k] for k in ("price", "greeks", "gamma", "bump"))
            result["threads"][str(threads)] = {
                "price_s": price,
                "greeks_s": greeks,
                "greeks_and_gamma_s": gamma,
                "bump_and_revalue_s": bump,
                "R": greeks / price,
                "R_with_gamma": gamma / price,
            }
        numba.set_num_threads(1)
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        autograd.price_and_greeks(X, 2, 4, seed=1)  # warm-up: compiles the stream's kernel
        start = time.perf_counter()
        with autograd.tape_bytes() as saved:
            autograd.price_and_greeks(X, n_paths, n_steps, seed=1)
        result["autograd_s"] = time.perf_counter() - start
        result["autograd_tape_bytes"] = saved[0]
        torch.set_num_threads(torch_threads)
    finally:
        numba.set_num_threads(before)
    result["adjoint_tape_bytes_per_thread"] = n_steps * adjoint.TAPE_COLUMNS * 8
    return result


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

    from .mc import cupy_backend

    X = asian_batch(n_options)
    count = n_options * n_paths * n_steps

    def draw() -> None:
        cupy.random.default_rng(1).standard_normal(count, dtype=cupy.float32)
        cupy.cuda.Device().synchronize()

    figures = {
        "device": config.describe_machine()["gpu"],
        "options": n_options,
        "paths": n_paths,
        "steps": n_steps,
        "generate_normals_s": _best_seconds(draw, 3),
        "generate_and_price_s": _best_seconds(
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
        from .mc.cupy_backend import normals_buffer_bytes

        paths, room = max(sizes.throughput_paths, GPU_PATHS), gpu_free_bytes() // 2
        n = len(X)
        while n > 1 and normals_buffer_bytes(n, paths, 365) + 4 * n * paths > room:
            n //= 2
        return X[:n], paths
    return X, sizes.throughput_paths


def time_dataset(sizes: config.Sizes, items: int = 5) -> dict[str, float]:
    """Labelling rate of the streaming dataset at the sizes' training batch (Chapter 2)."""
    from .data import OptionDataSet, labelling_rate

    dataset = OptionDataSet(items, n_paths=sizes.train_paths, batch=sizes.train_batch, seed=1)
    return {"device": str(dataset.device), "batch": sizes.train_batch,
            "paths": sizes.train_paths} | labelling_rate(dataset)  # fmt: skip


def time_precisions(sizes: config.Sizes, steps: int = 20) -> dict[str, float]:
    """Mean training step in full and mixed precision, same batches, one run (Chapter 4)."""
    import torch

    from .data import OptionDataSet, default_device
    from .model import Net
    from .train import autocast_dtype, compare_precisions

    device = default_device()
    batches = list(OptionDataSet(steps, n_paths=16, batch=sizes.train_batch, seed=4))
    torch.manual_seed(0)
    runs = compare_precisions(Net(hidden=sizes.hidden), batches, device=device,
                              lr_start=sizes.lr_start, lr_end=sizes.lr_end)  # fmt: skip
    full, mixed = runs["float32"].timer.value(), runs["mixed"].timer.value()
    return {
        "device": str(device),
        "mixed_dtype": str(autocast_dtype(device)).replace("torch.", ""),
        "batch": sizes.train_batch,
        "hidden": sizes.hidden,
        "steps": steps,
        "float32_ms": 1000 * full,
        "mixed_ms": 1000 * mixed,
        "mixed_over_float32": mixed / full,
    }


def time_datagen(sizes: config.Sizes, folder: Path, shards: int = 8) -> dict[str, float]:
    """Options generated per second by ``helpers.datagen`` with 1 and 2 Dask CPU workers.

    Wall time of the whole ``generate`` call, so the cluster's start (processes, imports, JIT)
    is included, as a user pays it. On a GPU machine the cluster is one worker per GPU, so the
    2-worker figure is not separate there.
    """
    from . import datagen

    figures = {"shards": shards, "options_per_shard": sizes.options_per_shard,
               "paths": sizes.shard_paths}  # fmt: skip
    for workers in (1, 2):
        start = time.perf_counter()
        datagen.generate(folder / f"workers{workers}", shards, sizes.options_per_shard,
                         sizes.shard_paths, seed=11, workers=workers, progress=False)  # fmt: skip
        seconds = time.perf_counter() - start
        figures[f"options_per_second_{workers}"] = shards * sizes.options_per_shard / seconds
    figures["ratio_2_over_1"] = figures["options_per_second_2"] / figures["options_per_second_1"]
    return figures


def time_training_sources(sizes: config.Sizes, folder: Path, steps: int = 20) -> dict:
    """Training samples per second from files (Chapter 6) and from the streaming dataset
    (Chapter 2), same network and batch, one process, data loading included."""
    import torch
    from torch.utils.data import DataLoader

    from .data import FileOptionDataSet, OptionDataSet, default_device
    from .model import Net
    from .train import make_trainer

    device = default_device()
    files = DataLoader(FileOptionDataSet(str(folder / "workers1"), device=device),
                       batch_size=sizes.train_batch, shuffle=True, drop_last=True)  # fmt: skip
    streaming = OptionDataSet(steps, n_paths=sizes.train_paths, batch=sizes.train_batch, seed=9)
    rates = {}
    for name, data in (("files", files), ("streaming", streaming)):
        model = Net(hidden=sizes.hidden).to(device)
        trainer = make_trainer(model, torch.optim.Adam(model.parameters()), device=device)
        trainer.run(data, max_epochs=1, epoch_length=2)  # warm-up: JIT, allocations
        start = time.perf_counter()
        trainer.run(data, max_epochs=1, epoch_length=steps)
        rates[f"{name}_samples_per_second"] = (
            steps * sizes.train_batch / (time.perf_counter() - start)
        )
    rates["files_over_streaming"] = (
        rates["files_samples_per_second"] / rates["streaming_samples_per_second"]
    )
    return {"device": str(device), "batch": sizes.train_batch, "steps": steps} | rates


GREEKS_BUMP = 0.01
"""Bump-and-revalue step of each input, as a fraction of its range (``DOMAIN_HIGH``)."""


def bump_and_revalue_batch(X: np.ndarray, fraction: float = GREEKS_BUMP) -> np.ndarray:
    """The 13 rows per option that bump-and-revalue Greeks price: the option itself, then each of
    its six inputs bumped up and down (central differences; gamma reuses the base price).

    A bump is ``fraction`` of the input's range; a bump below zero stops at zero.

    Args:
        X: options, shape ``(n, 6)``.

    Returns:
        Array of shape ``(13 n, 6)``: rows ``13 i .. 13 i + 12`` belong to option ``i``.
    """
    from .domain import DOMAIN_HIGH

    X = np.asarray(X, dtype=np.float64)
    shifts = np.zeros((13, 6))
    for j in range(6):
        shifts[1 + 2 * j, j], shifts[2 + 2 * j, j] = 1.0, -1.0
    rows = X[:, None, :] + shifts[None, :, :] * fraction * DOMAIN_HIGH
    return np.maximum(rows, 0.0).reshape(-1, 6)


def time_inference(
    sizes: config.Sizes,
    batches: tuple[int, ...] = (1, 1_000, 1_000_000),
    *,
    mc_options: int = 64,
    greeks_options: int | None = None,
) -> dict:
    """The shipped network against Monte Carlo at equal accuracy (Chapter 7).

    Monte Carlo gets the number of paths whose standard error equals the network's test MAE,
    ``(payoff standard deviation / MAE)^2``, the payoff's standard deviation taken from the test
    set's own labels; both price the same options from the test set. The network runs on
    ``helpers.data.default_device()`` (synchronised before the clock stops on CUDA); a network
    batch is timed best of 3 after a warm-up (best of 1 from 100,000 options), Monte Carlo once
    after a small warm-up call that compiles its kernel.

    Bump-and-revalue Greeks are timed for real: ``bump_and_revalue_batch`` (13 rows per option)
    of the first ``greeks_options`` test options (default 64 on a GPU, 2 on a CPU), priced in
    one ``price_options`` call at the matched paths.

    Returns:
        A JSON-ready dictionary: ``device``, ``mae``, ``matched_paths``, the network's options per
        second by batch, Monte Carlo's, the speed-up, and the Greeks rates of both.
    """
    import torch

    from . import greeks, pretrain, pricing
    from .data import default_device
    from .model import DATA_DIR, load_pretrained

    device = default_device()
    model = load_pretrained(device)
    X, mc_price, mc_stderr = pretrain.load_test_set(DATA_DIR)
    mae = float(np.abs(pricing.price(model, X) - mc_price).mean())
    test_paths = json.loads((DATA_DIR / "test_options.json").read_text())["paths"]
    payoff_std = float(np.sqrt(np.mean(mc_stderr**2 * test_paths)))
    matched_paths = max(16, int((payoff_std / mae) ** 2))
    rng = np.random.default_rng(0)
    result = {"device": str(device), "mae": mae, "matched_paths": matched_paths,
              "network_options_per_second": {}}  # fmt: skip
    for batch in batches:
        x = torch.as_tensor(X[rng.integers(0, len(X), batch)], dtype=torch.float32, device=device)

        def run(x: torch.Tensor = x) -> None:
            with torch.no_grad():
                model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()

        seconds = _best_seconds(run, 3 if batch < 100_000 else 1)
        result["network_options_per_second"][str(batch)] = batch / seconds
    sample = X[:mc_options]
    price_options(sample[:1], 16, seed=3, backend=sizes.backend)  # compiles, loads the kernel
    mc_seconds = _best_seconds(
        lambda: price_options(sample, matched_paths, seed=3, backend=sizes.backend), 1, False
    )
    result["mc_options_per_second"] = len(sample) / mc_seconds
    result["speedup_at_equal_accuracy"] = (
        max(result["network_options_per_second"].values()) / result["mc_options_per_second"]
    )
    greeks_seconds = _best_seconds(lambda: greeks.greeks(model, X), 3)
    result["network_greeks_options_per_second"] = len(X) / greeks_seconds
    if greeks_options is None:
        greeks_options = 64 if device.type == "cuda" else 2
    bumped = bump_and_revalue_batch(X[:greeks_options])
    bump_seconds = _best_seconds(
        lambda: price_options(bumped, matched_paths, seed=3, backend=sizes.backend), 1, False
    )
    result["mc_greeks_options"] = greeks_options
    result["mc_greeks_options_per_second"] = greeks_options / bump_seconds
    return result


def run_all(sizes: config.Sizes | None = None, anchor_paths: int = 20_000) -> dict:
    """Every measurement of ``make bench``, in one run, as a JSON-ready dictionary."""
    sizes = sizes or config.sizes()
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
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": config.describe_machine(),
        "cuda_simulator": os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1",
        "timings": [
            asdict(t) | {"path_steps_per_second": t.path_steps_per_second} for t in timings
        ],
    }
    result["kernel_parts"] = time_kernel_parts(anchor_paths)
    result["adjoint"] = time_adjoint(max(anchor_paths // 4, 16))
    result["differential"] = time_differential()
    from .localvol.timing import time_basket

    result["localvol"] = time_basket()
    if "cupy" in backends:
        X, paths = workload("cupy-article", sizes)
        result["article_kernel"] = time_article_kernel(len(X), paths)
    result["dataset"] = time_dataset(sizes)
    result["training_step"] = time_precisions(sizes)
    with tempfile.TemporaryDirectory() as folder:
        result["datagen"] = time_datagen(sizes, Path(folder))
        result["training_sources"] = time_training_sources(sizes, Path(folder))
    from .model import DATA_DIR

    if (DATA_DIR / "pricer.json").exists():
        result["inference"] = time_inference(sizes)  # batches of 1, 1,000 and 1,000,000
        from .export.benchmark import time_quantized
        from .serve.benchmark import time_service

        result["quantized"] = time_quantized()
        result["service"] = time_service()
    return result


def to_markdown(result: dict) -> str:
    """The results as the Markdown page ``bench/results.md``."""
    rate = {
        (t["name"], t["backend"], t["threads"]): t["path_steps_per_second"]
        for t in result["timings"]
    }
    quantlib = rate[("anchor", "quantlib", 1)]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {result['date']} by `make bench` (`python -m helpers.benchmark`).",
        "",
        "Machine: " + ", ".join(f"{k} {v}" for k, v in result["machine"].items()),
        "",
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
        lines.append(
            f"| {t['name']} | {t['backend']} | {t['threads'] or 'GPU'} | {t['options']}"
            f" | {t['paths']} | {t['steps']} | {t['seconds']:.4f}"
            f" | {t['path_steps_per_second']:.3g} | {ratio} |"
        )
    numba_one = rate.get(("anchor", "numba", 1))
    if numba_one:
        lines += ["", *cpu_target_lines(result)]
    if "kernel_parts" in result:
        k = result["kernel_parts"]
        lines += [
            "",
            f"## Where the CPU kernel's time goes ({k['paths']} paths x {k['steps']} steps)",
            "",
            *kernel_parts_lines(k),
        ]
    cupy_rates = [t["path_steps_per_second"] for t in result["timings"] if t["backend"] == "cupy"]
    if cupy_rates:
        device = result["machine"].get("gpu", "an unnamed GPU")
        verdict = "met" if max(cupy_rates) >= GPU_TARGET else "MISSED"
        caveat = "" if "H100" in device else " (the target is for an H100: indicative only)"
        lines += [
            "",
            f"GPU target: cupy (in-kernel Philox RNG) at least {GPU_TARGET:.0e} path-steps/s on"
            f" an H100: {max(cupy_rates):.3g} on {device}, {verdict}{caveat}.",
        ]
    if "adjoint" in result:
        lines += ["", *adjoint_lines(result["adjoint"])]
    if "differential" in result:
        lines += ["", *differential_lines(result["differential"])]
    if "localvol" in result:
        from .localvol.timing import basket_lines

        lines += ["", *basket_lines(result["localvol"])]
    if "article_kernel" in result:
        a = result["article_kernel"]
        alone = a.get("article_pricing_path_steps_per_second")
        lines += [
            "",
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
    if "dataset" in result:
        d = result["dataset"]
        lines += [
            "",
            "## Streaming dataset (Chapter 2)",
            "",
            f"`OptionDataSet` on {d['device']}, {d['batch']} options x {d['paths']} paths per item:"
            f" {d['items_per_second']:.2f} items/s, {d['options_per_second']:,.0f} options/s,"
            f" {d['path_steps_per_second']:.3g} nominal path-steps/s"
            " (knocked-out paths stop early).",
        ]
    if "training_step" in result:
        t = result["training_step"]
        lines += [
            "",
            "## Training step, full against mixed precision (Chapter 4)",
            "",
            f"`Net(hidden={t['hidden']})`, batch {t['batch']}, {t['steps']} steps on the same"
            f" batches, on {t['device']}: float32 {t['float32_ms']:.2f} ms, mixed"
            f" ({t['mixed_dtype']}) {t['mixed_ms']:.2f} ms; ratio mixed / float32"
            f" {t['mixed_over_float32']:.2f} (article, V100 with apex O1: 12 ms to 8 ms, 0.67).",
        ]
    if "datagen" in result:
        g = result["datagen"]
        lines += [
            "",
            "## Datasets on disk with Dask (Chapter 6)",
            "",
            f"{g['shards']} shards x {g['options_per_shard']} options x {g['paths']} paths, whole"
            f" `generate` call (cluster start included): 1 worker"
            f" {g['options_per_second_1']:,.0f} options/s, 2 workers"
            f" {g['options_per_second_2']:,.0f} options/s; ratio {g['ratio_2_over_1']:.2f}."
            " Each worker runs Numba on cores / workers threads, so on one machine the ratio"
            " shows the Dask overhead; more workers pay off across machines (--scheduler).",
        ]
    if "training_sources" in result:
        t = result["training_sources"]
        lines += [
            "",
            f"Training samples per second on {t['device']}, batch {t['batch']}, {t['steps']} steps,"
            f" data included: from files {t['files_samples_per_second']:,.0f}, streaming"
            f" {t['streaming_samples_per_second']:,.0f}; files / streaming"
            f" {t['files_over_streaming']:.1f}x.",
        ]
    if "inference" in result:
        i = result["inference"]
        rates = ", ".join(
            f"batch {b}: {r:,.0f}" for b, r in i["network_options_per_second"].items()
        )
        lines += [
            "",
            "## Inference against Monte Carlo at equal accuracy (Chapter 7)",
            "",
            f"Network (test MAE {i['mae']:.4f}) on {i.get('device', 'cpu')}, options priced per"
            f" second: {rates}. Monte Carlo at the matching {i['matched_paths']:,} paths per"
            f" option: {i['mc_options_per_second']:,.1f} options/s. Speed-up"
            f" {i['speedup_at_equal_accuracy']:,.0f}x (the article's source claims about a"
            " million times on GPUs).",
            "",
            f"Greeks (all first derivatives and gamma): network"
            f" {i['network_greeks_options_per_second']:,.0f} options/s; bump-and-revalue Monte"
            f" Carlo, 13 prices per option at the matched paths, measured on"
            f" {i.get('mc_greeks_options', 'a few')} options in one call:"
            f" {i['mc_greeks_options_per_second']:,.2f} options/s.",
        ]
    if "quantized" in result:
        from .export.benchmark import quantized_lines

        lines += ["", *quantized_lines(result["quantized"])]
    if "service" in result:
        from .serve.benchmark import service_lines

        lines += ["", *service_lines(result["service"])]
    if not cupy_rates:
        lines += [
            "",
            "No CUDA GPU on this machine: the CuPy kernels were not timed, and the GPU target"
            " (5e11 path-steps/s with in-kernel RNG on an H100) is not measured here.",
        ]
    if result.get("cuda_simulator"):
        lines += ["", "numba-cuda ran under the CUDA simulator (Python on the CPU), not on a GPU."]
    return "\n".join(lines) + "\n"


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
        f"Target: numba on one thread at least {CPU_TARGET_X_QUANTLIB:.0f}x QuantLib per core:"
        f" {one / quantlib:.1f}x, {verdict}.",
    ]
    two = rate.get(("anchor", "numba", 2))
    if two:
        verdict = "met" if two >= CPU_TARGET_THREAD_SCALING * one else "MISSED"
        lines[0] += (
            f" Target: two threads at least {CPU_TARGET_THREAD_SCALING}x one thread:"
            f" {two / one:.2f}x, {verdict}."
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


def adjoint_lines(a: dict) -> list[str]:
    """``time_adjoint``'s figures as a Markdown section: a table by threads and a verdict."""
    lines = [
        f"## Adjoint Greeks (Chapter 8): survival estimator, {a['options']} options x"
        f" {a['paths']} paths x {a['steps']} steps",
        "",
        "| threads | price s | price + 6 Greeks s | R | with gamma s | R with gamma"
        " | bump-and-revalue (13 prices) s | bump-and-revalue / adjoint |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for threads, t in a["threads"].items():
        lines.append(
            f"| {threads} | {t['price_s']:.4f} | {t['greeks_s']:.4f} | {t['R']:.2f}"
            f" | {t['greeks_and_gamma_s']:.4f} | {t['R_with_gamma']:.2f}"
            f" | {t['bump_and_revalue_s']:.4f} | {t['bump_and_revalue_s'] / t['greeks_s']:.1f} |"
        )
    one = a["threads"]["1"]
    ratios = [t["R"] for t in a["threads"].values()]
    verdict = "met" if max(ratios) <= ADJOINT_TARGET else "MISSED"
    slower = a["autograd_s"] / one["greeks_s"]
    lines += [
        "",
        f"Target: R = time(price + 6 Greeks) / time(price) at most {ADJOINT_TARGET}:"
        f" {', '.join(f'{r:.2f}' for r in ratios)}, {verdict}"
        " (NAG's GPU adjoint: 522 ms / 367 ms = 1.4). Torch autograd through the same"
        f" estimator on one thread: {a['autograd_s']:.3f} s, {slower:.0f}x the hand adjoint;"
        f" its tape {a['autograd_tape_bytes'] / 2**20:,.1f} MiB against the hand adjoint's"
        f" {a['adjoint_tape_bytes_per_thread'] / 2**10:,.1f} KiB per thread.",
    ]
    return lines


def time_differential(n_options: int = 1_024, n_paths: int = 128, steps: int = 20) -> dict:
    """Chapter 9's costs: labels with and without their adjoint derivatives, and a training step
    of the shipped architecture with and without the derivative term, in one run.

    Labels: ``n_options`` options from the domain, ``n_paths`` paths each, the survival
    estimator's price alone against price and six sensitivities (``gamma=False``), and the plain
    estimator against its control-variate version (rates and the ratio of mean standard
    errors), all threads.
    Training: ``data/pricer.json``'s architecture (or the recipe's default) at batch 1,024 on
    one thread, the mean of ``steps`` steps after two warm-up steps. With ``data/curves.json``
    the options each method needs for a test MAE of 0.05 (``options_needed``) are added.
    """
    import json

    import torch

    from .differential import differential_loss, label_scales, make_pricer
    from .domain import sample_options
    from .mc import price_options
    from .model import DATA_DIR

    X = sample_options(n_options, np.random.default_rng(9))
    price_options(X[:4], 8, seed=1, method="survival")  # compile both kernels
    price_options(X[:4], 8, seed=1, method="survival", greeks=True, gamma=False)
    price_s = _best_seconds(lambda: price_options(X, n_paths, seed=2, method="survival"), 2)
    greeks_s = _best_seconds(lambda: price_options(X, n_paths, seed=2, method="survival",
                                                   greeks=True, gamma=False), 2)  # fmt: skip
    plain, control = (price_options(X, n_paths, seed=2, method=m) for m in ("plain", "control"))
    plain_s = _best_seconds(lambda: price_options(X, n_paths, seed=2, method="plain"), 2)
    control_s = _best_seconds(lambda: price_options(X, n_paths, seed=2, method="control"), 2)
    meta = DATA_DIR / "pricer.json"
    architecture = {"kind": "homogeneous", "hidden": 256, "layers": 4, "activation": "elu"}
    if meta.exists():
        architecture = json.loads(meta.read_text())["architecture"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.as_tensor(sample_options(1_024, np.random.default_rng(3)))
        price, greeks = torch.rand(1_024) * 50, torch.randn(1_024, 6)
        scales = label_scales(price, greeks)
        step_ms = {}
        for name, weight in (("plain", 0.0), ("differential", 1.0)):
            torch.manual_seed(0)
            model = make_pricer(**architecture)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

            def step(model=model, optimizer=optimizer, weight=weight) -> None:
                optimizer.zero_grad(set_to_none=True)
                differential_loss(model, x, price, greeks, weight, scales)[0].backward()
                optimizer.step()

            for _ in range(2):
                step()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            step_ms[name] = 1000 * (time.perf_counter() - start) / steps
    finally:
        torch.set_num_threads(threads)
    result = {
        "options": n_options,
        "paths": n_paths,
        "labels_price_options_per_s": n_options / price_s,
        "labels_with_greeks_options_per_s": n_options / greeks_s,
        "labels_plain_options_per_s": n_options / plain_s,
        "labels_control_options_per_s": n_options / control_s,
        "control_stderr_ratio": float(plain.stderr.mean() / control.stderr.mean()),
        "architecture": architecture,
        "batch": 1_024,
        "plain_step_ms": step_ms["plain"],
        "differential_step_ms": step_ms["differential"],
    }
    from .ablation import options_needed

    for key, file in (("options_needed", "curves.json"),
                      ("options_needed_residual", "residual_curves.json")):  # fmt: skip
        if (DATA_DIR / file).exists():
            runs = json.loads((DATA_DIR / file).read_text())["results"]
            result[key] = options_needed(runs)
    return result


def differential_lines(d: dict) -> list[str]:
    """``time_differential``'s figures as a Markdown section."""
    with_greeks = d["labels_with_greeks_options_per_s"]
    lines = [
        f"## Differential training (Chapter 9): labels of {d['options']} options x"
        f" {d['paths']} paths, survival estimator; training steps at batch {d['batch']}",
        "",
        "| what | plain | differential | differential / plain |",
        "|---|---|---|---|",
        f"| labels, options/s | {d['labels_price_options_per_s']:,.0f} | {with_greeks:,.0f}"
        f" | cost x{d['labels_price_options_per_s'] / with_greeks:.2f} (R) |",
        f"| training step, ms (1 thread) | {d['plain_step_ms']:.1f}"
        f" | {d['differential_step_ms']:.1f}"
        f" | x{d['differential_step_ms'] / d['plain_step_ms']:.2f} |",
    ]

    from .ablation import CURVE_OPTIONS

    def shown(n):
        if n is None:
            return "not reached"
        return f"{n:,.0f}" + (" or fewer" if n == min(CURVE_OPTIONS) else "")

    for key, network in (("options_needed", ""), ("options_needed_residual", ", closed form")):
        for target, needed in d.get(key, {}).items():
            plain, differential = needed.get("plain"), needed.get("differential")
            lines.append(f"| options for test MAE {target}{network} (learning curves)"
                         f" | {shown(plain)} | {shown(differential)} | |")  # fmt: skip
    if "control_stderr_ratio" in d:
        ratio = d["control_stderr_ratio"]
        lines += [
            "",
            f'Price labels with control variates (`method="control"`), same options and'
            f" paths: {d['labels_control_options_per_s']:,.0f} options/s against"
            f" {d['labels_plain_options_per_s']:,.0f} for the plain estimator (cost"
            f" x{d['labels_plain_options_per_s'] / d['labels_control_options_per_s']:.2f}),"
            f" mean standard error {ratio:.1f} times smaller: worth {ratio**2:,.0f} times the"
            " paths.",
        ]
    return lines


def write_atomically(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` through a temporary file and a rename, so no reader sees half."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> None:
    """``python -m helpers.benchmark --out DIR``: measure and write DIR/results.{md,json}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench"), help="folder for the results")
    parser.add_argument(
        "--anchor-paths", type=int, default=20_000, help="paths for the QuantLib anchor"
    )
    parser.add_argument(
        "--only",
        choices=("differential", "inference", "localvol", "quantized", "service"),
        default=None,
        help="rerun one section and keep the others from DIR/results.json",
    )
    args = parser.parse_args(argv)
    if args.only is not None:
        result = json.loads((args.out / "results.json").read_text())
        if args.only == "differential":
            result["differential"] = time_differential()
        elif args.only == "localvol":
            from .localvol.timing import time_basket

            result["localvol"] = time_basket()
        elif args.only == "quantized":
            from .export.benchmark import time_quantized

            result["quantized"] = time_quantized()
        elif args.only == "service":
            from .serve.benchmark import time_service

            result["service"] = time_service()
        else:
            result["inference"] = time_inference(config.sizes())
        result[args.only]["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    else:
        result = run_all(anchor_paths=args.anchor_paths)
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomically(args.out / "results.json", json.dumps(result, indent=2) + "\n")
    write_atomically(args.out / "results.md", to_markdown(result))
    print(to_markdown(result))


if __name__ == "__main__":
    main()
