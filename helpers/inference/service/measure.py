"""The service under load on loopback: a server process per setting, the load test against it.

``running_server`` starts ``python -m helpers.serve --port 0`` (``start_server``), reads the
address the server prints once it listens, waits until ``/health`` answers, yields its URL and
stops it with SIGTERM (graceful: every accepted request is answered). The system chooses the
port as the server binds it, so two servers started together never race for one.
``window_sweep`` runs ``helpers.inference.loadtest.run_load`` at each batching window and
concurrency: Chapter 13's table and ``make bench``'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from typing import IO

from ..loadtest import run_load

WINDOWS_MS = (0, 1, 2, 5, 10)
"""Batching windows the sweep measures, milliseconds (0: no batching)."""
CONCURRENCIES = (1, 16, 64)
"""Requests in flight at once."""


LISTENING = re.compile(r"pricer: listening on (\S+)")
"""The line ``python -m helpers.serve`` prints once it listens (``command.main``)."""


def start_server(
    options: Sequence[str], log: IO[str], start_timeout_s: float = 120.0,
    module: str | None = None,
) -> tuple[subprocess.Popen, str]:  # fmt: skip
    """Starts ``python -m helpers.serve --port 0 *options`` writing to ``log`` (a file opened
    for reading and writing); returns the process and the URL it printed, once ``/health``
    answers there.

    Args:
        module: run ``python -m module *options`` instead (a peer of
            ``helpers.inference.service.peers``, which prints the same line), in a process
            group of its own, which ``stop`` ends whole (a peer starts processes of its own).

    Raises:
        RuntimeError: the server exits, or does not answer within ``start_timeout_s``; the
            message holds the end of its log. The process is ended first.
    """
    if module is None:
        command = [sys.executable, "-m", "helpers.serve", "--port", "0", *options]
    else:
        command = [sys.executable, "-m", module, *options]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=module is not None)  # fmt: skip
    process.own_group = module is not None  # read by stop
    deadline = time.monotonic() + start_timeout_s
    url = None
    while url is None or not _healthy(url):
        if url is None:
            log.seek(0)
            found = LISTENING.search(log.read())
            url = found.group(1) if found else None
        if process.poll() is not None or time.monotonic() > deadline:
            stop(process)
            log.seek(0)
            raise RuntimeError(f"the service did not start: {log.read()[-2000:]}")
        time.sleep(0.05)
    return process, url


def stop(process: subprocess.Popen, timeout_s: float = 60.0) -> int:
    """Sends SIGTERM (a graceful stop) if the process still runs, waits at most ``timeout_s``,
    then kills it; returns its exit code. A process that leads its own group (a peer) gets
    the signals as a group, so that what it started stops with it."""
    own_group = getattr(process, "own_group", False)

    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if own_group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)

    if process.poll() is None:
        send(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            send(signal.SIGKILL)
            process.wait()
    if own_group:  # what the peer left behind in its group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    return process.returncode


@contextlib.contextmanager
def running_server(
    *,
    max_wait_ms: float = 2.0,
    engine: str = "auto",
    threads: int | None = None,
    max_batch: int = 1024,
    queue_size: int = 1024,
    start_timeout_s: float = 120.0,
    extra: Sequence[str] = (),
) -> Iterator[str]:
    """A pricing service in its own process on 127.0.0.1, for the block; yields its URL.
    ``extra``: more options of ``python -m helpers.serve`` (``--noop-endpoint true``).

    Raises:
        RuntimeError: the server exits or does not answer ``/health`` within
            ``start_timeout_s``; the message holds the end of its log.
    """
    options = ["--max-wait-ms", str(max_wait_ms), "--engine", engine,
               "--max-batch", str(max_batch), "--queue-size", str(queue_size)]  # fmt: skip
    if threads is not None:
        options += ["--threads", str(threads)]
    options += list(extra)
    with tempfile.TemporaryFile("w+") as log:
        process, url = start_server(options, log, start_timeout_s)
        try:
            yield url
        finally:
            stop(process)


def _health(url: str) -> dict:
    with urllib.request.urlopen(url + "/health", timeout=1) as response:
        return json.load(response)


def _healthy(url: str) -> bool:
    """Whether ``url/health`` answers 200 with ``{"status": "ok"}`` (or, LitServe's, ``ok``)."""
    try:
        with urllib.request.urlopen(url + "/health", timeout=1) as response:
            text = response.read().decode()
    except OSError:
        return False
    try:
        return json.loads(text).get("status") == "ok"
    except (ValueError, AttributeError):
        return text.strip() == "ok"


def window_sweep(
    *,
    windows_ms: Sequence[float] = WINDOWS_MS,
    concurrencies: Sequence[int] = CONCURRENCIES,
    endpoints: Sequence[str] = ("price", "greeks"),
    requests: int = 400,
    engine: str = "auto",
    threads: int | None = None,
) -> list[dict]:
    """Throughput and latency at each batching window, concurrency and endpoint.

    One server per window; at each concurrency and endpoint, a warm-up of ``concurrency``
    requests, then ``requests`` single-option requests, closed loop (``run_load``).

    Returns:
        One dict per point: ``window_ms``, ``engine`` (the one that priced: what ``"auto"``
        chose) and ``run_load``'s ``LoadResult`` fields.
    """
    rows = []
    for window in windows_ms:
        with running_server(max_wait_ms=window, engine=engine, threads=threads) as url:
            serving = _health(url)["engine"]  # what "auto" chose
            for endpoint in endpoints:
                for concurrency in concurrencies:
                    run_load(url, endpoint=endpoint, requests=concurrency,
                             concurrency=concurrency, seed=1)  # fmt: skip
                    result = run_load(
                        url, endpoint=endpoint, requests=requests, concurrency=concurrency
                    )
                    rows.append({"window_ms": window, "engine": serving} | asdict(result))
    return rows
