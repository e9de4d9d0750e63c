"""helpers.serve and helpers.loadtest: the pricing service on loopback, and its load test.

The servers run in this process (uvicorn in a thread, on a free loopback port) except for the
SIGTERM test, which needs a process of its own to signal (``python -m helpers.serve --port 0``,
whose printed address the test reads).
"""

from __future__ import annotations

import asyncio
import re
import signal
import socket
import threading
import time

import httpx
import numpy as np
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from helpers.core.domain import COLUMNS
from helpers.inference import implied_volatility as iv
from helpers.inference import loadtest, pricing
from helpers.inference import sensitivities as greeks
from helpers.inference.service import DeadlineExceeded, MicroBatcher, QueueFull, Settings
from helpers.inference.service.app import create_app
from helpers.inference.service.engine import Engine
from helpers.inference.service.measure import start_server, stop
from helpers.inference.service.settings import env_name, parse

ARTICLE = {"K": 110.0, "B": 100.0, "S0": 120.0, "sigma": 0.35, "mu": 0.1, "r": 0.05}


class ServerThread:
    """uvicorn serving ``app`` on a free loopback port, in a thread of this process."""

    def __init__(self, app) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.app = app
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self.sock.close()


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(threads=1)


@pytest.fixture(scope="module")
def server(engine):
    app = create_app(Settings(max_wait_ms=5, threads=1), engine=engine)
    with ServerThread(app) as running:
        yield running


