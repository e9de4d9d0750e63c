"""The shipped pricer on LitServe: ``python -m helpers.inference.service.peers.litserve_app``.

LitServe batches requests itself: up to ``--max-batch`` requests, waiting at most
``--window-ms`` after the first (``max_batch_size``, ``batch_timeout``); one inference worker
process prices each batch with the course's ``Engine``. Prints ``pricer: listening on URL``
and serves until SIGTERM. Needs the ``peers`` extra (``litserve``).
"""

from __future__ import annotations

import litserve as ls
import numpy as np
from fastapi import HTTPException

from . import main_arguments, options_of


class PricerAPI(ls.LitAPI):
    """``POST /price`` as the course's service answers it, batched by LitServe.

    Args:
        engine, threads: the course's ``Engine`` (made in the worker, in ``setup``).
        max_batch: requests per batch; window_ms: LitServe's ``batch_timeout``, milliseconds.
    """

    def __init__(self, engine: str, threads: int, max_batch: int, window_ms: float) -> None:
        super().__init__(max_batch_size=max_batch, batch_timeout=window_ms / 1000.0,
                         api_path="/price")  # fmt: skip
        self.engine_name, self.threads = engine, threads

    def setup(self, device: str) -> None:
        from ..engine import Engine

        self.engine = Engine(engine=self.engine_name, threads=self.threads)

    def decode_request(self, request: dict) -> np.ndarray:
        from ...pricing import check_domain

        try:
            return check_domain(options_of(request))
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None

    def batch(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return inputs

    def predict(self, x: np.ndarray | list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        parts = x if isinstance(x, list) else [x]
        prices = self.engine.price(np.vstack(parts))
        split = np.split(prices, np.cumsum([len(p) for p in parts])[:-1])
        return split if isinstance(x, list) else split[0]

    def unbatch(self, output: list[np.ndarray]) -> list[np.ndarray]:
        return output

    def encode_response(self, output: np.ndarray) -> dict:
        return {"prices": [float(p) for p in output]}


def main(argv: list[str] | None = None) -> None:
    """Serves until stopped (SIGTERM or Ctrl-C)."""
    args = main_arguments(argv, "python -m helpers.inference.service.peers.litserve_app")
    api = PricerAPI(args.engine, args.threads, args.max_batch, args.window_ms)
    server = ls.LitServer(api, accelerator="cpu", devices=1, workers_per_device=1, timeout=30)
    print(f"pricer: listening on http://127.0.0.1:{args.port}", flush=True)
    server.run(host="127.0.0.1", port=args.port, num_api_servers=1, log_level="warning",
               generate_client_file=False)  # fmt: skip


if __name__ == "__main__":
    main()
