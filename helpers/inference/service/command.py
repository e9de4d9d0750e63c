"""The command line: settings (``helpers.inference.service.settings``), then uvicorn until SIGTERM.

On SIGTERM or Ctrl-C uvicorn stops accepting connections, waits for every open request to be
answered (at most ``GRACEFUL_SECONDS``), then the application drains its batchers and exits.
"""

from __future__ import annotations

from collections.abc import Sequence

GRACEFUL_SECONDS = 30
"""How long a shutdown waits for open requests; a request's deadline is far shorter."""


def main(argv: Sequence[str] | None = None) -> None:
    """Runs the service until it is told to stop."""
    import uvicorn

    from .app import create_app
    from .settings import parse

    settings = parse(argv)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
    )
