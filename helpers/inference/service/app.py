"""The pricing service: FastAPI endpoints in front of one micro-batcher per endpoint.

``create_app(settings)`` builds the application; ``python -m helpers.serve`` runs it on
uvicorn. Each of ``/price``, ``/greeks`` and ``/implied-vol`` checks its request on its own
(a 422 names the option's index, the column and the range), then queues the request's options
with that endpoint's ``MicroBatcher``; all batchers share one executor thread, so one batch
computes at a time while the event loop keeps accepting requests. ``/metrics`` is Prometheus
text (prometheus-client): requests by endpoint and status, batch sizes, queue depths and
latencies.

Limits: a body over ``MAX_BODY_BYTES`` is a 413 before it is parsed, a request of more than
``MAX_OPTIONS`` options (``MAX_QUOTES`` quotes) a 422 that names the limit. An answer with
status 200 holds finite numbers only: where the model gives a NaN or an infinity, the request
is a 422 naming the option if the request allowed it outside the training domain, and a 500
naming it otherwise (a fault of the model, which the server's log records).

What the server counts, printed when it stops: ``accepted``, the requests whose body was valid
and that were checked against the domain; ``answered``, those of them that got an answer,
by status. Both count every such request since start-up, whoever sent it: a load test's warm-up
requests (``helpers.inference.loadtest``, one per connection, not in its own counts) included,
so the server's count of 200s is the client's plus its warm-up's, and more when other clients
came before. A request refused by validation (422) is in ``/metrics`` but not in these counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
import time
import warnings
from collections import Counter as Tally
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel

from ...core.domain import BARRIER_FRACTION, COLUMNS, DOMAIN_HIGH, DOMAIN_LOW
from ..pricing import check_domain
from .batcher import DeadlineExceeded, MicroBatcher, QueueFull
from .docs import docs_page
from .engine import GREEK_NAMES, Engine
from .schemas import (
    MAX_BODY_BYTES,
    MAX_OPTIONS,
    MAX_QUOTES,
    Error,
    Greeks,
    Health,
    ImpliedVols,
    OptionsRequest,
    Prices,
    QuotesRequest,
)
from .settings import Settings

ENDPOINTS = ("price", "greeks", "implied-vol")
LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)
PROBLEMS_SHOWN = 5
"""A 422 lists this many of a body's problems, then how many more there are."""

REFUSALS = {
    400: "the body cannot be read at all (not UTF-8 text)",
    413: f"the body is over {MAX_BODY_BYTES:,} bytes",
    422: "an invalid body, an option outside the training domain (unless allow_outside), more"
    " options than the limit, or an unattainable quote; the detail names the option's index",
    500: "the model failed on this batch, or gave a non-finite answer inside the domain",
    503: "the endpoint's queue is full; retry after the Retry-After seconds",
    504: "the deadline passed before the answer was ready",
}
RESPONSES: dict = {status: {"model": Error, "description": why} for status, why in REFUSALS.items()}
"""The refusals each endpoint documents in its OpenAPI description."""


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


_LOW, _HIGH = np.asarray(DOMAIN_LOW), np.asarray(DOMAIN_HIGH)


def _non_finite(values: np.ndarray, X: np.ndarray, allow_outside: bool) -> JSONResponse | None:
    """``None`` where every option's answer (row of ``values``, shape ``(n,)`` or ``(n, k)``)
    is finite; otherwise the refusal that names the first option without one."""
    finite = np.isfinite(values)
    if finite.all():
        return None
    bad = ~(finite if finite.ndim == 1 else finite.all(axis=1))
    i = int(np.flatnonzero(bad)[0])
    row = X[i].astype(np.float64)
    barrier = row[1] <= BARRIER_FRACTION * row[0] * (1 + 1e-6) + 1e-6  # float32's rounding
    inside = (row >= _LOW).all() and (row <= _HIGH).all() and barrier
    count = f"{int(bad.sum())} option(s)"
    if allow_outside and not inside:
        return _error(
            422,
            f"option {i}: the network gives no finite answer this far outside its training"
            f" domain ({count}); bring the option nearer the domain",
        )
    print(f"pricer: non-finite answer for option {i} ({row.tolist()}; {count})", file=sys.stderr)
    return _error(500, f"the model gave a non-finite answer for option {i} ({count})")


