"""A bounded load test of the pricing service on loopback (``python -m helpers.loadtest``).

``run_load`` sends a fixed number of requests with aiohttp, at a fixed concurrency (that many
requests in flight at once) or at a fixed rate, and reports throughput, latency percentiles
and the count of every status. It refuses any host that is not loopback: a load test here
never leaves the machine. aiohttp rather than httpx: measured on this machine, httpx's async
pool falls to about 120 requests/s at 64 connections where aiohttp holds about 4,000.

Example:
    python -m helpers.loadtest --url http://127.0.0.1:8000 --requests 2000 --concurrency 64
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import numpy as np

from ..core.domain import COLUMNS, sample_options

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
ENDPOINTS = ("price", "greeks", "implied-vol")


@dataclass
class LoadResult:
    """What a load test measured.

    Attributes:
        endpoint, requests, concurrency, options_per_request, rate: what was sent (``rate``:
            requests/s, or ``None`` for closed-loop at ``concurrency``).
        seconds: wall time from the first request to the last answer.
        requests_per_s, options_per_s: answered with status 200, per second.
        p50_ms, p90_ms, p99_ms: latency percentiles of all answered requests, milliseconds.
        statuses: count of each HTTP status (``"error"``: no answer at all).
    """

    endpoint: str
    requests: int
    concurrency: int
    options_per_request: int
    rate: float | None
    seconds: float
    requests_per_s: float
    options_per_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    statuses: dict[str, int]


def check_loopback(url: str) -> str:
    """``url`` without a trailing slash, if its host is loopback.

    Raises:
        ValueError: a URL that is not http(s) or whose host is not loopback, naming it.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(
            f"load tests run on loopback only ({', '.join(LOOPBACK_HOSTS)}), got {url!r}"
        )
    return url.rstrip("/")


def request_bodies(
    endpoint: str, n_requests: int, options_per_request: int, seed: int = 0
) -> list[bytes]:
    """JSON bodies of random in-domain options (``helpers.core.domain.sample_options``).

    ``implied-vol`` bodies quote each option at the shipped network's price at its own sigma,
    a price the network attains by construction.
    """
    rng = np.random.default_rng(seed)
    X = sample_options(n_requests * options_per_request, rng)
    rows = [dict(zip(COLUMNS, map(float, x), strict=True)) for x in X]
    if endpoint == "implied-vol":
        from ..networks.loading import load_pretrained
        from .pricing import price

        quotes = price(load_pretrained(), X)
        rows = [{k: v for k, v in row.items() if k != "sigma"} | {"price": float(q)}
                for row, q in zip(rows, quotes, strict=True)]  # fmt: skip
    return [
        json.dumps({"options": rows[i : i + options_per_request]}).encode()
        for i in range(0, len(rows), options_per_request)
    ]


async def _load(
    url: str,
    endpoint: str,
    bodies: list[bytes],
    concurrency: int,
    rate: float | None,
    timeout_s: float,
) -> tuple[list[float], Counter, float]:
    import aiohttp

    latencies: list[float] = []
    statuses: Counter = Counter()
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    headers = {"content-type": "application/json"}
    target = f"{url}/{endpoint}"
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(body: bytes) -> None:
            start = time.perf_counter()
            try:
                async with session.post(target, data=body, headers=headers) as response:
                    await response.read()
                    statuses[str(response.status)] += 1
            except (aiohttp.ClientError, TimeoutError):
                statuses["error"] += 1
                return
            latencies.append(time.perf_counter() - start)

        async def warm(body: bytes) -> None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.post(target, data=body, headers=headers) as response:
                    await response.read()

        # one uncounted request per connection first: the figures are the steady state, not
        # the TCP handshakes of a first burst of `concurrency` connections
        await asyncio.gather(*(warm(body) for body in bodies[:concurrency]))
        start = time.perf_counter()
        if rate is None:  # closed loop: `concurrency` workers, each sends its next on answer
            queue = iter(bodies)

            async def worker() -> None:
                for body in queue:
                    await one(body)

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:  # open loop: a request every 1 / rate seconds, whatever the answers do
            tasks = []
            for k, body in enumerate(bodies):
                delay = start + k / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.ensure_future(one(body)))
            await asyncio.gather(*tasks)
        seconds = time.perf_counter() - start
    return latencies, statuses, seconds


def _run(coroutine):
    """``asyncio.run(coroutine)``, in a thread of its own when this thread already runs an
    event loop (a Jupyter kernel does)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def run_load(
    url: str,
    *,
    endpoint: str = "price",
    requests: int = 1_000,
    concurrency: int = 16,
    options_per_request: int = 1,
    rate: float | None = None,
    timeout_s: float = 30.0,
    seed: int = 0,
) -> LoadResult:
    """Sends ``requests`` requests to ``url/endpoint`` and measures the answers.

    The first ``min(concurrency, requests)`` bodies are sent once before the clock starts,
    one per connection, and not counted: they open the connection pool and warm the server.
    Python's garbage collector is off in this process during the run (a bounded one), so its
    pauses do not count as the server's latency.

    Args:
        url: the service, on loopback (``check_loopback``).
        endpoint: one of ``ENDPOINTS``.
        requests: how many, ``>= 1``; concurrency: in flight at once at most, ``>= 1``.
        options_per_request: options in each body, ``>= 1``.
        rate: requests per second (open loop), or ``None``: as fast as answers come.
        timeout_s: per request; a request without an answer by then counts as ``"error"``.
        seed: of the random options.

    Returns:
        A ``LoadResult``.

    Raises:
        ValueError: a host that is not loopback, an unknown endpoint, or a count, concurrency,
            rate or timeout that is not positive.
    """
    url = check_loopback(url)
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}: choose one of {list(ENDPOINTS)}")
    for name, value in (("requests", requests), ("concurrency", concurrency),
                        ("options_per_request", options_per_request)):  # fmt: skip
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if rate is not None and not rate > 0:
        raise ValueError(f"rate must be > 0 requests/s, got {rate}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
    bodies = request_bodies(endpoint, requests, options_per_request, seed)
    collecting = gc.isenabled()
    gc.disable()  # the client's own collector pauses would count as the server's latency
    try:
        latencies, statuses, seconds = _run(
            _load(url, endpoint, bodies, concurrency, rate, timeout_s)
        )
    finally:
        if collecting:
            gc.enable()
    ms = np.asarray(latencies) * 1e3 if latencies else np.full(1, np.nan)
    ok = statuses.get("200", 0)
    return LoadResult(
        endpoint=endpoint,
        requests=requests,
        concurrency=concurrency,
        options_per_request=options_per_request,
        rate=rate,
        seconds=seconds,
        requests_per_s=ok / seconds,
        options_per_s=ok * options_per_request / seconds,
        p50_ms=float(np.percentile(ms, 50)),
        p90_ms=float(np.percentile(ms, 90)),
        p99_ms=float(np.percentile(ms, 99)),
        statuses=dict(sorted(statuses.items())),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m helpers.loadtest", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--endpoint", choices=ENDPOINTS, default="price")
    parser.add_argument("--requests", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--options-per-request", type=int, default=1)
    parser.add_argument("--rate", type=float, default=None, help="requests/s (open loop)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = parser.parse_args(argv)
    try:
        result = run_load(
            args.url,
            endpoint=args.endpoint,
            requests=args.requests,
            concurrency=args.concurrency,
            options_per_request=args.options_per_request,
            rate=args.rate,
            timeout_s=args.timeout,
        )
    except ValueError as err:
        parser.error(str(err))
    print(json.dumps(asdict(result), indent=2))
