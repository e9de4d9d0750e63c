"""The course's service against LitServe and Ray Serve, for ``make bench`` (topic ``peers``).

``time_peers`` starts each server in turn on 127.0.0.1 with the same engine, threads, batch
size and batching window, drives it with the same load (``run_load``: single-option
``/price`` requests, 64 in flight, closed loop), and stops it by its process (group) id:

* the course's service (``helpers.serve``), as it ships but with the peers' engine;
* the same server's ``POST /noop`` (``--noop-endpoint true``): it reads each body and answers
  without parsing or pricing, the ceiling of this HTTP stack with this client on this machine;
* each peer of ``PEERS`` that is installed.

Before the load, every server prices the same ``CHECK_REQUESTS`` bodies, and their prices are
compared with the course's. The verdicts: the course's service at least matches the best
peer's throughput with its p99 under ``TARGET_P99_MS``, and reaches ``TARGET_OF_CEILING`` of
the no-op ceiling.
"""

from __future__ import annotations

import json
import time
import urllib.request

import numpy as np

from ...loadtest import request_bodies, run_load
from ..measure import running_server
from . import PEERS, available, running_peer

REQUESTS = 2_000
"""Requests per server (after a warm-up of one request per connection)."""

CONCURRENCY = 64
"""Requests in flight."""

WINDOW_MS = 2.0
"""Every server's batching window, milliseconds: the course's default (``Settings``)."""

MAX_BATCH = 64
"""Requests per batch at most, for the peers; the course's service batches by options."""

ENGINE = "onnx"
"""Every server's engine: the course's ``Engine`` with ONNX Runtime."""

CHECK_REQUESTS = 16
"""Bodies each server prices before the load, to compare its prices with the course's."""

TARGET_P99_MS = 50.0
"""The p99 latency, milliseconds, that the course's service must keep while it matches the best
peer's throughput."""

TARGET_OF_CEILING = 0.8
"""The share of the no-op ceiling's requests/s the course's service aims at."""

PEER_LABELS = {"litserve": "LitServe", "ray": "Ray Serve"}
"""Each peer's name in the tables."""


