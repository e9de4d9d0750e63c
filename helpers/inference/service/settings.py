"""The service's settings: command-line options, each with an environment variable.

``python -m helpers.serve --max-wait-ms 2`` and ``PRICER_MAX_WAIT_MS=2 python -m
helpers.serve`` do the same; the command line wins where both are given.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from ...core.cli import CommandParser, real_number, whole_number
from .engine import ENGINES

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Settings:
    """How the service listens, batches and gives up.

    Attributes:
        host: address to listen on (loopback by default).
        port: TCP port; 0 lets the system choose a free one (printed at start-up).
        model: folder of ``pricer.json`` and its weights; ``None``: the shipped ``data/``.
        engine: ``"auto"``, ``"torch"`` or ``"onnx"`` for ``/price``
        (``helpers.inference.service.engine``).
        threads: intra-op threads of the model; ``None``: the framework's choice.
        max_batch: options per batched call at most.
        max_wait_ms: how long a batch waits for more requests after its first; 0: no batching.
        queue_size: requests that may wait per endpoint; past it, 503 with ``Retry-After``.
        deadline_ms: a request's time from arrival to answer; past it, 504.
        noop_endpoint: also answer ``POST /noop`` (benchmarking only; not in the schema).

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
    noop_endpoint: bool = False

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
        if not (math.isfinite(self.max_wait_ms) and self.max_wait_ms >= 0):
            raise ValueError(f"max_wait_ms must be finite and >= 0, got {self.max_wait_ms}")
        if not (math.isfinite(self.deadline_ms) and self.deadline_ms > 0):
            raise ValueError(f"deadline_ms must be finite and > 0, got {self.deadline_ms}")


def env_name(field: str) -> str:
    """The environment variable of a setting: ``max_wait_ms`` -> ``PRICER_MAX_WAIT_MS``."""
    return "PRICER_" + field.upper()


HELP = {
    "host": "address to listen on; loopback only unless you mean to serve other machines",
    "port": "TCP port to listen on; 0 lets the system choose a free one (the address is"
    " printed at start-up)",
    "model": "folder holding pricer.json and its weights",
    "engine": "what prices /price: torch (float32 PyTorch), onnx (its ONNX export in ONNX"
    " Runtime) or auto (the faster of the two, timed at start-up)",
    "threads": "intra-op threads of the model (PyTorch and ONNX Runtime), a count >= 1",
    "max_batch": "options in one batched model call at most, a count >= 1",
    "max_wait_ms": "how long a batch waits for more requests after its first, milliseconds"
    " >= 0; 0 answers each request on its own",
    "queue_size": "requests that may wait per endpoint, a count >= 1; past it, 503 with"
    " Retry-After",
    "deadline_ms": "a request's time from arrival to answer, milliseconds > 0; past it, 504",
    "noop_endpoint": "benchmarking only, true or false: also answer POST /noop, which reads"
    " the body and answers an empty price list without parsing or pricing (the ceiling of"
    " this HTTP stack); not in the API's schema",
}
"""What each option of ``python -m helpers.serve --help`` is, without its default and
variable (``parse`` adds them)."""


SHOWN_DEFAULTS = {
    "model": "the shipped model, in the repository's data/",
    "threads": "PyTorch's own choice",
}


def _default(field) -> str:
    return SHOWN_DEFAULTS.get(field.name, f"{field.default!r}".strip("'"))


def _boolean(text: str) -> bool:
    """An argparse ``type``: ``true``/``false`` (also ``1``/``0``, ``yes``/``no``)."""
    value = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if text.strip().lower() not in value:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value[text.strip().lower()]


def check_model_folder(folder: str | None) -> None:
    """Raises a ``ValueError`` naming ``folder`` unless it is a folder with ``pricer.json``."""
    if folder is None:
        return
    path = Path(folder)
    if not path.is_dir():
        raise ValueError(f"--model {folder}: no such folder")
    if not (path / "pricer.json").is_file():
        raise ValueError(f"--model {folder}: the folder holds no pricer.json")


def parse(argv: Sequence[str] | None = None) -> Settings:
    """Settings from the command line, then the environment, then the defaults.

    Raises:
        SystemExit: a value argparse cannot read, ``Settings`` refuses or a ``--model`` folder
            without ``pricer.json``; the one-line message names it.
    """
    parser = CommandParser(
        prog="python -m helpers.serve",
        description="The pricing service on uvicorn: POST /price, /greeks and /implied-vol;"
        " GET /health, /metrics and /docs (offline). At start-up it prints the address it"
        " listens on and the engine it prices with, and why. Each option may also come from"
        " its environment variable; the command line wins.",
    )
    kinds = {f.name: f for f in fields(Settings)}
    converters = {
        "port": whole_number(0, 65535),
        "threads": whole_number(1),
        "max_batch": whole_number(1),
        "queue_size": whole_number(1),
        "max_wait_ms": real_number(0),
        "deadline_ms": real_number(0, low_open=True),
        "noop_endpoint": _boolean,
    }
    for name, field in kinds.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=converters.get(name, str),
            default=None,
            metavar={"engine": "{" + ",".join(ENGINES) + "}", "noop_endpoint": "{true,false}"}.get(
                name, name.upper()
            ),
            help=f"{HELP[name]} (default {_default(field)}; env {env_name(name)})",
        )
    args = vars(parser.parse_args(argv))
    values = {}
    for name in kinds:
        if args[name] is not None:
            values[name] = args[name]
        elif env_name(name) in os.environ:
            try:
                values[name] = converters.get(name, str)(os.environ[env_name(name)])
            except (ValueError, argparse.ArgumentTypeError) as err:
                parser.error(f"{env_name(name)}={os.environ[env_name(name)]!r}: {err}")
    try:
        settings = Settings(**values)
        check_model_folder(settings.model)
    except ValueError as err:
        parser.error(str(err))
    return settings
