"""The pricing service: FastAPI endpoints in front of one micro-batcher per endpoint.

``create_app(settings)`` builds the application; ``python -m helpers.serve`` runs it on
uvicorn. Each of ``/price``, ``/greeks`` and ``/implied-vol`` checks its request on its own
(a 422 names the option's index, the column and the range), then queues the request's options
with that endpoint's ``MicroBatcher``; all batchers share one executor thread, so one batch
computes at a time while the event loop keeps accepting requests. ``/metrics`` is Prometheus
text (prometheus-client): requests by endpoint and status, batch sizes, queue depths and
latencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import time
import warnings
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel

from ...core.domain import COLUMNS
from ..pricing import check_domain
from .batcher import DeadlineExceeded, MicroBatcher, QueueFull
from .engine import GREEK_NAMES, Engine
from .schemas import Greeks, Health, ImpliedVols, OptionsRequest, Prices, QuotesRequest
from .settings import Settings

ENDPOINTS = ("price", "greeks", "implied-vol")
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)


class Metrics:
    """The service's Prometheus metrics, in a registry of their own (one per application)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pricer_requests", "Requests answered, by endpoint and HTTP status",
            ["endpoint", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "pricer_request_seconds", "Time from a request's arrival to its answer",
            ["endpoint"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.batch = Histogram(
            "pricer_batch_options", "Options in each batched model call",
            ["endpoint"], buckets=BATCH_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.depth = Gauge(
            "pricer_queue_depth", "Requests waiting for a batch",
            ["endpoint"], registry=self.registry,
        )  # fmt: skip


def _error(status: int, detail: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _json(body: BaseModel) -> Response:
    """An answer already in JSON: pydantic writes it once (the route's ``response_model``
    still documents it), where returning the model would have FastAPI validate it again."""
    return Response(body.model_dump_json(), media_type="application/json")


def _as_array(options: list, columns: tuple[str, ...]) -> np.ndarray:
    return np.array([[getattr(o, c) for c in columns] for o in options], dtype=np.float64)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The service's application.

    Args:
        settings: batching, queue and deadline settings (default ``Settings()``).
        engine: the model behind the batchers; default ``Engine(settings.model,
            settings.engine, settings.threads)``, made when the application starts.
    """
    settings = settings or Settings()
    metrics = Metrics()
    state: dict = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        model = engine or Engine(settings.model, settings.engine, settings.threads)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pricer-batch")
        runs = {"price": model.price, "greeks": model.greeks, "implied-vol": model.implied_vol}
        batchers = {}
        for name, run in runs.items():
            batchers[name] = MicroBatcher(
                run, executor, max_batch=settings.max_batch, max_wait_ms=settings.max_wait_ms,
                queue_size=settings.queue_size, on_batch=metrics.batch.labels(name).observe,
            )  # fmt: skip
            batchers[name].start()
            metrics.depth.labels(name).set_function(lambda b=batchers[name]: b.depth)
        state.update(engine=model, batchers=batchers, accepted=0, answered=0)
        # Everything made at start-up (the model, PyTorch's and FastAPI's objects) lives as
        # long as the server: frozen, the garbage collector stops scanning it. Unfrozen, each
        # full collection stalled every request in flight by ~90 ms on two cores (measured:
        # two whole batches of 64 at p99 120 ms, against 42 ms frozen).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:  # uvicorn has answered every open request by now; drain what is left
            await asyncio.gather(*(b.stop() for b in batchers.values()))
            executor.shutdown(wait=True)
            print(
                f"pricer: stopped; accepted {state['accepted']} requests,"
                f" answered {state['answered']}",
                file=sys.stderr,
                flush=True,
            )

    app = FastAPI(
        title="Asian barrier option pricer",
        description="The course's pretrained network behind a micro-batching queue.",
        lifespan=lifespan,
    )

    async def answer(
        request: Request, endpoint: str, X: np.ndarray, extra: np.ndarray | None
    ) -> tuple[object, JSONResponse | None]:
        """Queues one request and waits for its rows, its deadline or its client's leaving."""
        try:
            job = state["batchers"][endpoint].submit(X, extra, settings.deadline_ms / 1e3)
        except QueueFull as err:
            return None, _error(503, f"server busy: {err}", {"Retry-After": "1"})
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            done, _ = await asyncio.wait(
                {job.future, gone}, timeout=settings.deadline_ms / 1e3,
                return_when=asyncio.FIRST_COMPLETED,
            )  # fmt: skip
        finally:
            gone.cancel()
        if job.future not in done:  # the client left, or the deadline passed mid-batch
            job.future.cancel()  # the batcher drops it, or discards its rows
            if gone in done:  # nginx's "client closed request": nobody reads it
                return None, _error(499, "the client closed the request")
            return None, _error(504, "deadline passed before the answer was ready")
        try:
            return job.future.result(), None
        except DeadlineExceeded as err:
            return None, _error(504, str(err))
        except Exception as err:  # the model failed on this batch: a 500 that says so
            print(f"pricer: {endpoint} batch failed: {err!r}", file=sys.stderr, flush=True)
            return None, _error(500, f"the model failed on this batch: {type(err).__name__}")

    def record(endpoint: str, started: float, response: JSONResponse | None) -> None:
        state["answered"] += 1
        status = 200 if response is None else response.status_code
        metrics.requests.labels(endpoint, str(status)).inc()
        metrics.latency.labels(endpoint).observe(time.perf_counter() - started)

    def checked(body: OptionsRequest | QuotesRequest, columns) -> np.ndarray | JSONResponse:
        state["accepted"] += 1
        X = _as_array(body.options, columns)
        if "sigma" not in columns:  # a quote: sigma is what is asked for; any in-range value
            X = np.insert(X, COLUMNS.index("sigma"), 0.2, axis=1)
        try:
            if not body.allow_outside:
                return check_domain(X)
            with warnings.catch_warnings():  # extrapolation the request asked for
                warnings.simplefilter("ignore")
                return check_domain(X, allow_outside=True)
        except ValueError as err:
            message = str(err).replace("in row", "in option")
            message = message.replace("allow_outside=True", '"allow_outside": true')
            return _error(422, message)

    @app.post("/price", response_model=Prices)
    async def price(body: OptionsRequest, request: Request):
        started = time.perf_counter()
        X = checked(body, COLUMNS)
        if isinstance(X, JSONResponse):
            record("price", started, X)
            return X
        prices, error = await answer(request, "price", X, None)
        record("price", started, error)
        return error or _json(Prices(prices=prices.tolist()))

    @app.post("/greeks", response_model=Greeks)
    async def greeks(body: OptionsRequest, request: Request):
        started = time.perf_counter()
        X = checked(body, COLUMNS)
        if isinstance(X, JSONResponse):
            record("greeks", started, X)
            return X
        parts, error = await answer(request, "greeks", X, None)
        record("greeks", started, error)
        if error is not None:
            return error
        columns = zip(*(part.tolist() for part in parts), strict=True)
        rows = [dict(zip(GREEK_NAMES, row, strict=True)) for row in columns]
        return _json(Greeks(greeks=rows))

    @app.post("/implied-vol", response_model=ImpliedVols)
    async def implied_vol(body: QuotesRequest, request: Request):
        started = time.perf_counter()
        columns = tuple(c for c in COLUMNS if c != "sigma")
        X = checked(body, columns)
        if isinstance(X, JSONResponse):
            record("implied-vol", started, X)
            return X
        quotes = np.array([o.price for o in body.options], dtype=np.float64)
        vols, error = await answer(request, "implied-vol", X, quotes)
        if error is None and np.isnan(vols).any():
            i = int(np.flatnonzero(np.isnan(vols))[0])
            reason = state["engine"].unattainable_reason(X[i], float(quotes[i]))
            error = _error(422, f"option {i}: {reason.replace('for row 0 ', '')}")
        record("implied-vol", started, error)
        return error or _json(ImpliedVols(implied_vols=vols.tolist()))

    @app.get("/health", response_model=Health)
    async def health():
        model = state["engine"]
        depth = {name: b.depth for name, b in state["batchers"].items()}
        return Health(
            status="ok", engine=model.name, engine_choice=model.choice,
            model_sha256=model.sha256, queue_depth=depth,
        )  # fmt: skip

    @app.get("/metrics")
    async def prometheus():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A 422 that names each bad field (``option 3, sigma: ...``) and never echoes the
        input, which may be a NaN that JSON cannot carry."""
        problems = [_describe(error) for error in exc.errors()]
        endpoint = request.url.path.strip("/")
        if endpoint in ENDPOINTS:
            metrics.requests.labels(endpoint, "422").inc()
        return _error(422, "; ".join(problems))

    app.state.metrics = metrics
    app.state.settings = settings
    app.state.internals = state
    return app


def _describe(error: dict) -> str:
    """``option 3, sigma: Input should be a finite number`` from a pydantic error."""
    loc = [part for part in error.get("loc", ()) if part != "body"]
    where = []
    if len(loc) >= 2 and loc[0] == "options" and isinstance(loc[1], int):
        where.append(f"option {loc[1]}")
        loc = loc[2:]
    where += [str(part) for part in loc]
    return f"{', '.join(where) or 'body'}: {error.get('msg', 'invalid')}"


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone away (its body is already read, so the next message
    the server receives for this request is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
