"""The shipped pricer on Ray Serve: ``python -m helpers.inference.service.peers.ray_app``.

A Ray Serve deployment behind a FastAPI ingress; its ``prices`` method batches with
``@serve.batch`` (up to ``--max-batch`` calls, waiting at most ``--window-ms``) and prices each
batch with the course's ``Engine``. Ray runs a local cluster (its own processes: the script is
started in a process group of its own, and stopped as one). Prints ``pricer: listening on
URL`` once the application answers and serves until SIGTERM. Needs the ``peers`` extra
(``ray[serve]``).
"""

# no "from __future__ import annotations": FastAPI must see the Request class itself in the
# methods' annotations, not a string it cannot resolve in a Ray Serve ingress
import os
import signal
import threading

import numpy as np
from fastapi import FastAPI, HTTPException, Request
from ray import serve

from . import main_arguments, options_of

app = FastAPI()


@serve.deployment(max_ongoing_requests=1024)
@serve.ingress(app)
class Pricer:
    """``POST /price`` as the course's service answers it; ``GET /health``.

    Args:
        engine, threads: the course's ``Engine``; max_batch, window_ms: ``@serve.batch``'s.
    """

    def __init__(self, engine: str, threads: int, max_batch: int, window_ms: float) -> None:
        from ..engine import Engine

        self.engine = Engine(engine=engine, threads=threads)
        self.prices.set_max_batch_size(max_batch)
        self.prices.set_batch_wait_timeout_s(window_ms / 1000.0)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.002)
    async def prices(self, parts: list[np.ndarray]) -> list[list[float]]:
        prices = self.engine.price(np.vstack(parts))
        split = np.split(prices, np.cumsum([len(p) for p in parts])[:-1])
        return [[float(p) for p in s] for s in split]

    @app.post("/price")
    async def price(self, request: Request) -> dict:
        from ...pricing import check_domain

        try:
            X = check_domain(options_of(await request.json()))
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        return {"prices": await self.prices(X)}

    @app.get("/health")
    async def health(self) -> dict:
        return {"status": "ok"}


def main(argv: list[str] | None = None) -> None:
    """Serves until stopped (SIGTERM or Ctrl-C), then shuts Ray down."""
    import ray

    args = main_arguments(argv, "python -m helpers.inference.service.peers.ray_app")
    ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
             logging_level="warning")  # fmt: skip
    serve.start(http_options={"host": "127.0.0.1", "port": args.port})
    bound = Pricer.bind(args.engine, args.threads, args.max_batch, args.window_ms)
    serve.run(bound, route_prefix="/", blocking=False)
    print(f"pricer: listening on http://127.0.0.1:{args.port}", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
