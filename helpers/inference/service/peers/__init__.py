"""The same pricer served by the servers a team would pick instead (Chapter 13, ``make bench``).

Each peer runs as its own process on 127.0.0.1 and answers ``POST /price`` with the course's
request and answer bodies (``{"options": [...]}`` in, ``{"prices": [...]}`` out), so that the
course's load test (``helpers.inference.loadtest.run_load``) drives every server alike, and
``GET /health`` once it listens:

* ``litserve_app``: LitServe (Lightning AI's FastAPI-based server), its own batching
  (``max_batch_size``, ``batch_timeout``) around the course's engine;
* ``ray_app``: Ray Serve, a deployment whose method batches with ``@serve.batch``, behind a
  FastAPI ingress.

Both price with the course's ``Engine`` (the same model, the same ONNX Runtime or PyTorch call
as the course's service), so what differs is the server. The peers are an optional extra
(``pip install '.[peers]'``, which ``make bench`` installs); the service never uses them.
``running_peer`` starts one and stops it by its process id.
"""

from __future__ import annotations

import contextlib
import importlib.util
import socket
import sys
import tempfile
from collections.abc import Iterator

import numpy as np

from ....core.domain import COLUMNS

PEERS = {"litserve": "litserve", "ray": "ray"}
"""Each peer's name and the package it needs."""


def available(name: str) -> bool:
    """Whether peer ``name``'s package imports here."""
    return importlib.util.find_spec(PEERS[name]) is not None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the peer binds it just after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def options_of(body: dict) -> np.ndarray:
    """The options of a ``/price`` body as float32 of shape ``(n, 6)``.

    Raises:
        ValueError: a body without a list of options holding every column as a number.
    """
    options = body.get("options") if isinstance(body, dict) else None
    if not isinstance(options, list) or not options:
        raise ValueError('the body must be {"options": [ {K, B, S0, sigma, mu, r}, ... ]}')
    try:
        return np.array([[float(o[c]) for c in COLUMNS] for o in options], dtype=np.float32)
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"each option needs the numbers {list(COLUMNS)}: {err}") from None


@contextlib.contextmanager
def running_peer(
    name: str, *, window_ms: float = 2.0, max_batch: int = 64, threads: int = 1,
    engine: str = "onnx", start_timeout_s: float = 180.0,
) -> Iterator[str]:  # fmt: skip
    """Peer ``name`` (a key of ``PEERS``) in its own process on 127.0.0.1; yields its URL.

    Args:
        window_ms: how long a batch waits for more requests; max_batch: requests per batch.
        threads: the engine's intra-op threads; engine: the course's ``Engine`` name.

    Raises:
        RuntimeError: the peer exits or does not answer ``/health`` in ``start_timeout_s``.
    """
    from ..measure import start_server, stop

    port = free_port()
    module = f"{__name__}.{name}_app"
    options = ["--port", str(port), "--window-ms", str(window_ms), "--max-batch",
               str(max_batch), "--threads", str(threads), "--engine", engine]  # fmt: skip
    with tempfile.TemporaryFile("w+") as log:
        process, url = start_server(options, log, start_timeout_s, module=module)
        try:
            yield url
        finally:
            stop(process)


def main_arguments(argv: list[str] | None, prog: str):
    """The peers' common command line: port, window, batch, threads, engine."""
    from ....core.cli import CommandParser, real_number, whole_number

    parser = CommandParser(prog=prog, description="Serve the shipped pricer on 127.0.0.1.")
    parser.add_argument("--port", type=whole_number(1, 65535), required=True)
    parser.add_argument("--window-ms", type=real_number(0), default=2.0)
    parser.add_argument("--max-batch", type=whole_number(1), default=64)
    parser.add_argument("--threads", type=whole_number(1), default=1)
    parser.add_argument("--engine", choices=("torch", "onnx", "auto"), default="onnx")
    return parser.parse_args(sys.argv[1:] if argv is None else argv)