class BodyLimit:
    """ASGI middleware: a POST body over ``limit`` bytes is a 413 before anything reads it.

    A body with a ``content-length`` is refused on that header (the server reads no more than
    it announces); a chunked body is read here, at most ``limit`` bytes, and handed on.
    ``on_refuse(path)`` is told of each refusal (metrics).
    """

    def __init__(self, app, limit: int, on_refuse: Callable[[str], None]) -> None:
        self.app, self.limit, self.on_refuse = app, limit, on_refuse

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            size = int(length) if length.strip().isdigit() else None
            if size is None:  # servers refuse these first; an ASGI test client may not
                await _error(400, "content-length is not a byte count")(scope, receive, send)
                return None
            if size > self.limit:
                return await self._refuse(scope, receive, send, f"{size:,}")
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:  # chunked: read it here, bounded
            message = await receive()
            if message["type"] != "http.request":
                return None  # the client left before its body was sent
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._refuse(scope, receive, send, f"at least {size:,}")
            if not message.get("more_body", False):
                break
        first = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

        async def replay():
            return first.pop() if first else await receive()

        return await self.app(scope, replay, send)

    async def _refuse(self, scope, receive, send, size: str) -> None:
        self.on_refuse(scope["path"])
        detail = (
            f"request body of {size} bytes is over the limit of {self.limit:,} bytes"
            f" (at most {MAX_OPTIONS:,} options a request, {MAX_QUOTES:,} quotes for"
            " /implied-vol)"
        )
        response = _error(413, detail, {"connection": "close"})
        await response(scope, receive, send)


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
        state.update(engine=model, batchers=batchers, accepted=0, answered=0, statuses=Tally())
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
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(state["statuses"].items()))
            print(
                f"pricer: stopped; accepted {state['accepted']} requests,"
                f" answered {state['answered']} (by status: {statuses or 'none'}): every"
                " request since start-up, a load test's uncounted warm-up included",
                file=sys.stderr,
                flush=True,
            )

    app = FastAPI(
        title="Asian barrier option pricer",
        description="The course's pretrained network behind a micro-batching queue."
        f" A request holds at most {MAX_OPTIONS:,} options ({MAX_QUOTES:,} quotes for"
        f" /implied-vol) and a body at most {MAX_BODY_BYTES:,} bytes; numbers are JSON numbers"
        ' (true or "110" is refused), finite, in the units each field names.',
        lifespan=lifespan,
        docs_url=None,  # FastAPI's loads Swagger UI from a CDN: blank offline; see /docs below
        redoc_url=None,
    )

    def refused_body(path: str) -> None:
        if path.strip("/") in ENDPOINTS:
            metrics.requests.labels(path.strip("/"), "413").inc()

    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES, on_refuse=refused_body)

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
        state["statuses"][status] += 1
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
                X32 = check_domain(X, allow_outside=True)
        except ValueError as err:
            message = str(err).replace("in row", "in option")
            message = message.replace("allow_outside=True", '"allow_outside": true')
            return _error(422, message)
        if not np.isfinite(X32).all():  # finite in JSON, beyond float32 where the model works
            i, j = np.argwhere(~np.isfinite(X32))[0]
            return _error(
                422,
                f"option {i}, {COLUMNS[j]} = {X[i, j]:g} is beyond the float32 range"
                f" (|x| <= {np.finfo(np.float32).max:.3g}) in which the network computes,"
                " even with allow_outside",
            )
        return X32

    @app.post("/price", response_model=Prices, responses=RESPONSES)
    async def price(body: OptionsRequest, request: Request):
        """Prices of the options, currency units, in the order asked."""
        started = time.perf_counter()
        X = checked(body, COLUMNS)
        if isinstance(X, JSONResponse):
            record("price", started, X)
            return X
        prices, error = await answer(request, "price", X, None)
        if error is None:
            error = _non_finite(prices, X, body.allow_outside)
        record("price", started, error)
        return error or _json(Prices(prices=prices.tolist()))

    @app.post("/greeks", response_model=Greeks, responses=RESPONSES)
    async def greeks(body: OptionsRequest, request: Request):
        """Price, first derivatives and gamma of each option, by name, in the order asked:
        price, dP/dK, dP/dB, delta (dP/dS0), vega (dP/dsigma), dP/dmu, rho (dP/dr at fixed
        mu) and gamma (d2P/dS0^2)."""
        started = time.perf_counter()
        X = checked(body, COLUMNS)
        if isinstance(X, JSONResponse):
            record("greeks", started, X)
            return X
        parts, error = await answer(request, "greeks", X, None)
        if error is None:
            error = _non_finite(np.stack(parts, axis=1), X, body.allow_outside)
        record("greeks", started, error)
        if error is not None:
            return error
        columns = zip(*(part.tolist() for part in parts), strict=True)
        rows = [dict(zip(GREEK_NAMES, row, strict=True)) for row in columns]
        return _json(Greeks(greeks=rows))

    @app.post("/implied-vol", response_model=ImpliedVols, responses=RESPONSES)
    async def implied_vol(body: QuotesRequest, request: Request):
        """The smallest volatility in [0, 0.4] (per year) at which the network's price
        matches each quote, in the order asked; a quote no volatility matches is a 422 that
        names it and the prices the network attains."""
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

    if settings.noop_endpoint:

        @app.post("/noop", include_in_schema=False)
        async def noop(request: Request) -> Response:
            """Reads the body and answers an empty price list: the HTTP stack alone."""
            await request.body()
            return Response(b'{"prices":[]}', media_type="application/json")

    @app.get("/health", response_model=Health)
    async def health():
        """The engine that prices and why, the model's SHA-256 and each queue's depth."""
        model = state["engine"]
        depth = {name: b.depth for name, b in state["batchers"].items()}
        return Health(
            status="ok", engine=model.name, engine_choice=model.choice,
            model_sha256=model.sha256, queue_depth=depth,
        )  # fmt: skip

    prometheus_text = {"description": "Prometheus text", "content": {"text/plain": {}}}

    @app.get("/metrics", response_class=Response, responses={200: prometheus_text})
    async def prometheus():
        """Prometheus text: requests by endpoint and status, latencies, batch sizes, queue
        depths."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    page: list[str] = []

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """The OpenAPI description as one page that loads nothing from the network."""
        if not page:
            page.append(docs_page(app.openapi()))
        return HTMLResponse(page[0])

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> JSONResponse:
        """A 422 that names the first few bad fields (``option 3, sigma: ...``) and how many
        more there are, and never echoes the input, which may be a NaN that JSON cannot
        carry."""
        errors = exc.errors()
        problems = [_describe(error) for error in errors[:PROBLEMS_SHOWN]]
        if len(errors) > PROBLEMS_SHOWN:
            problems.append(f"and {len(errors) - PROBLEMS_SHOWN} more problem(s)")
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
