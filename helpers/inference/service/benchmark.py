"""The pricing service under load, for ``make bench`` (``helpers.benchmark``).

``time_service`` measures what Chapter 13 shows at larger sizes: ``window_sweep`` over the
batching windows, concurrencies and endpoints (``BENCH_REQUESTS`` single-option requests per
point, closed loop), the two engines behind ``/price``, and what one batched model call costs
in the engine itself. ``service_lines`` writes its section of ``bench/results.md`` with the
verdict on the course's target.
"""

from __future__ import annotations

import time

import numpy as np

from ...core.domain import sample_options
from ..sensitivities import gradients, greeks
from .engine import Engine, median_ms
from .measure import CONCURRENCIES, WINDOWS_MS, window_sweep
from .settings import Settings

BENCH_REQUESTS = 2_000
"""Single-option requests per load point (after a warm-up of one request per connection)."""

TARGET_SPEEDUP = 5.0
"""At 64 requests in flight, batching's throughput over no batching (``max_wait_ms = 0``)."""

TARGET_P99_MS = 50.0
"""The p99 latency that batched throughput must keep, milliseconds, on 2 CPU cores."""

ENGINE_BATCHES = (1, 64)
"""Options per model call at which ``engine_costs`` times the engine on its own."""


def time_service(requests: int = BENCH_REQUESTS, threads: int = 1) -> dict:
    """The service's load points, its engines and its model calls, in one run.

    Args:
        requests: single-option requests per load point.
        threads: PyTorch (and ONNX Runtime) threads of the server: one, so that the load
            test's client has the other core.

    Returns:
        A JSON-ready dict: ``sweep`` (``window_sweep``'s rows, with the default engine),
        ``engines`` (``/price`` at 64 in flight, without batching and at the default window,
        each engine), ``engine_costs``, ``verdicts`` (one per
        endpoint), ``default_window_ms``, ``threads``, ``requests`` and ``seconds``.
    """
    start = time.perf_counter()
    sweep = window_sweep(requests=requests, threads=threads)
    window = Settings().max_wait_ms
    engines = []
    for engine in ("torch", "onnx"):
        engines += window_sweep(
            windows_ms=(0, window), concurrencies=(64,), endpoints=("price",),
            requests=requests, engine=engine, threads=threads,
        )  # fmt: skip
    return {
        "requests": requests,
        "threads": threads,
        "default_window_ms": window,
        "sweep": sweep,
        "engines": engines,
        "engine_costs": engine_costs(threads),
        "verdicts": [verdict(sweep, endpoint) for endpoint in ("price", "greeks")],
        "seconds": time.perf_counter() - start,
    }


def verdict(rows: list[dict], endpoint: str, concurrency: int = 64) -> dict:
    """The target's verdict for one endpoint: the window of the highest throughput at
    ``concurrency`` in flight, its gain over no batching and its p99, and the best window
    whose p99 stays under ``TARGET_P99_MS``."""
    points = [r for r in rows if r["endpoint"] == endpoint and r["concurrency"] == concurrency]
    alone = next(r for r in points if r["window_ms"] == 0)
    best = max(points, key=lambda r: r["requests_per_s"])
    within = [
        r for r in points
        if r["window_ms"] > 0 and r["p99_ms"] is not None and r["p99_ms"] < TARGET_P99_MS
    ]  # fmt: skip
    best_within = max(within, key=lambda r: r["requests_per_s"], default=None)
    gain = best["requests_per_s"] / alone["requests_per_s"]
    gain_within = best_within["requests_per_s"] / alone["requests_per_s"] if best_within else None
    return {
        "endpoint": endpoint,
        "concurrency": concurrency,
        "best_window_ms": best["window_ms"],
        "gain": gain,
        "best_p99_ms": best["p99_ms"],
        "window_within_p99_ms": best_within["window_ms"] if best_within else None,
        "gain_within_p99": gain_within,
        "met": gain_within is not None and gain_within >= TARGET_SPEEDUP,
    }


def engine_costs(threads: int = 1, repeats: int = 30) -> list[dict]:
    """Milliseconds of one model call (median of ``repeats``) at ``ENGINE_BATCHES`` options:
    the price, the Greeks the service answers (``helpers.inference.sensitivities.greeks``:
    batch-sum reverse
    mode and one more backward pass for gamma), and the gradient alone by ``torch.func``
    (``vmap(jacrev)``, ``helpers.inference.sensitivities.gradients``) for comparison."""
    engine = Engine(threads=threads)
    model = engine.model
    calls = {
        "price": engine.price,
        "greeks (batch-sum autograd, with gamma)": lambda X: greeks(model, X),
        "gradient alone (torch.func vmap/jacrev)": lambda X: gradients(model, X),
    }
    rows = []
    for n in ENGINE_BATCHES:
        X = sample_options(n, np.random.default_rng(n)).astype(np.float32)
        for name, call in calls.items():
            rows.append({"call": name, "options": n, "ms": median_ms(call, X, repeats)})
    return rows


