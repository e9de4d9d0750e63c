"""A pricing service for the pretrained network (Chapter 13): FastAPI on uvicorn, with
micro-batching.

``POST /price``, ``POST /greeks`` and ``POST /implied-vol`` take a list of options and answer
in the same order; ``GET /health`` and ``GET /metrics`` (Prometheus text) watch it. Requests
that arrive within ``max_wait_ms`` of each other are answered by one batched model call
(``batcher``). Bad input gets a 422 naming the option and the column, a full queue a 503 with
``Retry-After``, a missed deadline a 504; a client that leaves has its options dropped; on
SIGTERM every accepted request is answered before the process exits.

A request holds at most ``schemas.MAX_OPTIONS`` options (``MAX_QUOTES`` quotes), numbers are
strict JSON numbers, and a 200 holds finite numbers only; ``/docs`` is the OpenAPI description
as one page that loads nothing from the network. At start-up the server prints the address it
listens on (the port chosen for ``--port 0``) and its engine with the reason.

Modules: ``schemas`` (the bodies and their limits), ``batcher`` (``MicroBatcher``), ``engine``
(the model behind it), ``app`` (``create_app``), ``docs`` (the offline ``/docs`` page),
``settings`` (command line and environment), ``command`` (``python -m helpers.serve``),
``measure`` and ``benchmark`` (the service under load), ``tables`` (Chapter 13's tables of
it).

Example (the option is the article's network example, ``helpers.ARTICLE_NETWORK_EXAMPLE``):
    python -m helpers.serve --port 8000 --max-wait-ms 2
    curl -s 127.0.0.1:8000/price -H 'content-type: application/json' \\
        -d '{"options": [{"K": 110, "B": 100, "S0": 120, "sigma": 0.35, "mu": 0.1, "r": 0.05}]}'
"""

from .batcher import DeadlineExceeded, MicroBatcher, QueueFull
from .settings import Settings

__all__ = ["DeadlineExceeded", "MicroBatcher", "QueueFull", "Settings", "create_app"]


def __getattr__(name: str):
    if name == "create_app":  # FastAPI is imported only when the service is built
        from .app import create_app

        return create_app
    raise AttributeError(name)