def options(n: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    from helpers.core.domain import sample_options

    return [dict(zip(COLUMNS, map(float, x), strict=True)) for x in sample_options(n, rng)]


def as_array(rows: list[dict]) -> np.ndarray:
    return np.array([[row[c] for c in COLUMNS] for row in rows])


# --- the batcher on its own ----------------------------------------------------------------


def run_batcher(coroutine_factory, **settings):
    """Runs ``coroutine_factory(batcher, calls)`` with a batcher whose batch function records
    each batch's size and answers ``X[:, 0]``."""
    from concurrent.futures import ThreadPoolExecutor

    calls: list[int] = []

    def run(X, extra):
        calls.append(len(X))
        if (X[:, 0] < 0).any():
            raise ValueError("negative strike")
        return X[:, 0] * 1.0

    async def main():
        with ThreadPoolExecutor(1) as pool:
            batcher = MicroBatcher(run, pool, **settings)
            batcher.start()
            try:
                return await coroutine_factory(batcher, calls)
            finally:
                await batcher.stop()

    return asyncio.run(main())


def rows(*strikes: float) -> np.ndarray:
    X = np.zeros((len(strikes), 6), dtype=np.float32)
    X[:, 0] = strikes
    return X


def test_requests_within_the_window_share_one_batch():
    async def go(batcher, calls):
        jobs = [batcher.submit(rows(k, k + 0.5), None, 5.0) for k in range(4)]
        answers = await asyncio.gather(*(j.future for j in jobs))
        return answers, calls

    answers, calls = run_batcher(go, max_batch=64, max_wait_ms=50, queue_size=16)
    assert calls == [8]
    for k, answer in enumerate(answers):
        np.testing.assert_array_equal(answer, [k, k + 0.5])


def test_max_batch_caps_a_batch_and_zero_wait_means_no_batching():
    async def go(batcher, calls):
        jobs = [batcher.submit(rows(k, k), None, 5.0) for k in range(5)]
        await asyncio.gather(*(j.future for j in jobs))
        return calls

    assert run_batcher(go, max_batch=4, max_wait_ms=50, queue_size=16) == [4, 4, 2]
    assert run_batcher(go, max_batch=64, max_wait_ms=0, queue_size=16) == [2] * 5


def test_full_queue_refuses_at_once_and_expired_jobs_are_dropped():
    async def go(batcher, calls):
        first = batcher.submit(rows(1), None, 0.01)  # expires while the window is open
        second = batcher.submit(rows(2), None, 5.0)
        with pytest.raises(QueueFull):
            batcher.submit(rows(3), None, 5.0)
        with pytest.raises(DeadlineExceeded):
            await first.future
        return await second.future, calls

    answer, calls = run_batcher(go, max_batch=64, max_wait_ms=100, queue_size=2)
    np.testing.assert_array_equal(answer, [2])
    assert calls == [1]


def test_a_cancelled_job_is_dropped_and_does_not_stall_the_next():
    async def go(batcher, calls):
        gone = batcher.submit(rows(1, 1, 1), None, 5.0)
        gone.future.cancel()  # its client went away before the batch ran
        start = time.perf_counter()
        kept = batcher.submit(rows(2), None, 5.0)
        answer = await kept.future
        return answer, calls, time.perf_counter() - start, batcher.stats.cancelled

    answer, calls, seconds, cancelled = run_batcher(go, max_batch=64, max_wait_ms=20, queue_size=8)
    np.testing.assert_array_equal(answer, [2])
    assert calls == [1] and cancelled == 1
    assert seconds < 2.0  # a window of 20 ms: far below, unless the worker waited on the dead job


def test_a_failing_batch_fails_its_own_jobs_only():
    async def go(batcher, calls):
        bad = batcher.submit(rows(-1), None, 5.0)
        with pytest.raises(ValueError, match="negative strike"):
            await bad.future
        good = batcher.submit(rows(3), None, 5.0)
        return await good.future

    np.testing.assert_array_equal(run_batcher(go, max_batch=64, max_wait_ms=0, queue_size=8), [3])


def test_stop_answers_every_queued_job():
    async def go(batcher, calls):
        jobs = [batcher.submit(rows(k), None, 5.0) for k in range(6)]
        await batcher.stop()
        return [float(j.future.result()[0]) for j in jobs]

    assert run_batcher(go, max_batch=2, max_wait_ms=1000, queue_size=16) == list(range(6))


def test_batcher_refuses_bad_settings():
    for settings, name in (
        ({"max_batch": 0, "max_wait_ms": 1, "queue_size": 1}, "max_batch"),
        ({"max_batch": 1, "max_wait_ms": -1, "queue_size": 1}, "max_wait_ms"),
        ({"max_batch": 1, "max_wait_ms": 1, "queue_size": 0}, "queue_size"),
    ):
        with pytest.raises(ValueError, match=name):
            MicroBatcher(lambda X, e: X, None, **settings)


# --- settings ------------------------------------------------------------------------------


def test_settings_from_command_line_then_environment(monkeypatch):
    monkeypatch.setenv(env_name("max_wait_ms"), "7.5")
    monkeypatch.setenv(env_name("queue_size"), "9")
    settings = parse(["--queue-size", "3", "--engine", "onnx"])
    assert (settings.max_wait_ms, settings.queue_size, settings.engine) == (7.5, 3, "onnx")
    assert settings.host == "127.0.0.1"


def test_settings_refuse_bad_values(monkeypatch, capsys):
    with pytest.raises(ValueError, match="max_batch"):
        Settings(max_batch=0)
    with pytest.raises(ValueError, match="engine"):
        Settings(engine="tensorrt")
    monkeypatch.setenv(env_name("port"), "eighty")
    with pytest.raises(SystemExit):
        parse([])
    assert "PRICER_PORT" in capsys.readouterr().err


# --- the service ---------------------------------------------------------------------------


def test_answers_equal_the_helpers_on_the_same_inputs(server, engine):
    batch = options(5) + [ARTICLE]
    X = as_array(batch)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        prices = client.post("/price", json={"options": batch}).json()["prices"]
        rows_ = client.post("/greeks", json={"options": batch}).json()["greeks"]
        quotes = [{k: v for k, v in o.items() if k != "sigma"} | {"price": p}
                  for o, p in zip(batch, prices, strict=True)]  # fmt: skip
        vols = client.post("/implied-vol", json={"options": quotes}).json()["implied_vols"]
    np.testing.assert_allclose(prices, pricing.price(engine.model, X), rtol=1e-6, atol=1e-5)
    expected = greeks.greeks(engine.model, X)
    for name in expected:
        np.testing.assert_allclose(
            [r[name] for r in rows_], expected[name], rtol=1e-5, atol=1e-5, err_msg=name
        )
    np.testing.assert_allclose(vols, iv.implied_vol(engine.model, X, prices), atol=1e-6)


def test_auto_engine_times_both_and_reuses_one_cached_export(engine):
    from helpers.inference.service.engine import onnx_export_for

    auto = Engine(engine="auto", threads=1)
    assert auto.name in ("torch", "onnx") and auto.choice.startswith(f"auto: {auto.name}, because")
    X = as_array(options(16, seed=5)).astype(np.float32)
    np.testing.assert_allclose(auto.price(X), pricing.price(engine.model, X), rtol=1e-5, atol=1e-4)
    first = onnx_export_for(auto.model, auto.sha256)
    written = first.stat().st_mtime_ns
    assert onnx_export_for(auto.model, auto.sha256) == first  # the same file, not re-exported
    assert first.stat().st_mtime_ns == written


def test_bad_input_gets_a_422_naming_option_and_column(server):
    bad_domain = [ARTICLE, ARTICLE | {"sigma": 0.5}]
    with httpx.Client(base_url=server.url, timeout=30) as client:
        outside = client.post("/price", json={"options": bad_domain})
        allowed = client.post("/price", json={"options": bad_domain, "allow_outside": True})
        nan = client.post(
            "/price",
            content=b'{"options": [{"K": 110, "B": 100, "S0": 120, "sigma": NaN,'
            b' "mu": 0.1, "r": 0.05}]}',
            headers={"content-type": "application/json"},
        )
        missing = client.post("/greeks", json={"options": [{"K": 110}]})
        quote = {k: v for k, v in ARTICLE.items() if k != "sigma"} | {"price": 500.0}
        unattainable = client.post("/implied-vol", json={"options": [quote]})
    assert outside.status_code == 422
    assert "sigma" in outside.json()["detail"] and "option 1" in outside.json()["detail"]
    assert "[0, 0.4]" in outside.json()["detail"]
    assert allowed.status_code == 200 and len(allowed.json()["prices"]) == 2
    assert nan.status_code == 422 and "option 0, sigma" in nan.json()["detail"]
    assert missing.status_code == 422 and "option 0, B" in missing.json()["detail"]
    assert unattainable.status_code == 422
    assert "option 0" in unattainable.json()["detail"] and "500" in unattainable.json()["detail"]


def test_one_bad_request_in_a_batch_leaves_its_neighbours_answered(engine):
    app = create_app(Settings(max_wait_ms=100, threads=1), engine=engine)
    good = options(8, seed=3)
    quote = {k: v for k, v in ARTICLE.items() if k != "sigma"}

    async def burst(url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            calls = [client.post("/price", json={"options": [o]}) for o in good]
            calls.append(client.post("/price", json={"options": [ARTICLE | {"S0": 500.0}]}))
            calls.append(client.post("/implied-vol", json={"options": [quote | {"price": 1e3}]}))
            calls.append(client.post("/implied-vol", json={"options": [quote | {"price": 18.7}]}))
            return await asyncio.gather(*calls)

    with ServerThread(app) as running:
        answers = asyncio.run(burst(running.url))
        batches = running.app.state.internals["batchers"]["price"].stats.batches
    assert [a.status_code for a in answers] == [200] * 8 + [422, 422, 200]
    expected = pricing.price(engine.model, as_array(good))
    got = [a.json()["prices"][0] for a in answers[:8]]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)
    assert batches <= 2  # the eight arrived within one window of 100 ms


def test_full_queue_gives_503_with_retry_after_and_no_crash(engine):
    app = create_app(Settings(max_wait_ms=300, queue_size=2, threads=1), engine=engine)

    async def burst(url):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            calls = [client.post("/price", json={"options": [ARTICLE]}) for _ in range(10)]
            return await asyncio.gather(*calls)

    with ServerThread(app) as running:
        answers = asyncio.run(burst(running.url))
        health = httpx.get(running.url + "/health", timeout=30)
    codes = sorted(a.status_code for a in answers)
    assert codes.count(200) >= 2 and codes.count(503) >= 1 and set(codes) <= {200, 503}
    assert all(a.headers.get("retry-after") for a in answers if a.status_code == 503)
    assert health.status_code == 200


def test_missed_deadline_gives_504(engine):
    app = create_app(Settings(max_wait_ms=400, deadline_ms=50, threads=1), engine=engine)
    with ServerThread(app) as running:
        answer = httpx.post(running.url + "/price", json={"options": [ARTICLE]}, timeout=30)
    assert answer.status_code == 504


def test_a_client_that_leaves_does_not_stall_the_next_batch(engine):
    app = create_app(Settings(max_wait_ms=200, threads=1), engine=engine)
    with ServerThread(app) as running:
        with pytest.raises(httpx.TimeoutException):
            httpx.post(running.url + "/price", json={"options": [ARTICLE]}, timeout=0.05)
        start = time.perf_counter()
        answer = httpx.post(running.url + "/price", json={"options": [ARTICLE]}, timeout=30)
        seconds = time.perf_counter() - start
        stats = running.app.state.internals["batchers"]["price"].stats
    assert answer.status_code == 200
    assert seconds < 5.0
    assert stats.cancelled + stats.batches >= 1  # dropped, or already in a batch when it left


class FailingGreeks:
    """An engine whose ``greeks`` always fails: the service must say so and go on."""

    def __init__(self, engine: Engine) -> None:
        self.inner = engine
        self.name, self.sha256, self.choice = engine.name, engine.sha256, engine.choice

    def price(self, X, extra=None):
        return self.inner.price(X, extra)

    def greeks(self, X, extra=None):
        raise RuntimeError("simulated failure of the model")

    def implied_vol(self, X, quotes):
        return self.inner.implied_vol(X, quotes)


def test_a_failing_model_gives_a_500_that_is_counted_and_others_go_on(engine):
    app = create_app(Settings(max_wait_ms=1, threads=1), engine=FailingGreeks(engine))
    with ServerThread(app) as running, httpx.Client(base_url=running.url, timeout=30) as client:
        failed = client.post("/greeks", json={"options": [ARTICLE]})
        priced = client.post("/price", json={"options": [ARTICLE]})
        metrics = client.get("/metrics").text
    assert failed.status_code == 500 and "RuntimeError" in failed.json()["detail"]
    assert priced.status_code == 200
    assert 'pricer_requests_total{endpoint="greeks",status="500"} 1.0' in metrics


def test_metrics_parse_as_prometheus_text(server):
    with httpx.Client(base_url=server.url, timeout=30) as client:
        client.post("/price", json={"options": [ARTICLE]})
        text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert {"pricer_requests", "pricer_request_seconds", "pricer_batch_options"} <= set(families)
    assert "pricer_queue_depth" in families
    answered = [s for s in families["pricer_requests"].samples if s.name.endswith("_total")]
    assert any(s.labels == {"endpoint": "price", "status": "200"} for s in answered)


def test_a_short_load_test_runs_and_its_counts_add_up(server):
    result = loadtest.run_load(server.url, requests=60, concurrency=8)
    assert sum(result.statuses.values()) == 60 and result.statuses == {"200": 60}
    assert result.requests_per_s > 0 and result.p50_ms <= result.p90_ms <= result.p99_ms
    greeks_run = loadtest.run_load(server.url, endpoint="greeks", requests=10, concurrency=4)
    quotes = loadtest.run_load(server.url, endpoint="implied-vol", requests=10, concurrency=4)
    assert greeks_run.statuses == {"200": 10} and quotes.statuses == {"200": 10}


def test_load_test_refuses_anything_but_loopback():
    for url in ("http://10.0.0.1:8000", "http://example.com", "ftp://127.0.0.1"):
        with pytest.raises(ValueError, match="loopback"):
            loadtest.run_load(url, requests=1)
    with pytest.raises(ValueError, match="concurrency"):
        loadtest.run_load("http://127.0.0.1:1", concurrency=0)


def test_port_0_prints_its_address_and_sigterm_mid_burst_loses_no_accepted_request(tmp_path):
    """``--port 0``: the server prints the address the system chose and its engine with the
    reason, ``/health`` answers there; SIGTERM in the middle of a burst: every request it
    accepted is answered with a 200 that reaches the client."""
    with open(tmp_path / "server.log", "w+") as log:
        process, url = start_server(["--max-wait-ms", "20", "--threads", "1"], log)
        try:
            health = httpx.get(url + "/health", timeout=5).json()

            async def burst():
                import aiohttp

                statuses = []
                connector = aiohttp.TCPConnector(limit=32, force_close=True)
                async with aiohttp.ClientSession(connector=connector) as session:

                    async def one(k):
                        await asyncio.sleep(k * 0.002)
                        if k == 40:  # mid-burst: 40 requests sent, 160 to come
                            process.send_signal(signal.SIGTERM)
                        try:
                            body = {"options": [ARTICLE]}
                            async with session.post(url + "/price", json=body) as r:
                                await r.json()
                                statuses.append(r.status)
                        except aiohttp.ClientConnectorError:
                            statuses.append("refused")
                        except aiohttp.ClientError as err:
                            statuses.append(type(err).__name__)

                    await asyncio.gather(*(one(k) for k in range(200)))
                return statuses

            statuses = asyncio.run(burst())
            process.wait(timeout=60)
        finally:
            stop(process)
        log.seek(0)
        text = log.read()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url) and not url.endswith(":0")
    assert f"pricer: listening on {url}\n" in text
    assert f"pricer: engine {health['engine']} ({health['engine_choice']})" in text
    assert "because" in health["engine_choice"]  # auto says why it chose
    accepted = int(re.search(r"accepted (\d+) requests", text).group(1))
    answered = int(re.search(r"answered (\d+)", text).group(1))
    assert process.returncode in (0, -signal.SIGTERM), text[-2000:]  # uvicorn re-raises it
    assert accepted == answered == statuses.count(200), (accepted, answered, statuses)
    assert f"(by status: 200: {answered})" in text
    assert set(statuses) <= {200, "refused", "ServerDisconnectedError", "ClientOSError"}