def _ms(value: float | None) -> str:
    """A latency to one decimal, ``-`` where a load point had no answer to measure."""
    return "-" if value is None else f"{value:.1f}"


def service_lines(s: dict) -> list[str]:
    """``bench/results.md``'s section on the pricing service."""
    lines = [
        "## The pricing service under load (Chapter 13)",
        "",
        f"Measured {s.get('date', '')}: `python -m helpers.serve` on 127.0.0.1 with"
        f" {s['threads']} PyTorch thread, `helpers.loadtest` (aiohttp) on the same two cores,"
        f" {s['requests']:,} single-option requests per point, closed loop, after a warm-up;"
        f" {s['seconds']:.0f} s in all.",
        "",
        "| endpoint | window ms | in flight | requests/s | p50 ms | p99 ms | statuses |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in s["sweep"]:
        statuses = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())
        lines.append(
            f"| /{r['endpoint']} | {r['window_ms']:g} | {r['concurrency']}"
            f" | {r['requests_per_s']:,.0f} | {_ms(r['p50_ms'])} | {_ms(r['p99_ms'])}"
            f" | {statuses} |"
        )
    lines += [
        "",
        f"Target: at 64 single-option requests in flight, batching gives at least"
        f" {TARGET_SPEEDUP:g}x the throughput of no batching with p99 under"
        f" {TARGET_P99_MS:g} ms.",
        "",
        "| endpoint | fastest window ms | x no batching | its p99 ms"
        " | best window with p99 < target | x no batching | target |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in s["verdicts"]:
        within = v["window_within_p99_ms"]
        window = "none" if within is None else f"{within:g}"
        gain = "-" if within is None else f"{v['gain_within_p99']:.1f}"
        lines.append(
            f"| /{v['endpoint']} | {v['best_window_ms']:g} | {v['gain']:.1f}"
            f" | {_ms(v['best_p99_ms'])} | {window} | {gain} | {'met' if v['met'] else 'MISSED'} |"
        )
    chosen = {r["engine"] for r in s["sweep"]}
    lines += [
        "",
        f"The sweep's engine: {', '.join(sorted(chosen))} (the default, `auto`, times both at"
        " start-up). Each engine behind `/price` at 64 in flight, without batching and at the"
        f" default window ({s['default_window_ms']:g} ms):",
        "",
        "| engine | window ms | requests/s | p50 ms | p99 ms | x no batching |",
        "|---|---|---|---|---|---|",
    ]
    alone = {r["engine"]: r["requests_per_s"] for r in s["engines"] if r["window_ms"] == 0}
    for r in s["engines"]:
        lines.append(
            f"| {r['engine']} | {r['window_ms']:g} | {r['requests_per_s']:,.0f}"
            f" | {_ms(r['p50_ms'])} | {_ms(r['p99_ms'])}"
            f" | {r['requests_per_s'] / alone[r['engine']]:.1f} |"
        )
    costs = [c for c in s["engine_costs"] if c["call"] != "threads"]  # older results
    lines += [
        "",
        "One model call in the server's engine, milliseconds (median of 30), by options per call:",
        "",
        "| call | " + " | ".join(f"{n} options" for n in ENGINE_BATCHES) + " |",
        "|---|" + "---|" * len(ENGINE_BATCHES),
    ]
    for name in dict.fromkeys(c["call"] for c in costs):
        ms = {c["options"]: c["ms"] for c in costs if c["call"] == name}
        lines.append(f"| {name} | " + " | ".join(f"{ms[n]:.2f}" for n in ENGINE_BATCHES) + " |")
    return lines


def measure(sizes: object = None, anchor_paths: int = 20_000) -> dict:
    """``make bench``'s topic ``service`` (``helpers.benchmark.runner``): ``results.json``'s
    ``service``."""
    return {"service": time_service()}


def lines(result: dict) -> list[str]:
    """The pricing service's section of ``bench/results.md``."""
    return service_lines(result["service"]) if "service" in result else []


__all__ = [
    "CONCURRENCIES",
    "WINDOWS_MS",
    "lines",
    "measure",
    "service_lines",
    "time_service",
    "verdict",
]
