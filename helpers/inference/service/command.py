"""The command line: settings (``helpers.inference.service.settings``), then uvicorn until SIGTERM.

``main`` checks the settings, binds the listening socket, loads the engine and only then
starts uvicorn, so that a user's mistake (a ``--model`` folder without a model, a port already
taken) is one line on stderr, ``error: ...``, and a non-zero exit, never a traceback. Once
uvicorn serves, it prints to stdout (flushed, so a script that started it can read it):

    pricer: listening on http://127.0.0.1:43817
    pricer: engine onnx (auto: onnx, because ONNX Runtime was faster at every size timed ...)

the address with the port the system chose for ``--port 0``. On SIGTERM or Ctrl-C uvicorn
stops accepting connections, waits for every open request to be answered (at most
``GRACEFUL_SECONDS``), then the application drains its batchers, prints what it counted to
stderr (``helpers.inference.service.app``) and exits.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

from ...core.cli import FAILURE, INTERRUPTED, fail

GRACEFUL_SECONDS = 30
"""How long a shutdown waits for open requests; a request's deadline is far shorter."""

STARTUP_FAILURE = FAILURE
"""Exit code when the engine cannot be loaded or the port cannot be bound."""


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: one the system chooses).

    Raises:
        ValueError: the host does not resolve or the address cannot be bound, naming both.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as err:
        raise ValueError(f"cannot listen on {host}:{port}: {err}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as err:
        sock.close()
        raise ValueError(f"cannot listen on {host}:{port}: {err.strerror or err}") from None
    sock.setblocking(False)
    return sock


def address(sock: socket.socket) -> str:
    """The URL a listening socket answers on: ``http://127.0.0.1:43817``, ``http://[::1]:80``."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def main(argv: Sequence[str] | None = None) -> None:
    """Runs the service until it is told to stop.

    Raises:
        SystemExit: code 2 for a bad option, ``STARTUP_FAILURE`` for a model that cannot be
            loaded or an address that cannot be bound, each with one line on stderr.
    """
    from .settings import parse

    settings = parse(argv)  # exits with one line on a bad option

    import uvicorn

    from .app import create_app
    from .engine import Engine

    try:
        sock = listen(settings.host, settings.port)
    except ValueError as err:
        fail(str(err), STARTUP_FAILURE)
    try:
        engine = Engine(settings.model, settings.engine, settings.threads)
    except (ValueError, OSError, KeyError) as err:
        sock.close()
        fail(f"cannot load the model: {err}", STARTUP_FAILURE)
    except KeyboardInterrupt:  # Ctrl-C while the model loads: nothing to drain yet
        sock.close()
        fail("interrupted while loading the model", INTERRUPTED)
    url = address(sock)

    class Server(uvicorn.Server):
        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started:
                print(f"pricer: listening on {url}", flush=True)
                print(f"pricer: engine {engine.name} ({engine.choice})", flush=True)

    config = uvicorn.Config(
        create_app(settings, engine=engine),
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
    Server(config).run(sockets=[sock])