def test_the_benchmark_verdict_takes_the_best_window_within_the_p99_target():
    from helpers.inference.service.benchmark import service_lines, verdict

    def point(endpoint, window, per_s, p99):
        return {"endpoint": endpoint, "window_ms": window, "concurrency": 64, "engine": "onnx",
                "requests_per_s": per_s, "p50_ms": p99 / 2, "p99_ms": p99,
                "statuses": {"200": 10}}  # fmt: skip

    rows = [point("price", 0, 100, 200), point("price", 2, 600, 40), point("price", 5, 700, 60),
            point("greeks", 0, 100, 300), point("greeks", 2, 300, 30)]  # fmt: skip
    price, greeks_ = verdict(rows, "price"), verdict(rows, "greeks")
    assert (price["best_window_ms"], price["window_within_p99_ms"], price["met"]) == (5, 2, True)
    assert price["gain"] == pytest.approx(7.0) and price["gain_within_p99"] == pytest.approx(6.0)
    assert greeks_["met"] is False and greeks_["gain"] == pytest.approx(3.0)
    costs = [{"call": "price", "options": n, "ms": 1.0} for n in (1, 64)]
    result = {"date": "today", "threads": 1, "requests": 10, "seconds": 1.0,
              "default_window_ms": 2, "sweep": rows, "verdicts": [price, greeks_],
              "engines": [point("price", 0, 100, 200) | {"engine": "torch"},
                          point("price", 2, 400, 40) | {"engine": "torch"}],
              "engine_costs": costs}  # fmt: skip
    text = "\n".join(service_lines(result))
    assert "| /price | 5 | 7.0 | 60.0 | 2 | 6.0 | met |" in text
    assert "| /greeks | 2 | 3.0 | 30.0 | 2 | 3.0 | MISSED |" in text
    assert "| torch | 2 | 400 | 20.0 | 40.0 | 4.0 |" in text
