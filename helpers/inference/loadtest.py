"""A bounded load test of the pricing service on loopback (``python -m helpers.loadtest``).

``run_load`` sends a fixed number of requests with aiohttp, at a fixed concurrency (that many
requests in flight at once) or at a fixed rate, and reports throughput, latency percentiles
and the count of every status. It refuses any host that is not loopback: a load test here
never leaves the machine. aiohttp rather than httpx: measured on this machine, httpx's async
pool falls to about 120 requests/s at 64 connections where aiohttp holds about 4,000.

It prints its ``LoadResult`` as JSON on stdout, always valid JSON: a latency percentile that
has no answer to measure (no request was answered at all) is ``null``, never ``NaN``. It exits
with 0 when at least one request got a 200, and with 1 otherwise (a server that is not
there, or refused every request), after one line on stderr that says so.

Its counts and the server's differ by design: the first ``concurrency`` requests open the
connections and warm the server up and are not in ``statuses`` (they are in ``warmup``),
while the server counts every request it answered since it started
(``helpers.inference.service.app``). Under SIGTERM the server answers every request it has
accepted; the client's requests that find the listening socket closed count as ``"error"``.

Example:
    python -m helpers.loadtest --url http://127.0.0.1:8000 --requests 2000 --concurrency 64
"""

from __future__ import annotations

import asyncio
import gc
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

import numpy as np

from ..core.cli import CommandParser, fail, print_json, real_number, whole_number
from ..core.domain import COLUMNS, sample_options

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_CONCURRENCY = 1_024
"""Connections a load test may hold open at once."""
MAX_TOTAL_OPTIONS = 2_000_000
"""Options in all the bodies of one run at most: they are made before the clock starts (about
150 bytes an option, so 300 MB at the limit)."""
ENDPOINTS = ("price", "greeks", "implied-vol", "noop")
"""What a load test may call; ``noop`` (bodies as ``price``'s) only on a server started with
``--noop-endpoint true``, to measure the HTTP stack alone."""