def _prices(url: str, bodies: list[bytes]) -> np.ndarray:
    out = []
    for body in bodies:
        request = urllib.request.Request(
            url + "/price", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            out += json.load(response)["prices"]
    return np.array(out)


def _row(name: str, url: str, endpoint: str, reference: np.ndarray | None, requests: int) -> dict:
    bodies = request_bodies("price", CHECK_REQUESTS, 1, seed=7)
    prices = _prices(url, bodies) if endpoint == "price" else None
    load = run_load(url, endpoint=endpoint, requests=requests, concurrency=CONCURRENCY)
    gap = None
    if prices is not None and reference is not None:
        gap = float(np.abs(prices - reference).max())
    return {
        "server": name,
        "endpoint": endpoint,
        "requests_per_s": load.requests_per_s,
        "p50_ms": load.p50_ms,
        "p99_ms": load.p99_ms,
        "statuses": load.statuses,
        "max_price_gap": gap,
        "prices": prices.tolist() if prices is not None else None,
    }


def time_peers(requests: int = REQUESTS, threads: int = 1) -> dict:
    """Each server under the same load; see the module docstring.

    Args:
        requests: requests per server; threads: the engine's threads in every server (one:
            the load test's client has the other core).

    Returns:
        A JSON-ready dict: ``rows`` (one per server: requests/s, p50 and p99 in ms, statuses,
        the largest price gap to the course's), ``missing`` (peers not installed),
        ``verdicts``, and the settings.
    """
    start = time.perf_counter()
    rows = []
    with running_server(max_wait_ms=WINDOW_MS, engine=ENGINE, threads=threads) as url:
        rows.append(_row("course service", url, "price", None, requests))
    reference = np.array(rows[0]["prices"])
    rows[0]["max_price_gap"] = 0.0
    with running_server(max_wait_ms=WINDOW_MS, engine=ENGINE, threads=threads,
                        extra=["--noop-endpoint", "true"]) as url:  # fmt: skip
        rows.append(_row("course service, no-op endpoint", url, "noop", None, requests))
    missing = []
    for name in PEERS:
        if not available(name):
            missing.append(name)
            continue
        with running_peer(name, window_ms=WINDOW_MS, max_batch=MAX_BATCH, threads=threads,
                          engine=ENGINE) as url:  # fmt: skip
            rows.append(_row(PEER_LABELS[name], url, "price", reference, requests))
    for row in rows:
        row.pop("prices")
    return {
        "requests": requests,
        "concurrency": CONCURRENCY,
        "window_ms": WINDOW_MS,
        "engine": ENGINE,
        "threads": threads,
        "rows": rows,
        "missing": missing,
        "verdicts": verdicts(rows),
        "seconds": time.perf_counter() - start,
    }


def verdicts(rows: list[dict]) -> list[list[str]]:
    """``[claim, measured, verdict]`` rows for the two targets, from ``time_peers``' rows."""
    course, ceiling = rows[0], rows[1]
    peers = rows[2:]
    out = []
    if peers:
        best = max(peers, key=lambda r: r["requests_per_s"])
        met = (course["requests_per_s"] >= best["requests_per_s"]
               and (course["p99_ms"] or np.inf) < TARGET_P99_MS)  # fmt: skip
        out.append([
            f"the course's service matches the best peer at {CONCURRENCY} in flight, p99 under"
            f" {TARGET_P99_MS:g} ms",
            f"{course['requests_per_s']:,.0f} req/s (p99 {course['p99_ms']:.1f} ms) against"
            f" {best['server']}'s {best['requests_per_s']:,.0f}",
            "met" if met else "MISSED",
        ])  # fmt: skip
    share = course["requests_per_s"] / ceiling["requests_per_s"]
    out.append([
        f"the course's service reaches {TARGET_OF_CEILING:.0%} of the no-op ceiling",
        f"{share:.0%} ({ceiling['requests_per_s']:,.0f} req/s with no pricing)",
        "met" if share >= TARGET_OF_CEILING else "MISSED",
    ])  # fmt: skip
    return out


def peers_table(p: dict):
    """``time_peers``' rows as a Markdown table (``helpers.core.report.table``): requests/s,
    p50 and p99 in ms, answers other than 200, and the largest price gap to the course's."""
    from ....core.report import table

    rows = [
        [r["server"], r["requests_per_s"], r["p50_ms"], r["p99_ms"],
         sum(v for k, v in r["statuses"].items() if k != "200"), r["max_price_gap"]]
        for r in p["rows"]
    ]  # fmt: skip
    columns = ["server", "requests/s", "p50 ms", "p99 ms", "not 200", "price gap"]
    formats = {"requests/s": "{:,.0f}", "p50 ms": "{:.1f}", "p99 ms": "{:.1f}",
               "price gap": "{:.1e}"}  # fmt: skip
    return table(rows, columns, formats)


def verdict_table(p: dict):
    """``time_peers``' verdicts as a Markdown table."""
    from ....core.report import table

    return table(p["verdicts"], ["target", "measured", "verdict"])


def peers_lines(p: dict) -> list[str]:
    """``time_peers``' result as a Markdown section of ``bench/results.md``."""
    lines = [
        "## The service against its peers (Chapter 13)",
        "",
        f"Single-option `/price` requests, {p['concurrency']} in flight, {p['requests']:,} per"
        f" server after a warm-up, from the course's aiohttp load test on the same machine;"
        f" every server on 127.0.0.1 with the course's engine ({p['engine']}, {p['threads']}"
        f" thread), a {p['window_ms']:g} ms batching window. The price gap is the largest"
        f" difference from the course's prices on the same {CHECK_REQUESTS} requests;"
        " the no-op row reads each body and answers without pricing.",
        "",
        peers_table(p).data,
    ]
    if p["missing"]:
        lines += ["", "Not installed here: " + ", ".join(p["missing"]) + "."]
    lines += ["", verdict_table(p).data]
    return lines


def measure(sizes: object = None, anchor_paths: int = 0) -> dict:
    """``results.json``'s ``peers`` (``make bench``'s topic ``peers``)."""
    return {"peers": time_peers()}


def lines(result: dict) -> list[str]:
    """The peers' section of ``bench/results.md``."""
    return peers_lines(result["peers"]) if "peers" in result else []
