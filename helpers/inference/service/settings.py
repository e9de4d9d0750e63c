"""The service's settings: command-line options, each with an environment variable.

``python -m helpers.serve --max-wait-ms 2`` and ``PRICER_MAX_WAIT_MS=2 python -m
helpers.serve`` do the same; the command line wins where both are given.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields

from .engine import ENGINES

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Settings:
    """How the service listens, batches and gives up.

    Attributes:
        host: address to listen on (loopback by default).
        port: TCP port; 0 lets the system choose a free one.
        model: folder of ``pricer.json`` and its weights; ``None``: the shipped ``data/``.
        engine: ``"auto"``, ``"torch"`` or ``"onnx"`` for ``/price``
        (``helpers.inference.service.engine``).
        threads: intra-op threads of the model; ``None``: the framework's choice.
        max_batch: options per batched call at most.
        max_wait_ms: how long a batch waits for more requests after its first; 0: no batching.
        queue_size: requests that may wait per endpoint; past it, 503 with ``Retry-After``.
        deadline_ms: a request's time from arrival to answer; past it, 504.

    The defaults come from ``make bench`` (``bench/results.md``, the service's section, on two
    CPU cores): a 2 ms window gave the highest throughput, or within a few percent of it, at
    16 and 64 requests in flight on ``/price`` and ``/greeks``, and a lone request pays the
    whole window, so no longer; ``"auto"`` because the ONNX export answered 1.4 to 1.8 times
    as many ``/price`` requests a second as PyTorch at 64 in flight, and the choice is timed
    again on the machine that serves.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    model: str | None = None
    engine: str = "auto"
    threads: int | None = None
    max_batch: int = 1024
    max_wait_ms: float = 2.0
    queue_size: int = 1024
    deadline_ms: float = 5000.0

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {list(ENGINES)}, got {self.engine!r}")
        if not 0 <= self.port < 65536:
            raise ValueError(f"port must be in [0, 65535], got {self.port}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        for name in ("max_batch", "queue_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.max_wait_ms >= 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")
        if not self.deadline_ms > 0:
            raise ValueError(f"deadline_ms must be > 0, got {self.deadline_ms}")


def env_name(field: str) -> str:
    """The environment variable of a setting: ``max_wait_ms`` -> ``PRICER_MAX_WAIT_MS``."""
    return "PRICER_" + field.upper()


def parse(argv: Sequence[str] | None = None) -> Settings:
    """Settings from the command line, then the environment, then the defaults.

    Raises:
        SystemExit: a value argparse cannot read or ``Settings`` refuses (the message names it).
    """
    parser = argparse.ArgumentParser(
        prog="python -m helpers.serve", description="The pricing service on uvicorn."
    )
    kinds = {f.name: f for f in fields(Settings)}
    converters = {"port": int, "threads": int, "max_batch": int, "queue_size": int,
                  "max_wait_ms": float, "deadline_ms": float}  # fmt: skip
    for name, field in kinds.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=converters.get(name, str),
            default=None,
            help=f"(env {env_name(name)}; default {field.default!r})",
        )
    args = vars(parser.parse_args(argv))
    values = {}
    for name in kinds:
        if args[name] is not None:
            values[name] = args[name]
        elif env_name(name) in os.environ:
            try:
                values[name] = converters.get(name, str)(os.environ[env_name(name)])
            except ValueError:
                parser.error(f"{env_name(name)}={os.environ[env_name(name)]!r} is not valid")
    try:
        return Settings(**values)
    except ValueError as err:
        parser.error(str(err))