@dataclass
class LoadResult:
    """What a load test measured.

    Attributes:
        endpoint, requests, concurrency, options_per_request, rate: what was sent (``rate``:
            requests/s, or ``None`` for closed-loop at ``concurrency``).
        seconds: wall time from the first request to the last answer.
        requests_per_s, options_per_s: answered with status 200, per second.
        p50_ms, p90_ms, p99_ms: latency percentiles of all answered requests (any HTTP
            status), milliseconds; ``None`` (JSON ``null``) when no request was answered.
        statuses: count of each HTTP status (``"error"``: no answer at all).
        warmup: the same count for the warm-up requests, sent before the clock starts and not
            in ``statuses`` (the server counts them among its answers).
    """

    endpoint: str
    requests: int
    concurrency: int
    options_per_request: int
    rate: float | None
    seconds: float
    requests_per_s: float
    options_per_s: float
    p50_ms: float | None
    p90_ms: float | None
    p99_ms: float | None
    statuses: dict[str, int]
    warmup: dict[str, int]

    @property
    def succeeded(self) -> int:
        """Requests answered with status 200, warm-up excluded."""
        return self.statuses.get("200", 0)


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
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when asked for it)
    except ValueError as err:
        raise ValueError(f"url {url!r}: {err}") from None
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
) -> tuple[list[float], Counter, Counter, float]:
    import aiohttp

    failures = (aiohttp.ClientError, TimeoutError, OSError)
    latencies: list[float] = []
    statuses: Counter = Counter()
    warmup: Counter = Counter()
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
            except failures:
                statuses["error"] += 1
                return
            latencies.append(time.perf_counter() - start)

        async def warm(body: bytes) -> None:
            try:
                async with session.post(target, data=body, headers=headers) as response:
                    await response.read()
                    warmup[str(response.status)] += 1
            except failures:
                warmup["error"] += 1

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
    return latencies, statuses, warmup, seconds


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
        ValueError: a host that is not loopback, an unknown endpoint, a count, concurrency,
            rate or timeout that is not positive (or not finite), a concurrency over
            ``MAX_CONCURRENCY``, or more than ``MAX_TOTAL_OPTIONS`` options in all.
    """
    url = check_loopback(url)
    if endpoint not in ENDPOINTS:
        raise ValueError(f"unknown endpoint {endpoint!r}: choose one of {list(ENDPOINTS)}")
    for name, value in (("requests", requests), ("concurrency", concurrency),
                        ("options_per_request", options_per_request)):  # fmt: skip
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    if concurrency > MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be <= {MAX_CONCURRENCY:,}, got {concurrency:,}")
    if requests * options_per_request > MAX_TOTAL_OPTIONS:
        raise ValueError(
            f"requests x options_per_request must be <= {MAX_TOTAL_OPTIONS:,} options (the"
            f" bodies are made before the run), got {requests:,} x {options_per_request:,}"
        )
    if rate is not None and not (math.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be finite and > 0 requests/s, got {rate}")
    if not (math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"timeout_s must be finite and > 0 seconds, got {timeout_s}")
    bodies = request_bodies(endpoint, requests, options_per_request, seed)
    collecting = gc.isenabled()
    gc.disable()  # the client's own collector pauses would count as the server's latency
    try:
        latencies, statuses, warmup, seconds = _run(
            _load(url, endpoint, bodies, concurrency, rate, timeout_s)
        )
    finally:
        if collecting:
            gc.enable()
    ms = np.asarray(latencies) * 1e3
    ok = statuses.get("200", 0)
    seconds = max(seconds, 1e-9)

    def percentile(q: float) -> float | None:
        return float(np.percentile(ms, q)) if ms.size else None

    return LoadResult(
        endpoint=endpoint,
        requests=requests,
        concurrency=concurrency,
        options_per_request=options_per_request,
        rate=rate,
        seconds=seconds,
        requests_per_s=ok / seconds,
        options_per_s=ok * options_per_request / seconds,
        p50_ms=percentile(50),
        p90_ms=percentile(90),
        p99_ms=percentile(99),
        statuses=dict(sorted(statuses.items())),
        warmup=dict(sorted(warmup.items())),
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring.

    Raises:
        SystemExit: 2 for a bad option, 1 when no request got a 200 (after printing the
            result), each with one line on stderr.
    """
    parser = CommandParser(
        prog="python -m helpers.loadtest",
        description="A bounded load test of the pricing service on loopback: sends"
        " --requests requests and prints throughput, latency percentiles and the count of"
        " each status as JSON (null for a percentile with no answer to measure). Exits 1 when"
        " no request got a 200.",
    )
    parser.add_argument(
        "--url",
        default="http://127.0.0.1:8000",
        help="the service's address, loopback only (default %(default)s)",
    )
    parser.add_argument(
        "--endpoint",
        choices=ENDPOINTS,
        default="price",
        help="which endpoint to load (default %(default)s)",
    )
    parser.add_argument(
        "--requests",
        type=whole_number(1),
        default=1_000,
        help="requests to send and count, >= 1, after one uncounted warm-up"
        " request per connection (default %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=whole_number(1, MAX_CONCURRENCY),
        default=16,
        help=f"requests in flight at once at most, in [1, {MAX_CONCURRENCY:,}]"
        " (default %(default)s)",
    )
    parser.add_argument(
        "--options-per-request",
        type=whole_number(1),
        default=1,
        help="random in-domain options in each request's body, >= 1; requests x options at"
        f" most {MAX_TOTAL_OPTIONS:,} (default %(default)s)",
    )
    parser.add_argument(
        "--rate",
        type=real_number(0, low_open=True),
        default=None,
        help="requests per second, > 0, sent whatever the answers do (open"
        " loop); default: none, each connection sends its next request on"
        " an answer (closed loop)",
    )
    parser.add_argument("--timeout", type=real_number(0, low_open=True), default=30.0,
                        help="seconds a request may take, > 0, before it counts as an"
                        ' "error" (default %(default)s)')  # fmt: skip
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
    print_json(asdict(result))
    if result.succeeded == 0:
        statuses = ", ".join(f"{k}: {v}" for k, v in result.statuses.items())
        fail(f"no request to {args.url} succeeded ({statuses})")
