"""The pricing service's limits and types: what a request may hold, what an answer may not.

Strict types (``true`` and ``"110"`` are not numbers; integers are), the stated maximum of
options a request (``MAX_OPTIONS``, ``MAX_QUOTES``) answered within the deadline at the limit
and refused with a 422 naming it above, a body over ``MAX_BODY_BYTES`` refused with a 413
before it is parsed, a bad option among thousands named by its index, no NaN in a 200 (ONNX's
NaN repriced by PyTorch, a non-finite answer refused), and ``/docs`` that loads nothing from
the network. The application runs in this process (Starlette's ``TestClient``), with the
shipped pricer in PyTorch on one thread, loaded once for the module.
"""

from __future__ import annotations

import re
import time
import warnings

import numpy as np
import pytest

from helpers.core.domain import COLUMNS, sample_options
from helpers.inference import pricing
from helpers.inference.sensitivities import greeks as greeks_of
from helpers.inference.service import Settings
from helpers.inference.service import engine as engine_module
from helpers.inference.service.app import create_app
from helpers.inference.service.engine import GREEK_NAMES, Engine
from helpers.inference.service.schemas import MAX_BODY_BYTES, MAX_OPTIONS, MAX_QUOTES

with warnings.catch_warnings():  # Starlette's notice that its TestClient will move to httpx2
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ARTICLE = {"K": 110.0, "B": 100.0, "S0": 120.0, "sigma": 0.35, "mu": 0.1, "r": 0.05}
QUOTE = {k: v for k, v in ARTICLE.items() if k != "sigma"} | {"price": 18.7}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(threads=1)


@pytest.fixture(scope="module")
def client(engine):
    with TestClient(create_app(Settings(max_wait_ms=0, threads=1), engine=engine)) as running:
        yield running


def options(n: int, seed: int = 0) -> list[dict]:
    X = sample_options(n, np.random.default_rng(seed))
    return [dict(zip(COLUMNS, map(float, x), strict=True)) for x in X]


# --- strict types ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, "110", "1e2", None, [110.0], {"v": 1.0}])
def test_a_bool_or_string_where_a_number_belongs_is_a_422_naming_the_field(client, value):
    for field in COLUMNS:
        answer = client.post("/price", json={"options": [ARTICLE, ARTICLE | {field: value}]})
        assert answer.status_code == 422, (field, value, answer.text)
        assert f"option 1, {field}" in answer.json()["detail"]
    for field in QUOTE:
        answer = client.post("/implied-vol", json={"options": [QUOTE | {field: value}]})
        assert answer.status_code == 422 and f"option 0, {field}" in answer.json()["detail"]


def test_integers_are_numbers_and_allow_outside_must_be_a_json_boolean(client):
    whole = ARTICLE | {"K": 110, "B": 100, "S0": 120}
    assert (
        client.post("/price", json={"options": [whole]}).json()
        == client.post("/price", json={"options": [ARTICLE]}).json()
    )
    for value in ("true", 1, None):
        answer = client.post("/price", json={"options": [ARTICLE], "allow_outside": value})
        assert answer.status_code == 422 and "allow_outside" in answer.json()["detail"]


# --- the size of a request -------------------------------------------------------------------


def test_a_request_at_the_limit_is_answered_within_the_deadline(client, engine):
    deadline_s = Settings().deadline_ms / 1e3
    batch = options(MAX_OPTIONS, seed=1)
    started = time.perf_counter()
    answer = client.post("/greeks", json={"options": batch})
    greeks_s = time.perf_counter() - started
    assert answer.status_code == 200 and len(answer.json()["greeks"]) == MAX_OPTIONS
    assert greeks_s < deadline_s
    X = np.array([[o[c] for c in COLUMNS] for o in batch[:MAX_QUOTES]])
    prices = pricing.price(engine.model, X)
    quotes = [{k: v for k, v in o.items() if k != "sigma"} | {"price": float(p)}
              for o, p in zip(batch, prices, strict=False)]  # fmt: skip
    started = time.perf_counter()
    answer = client.post("/implied-vol", json={"options": quotes})
    vols_s = time.perf_counter() - started
    assert answer.status_code == 200 and len(answer.json()["implied_vols"]) == MAX_QUOTES
    assert vols_s < deadline_s


def test_one_option_over_the_limit_is_a_422_naming_the_limit(client):
    answer = client.post("/price", json={"options": [ARTICLE] * (MAX_OPTIONS + 1)})
    assert answer.status_code == 422 and f"at most {MAX_OPTIONS} items" in answer.json()["detail"]
    answer = client.post("/implied-vol", json={"options": [QUOTE] * (MAX_QUOTES + 1)})
    assert answer.status_code == 422 and f"at most {MAX_QUOTES} items" in answer.json()["detail"]


def test_a_body_over_the_byte_limit_is_a_413_before_it_is_parsed(client):
    body = b'{"options": [' + b" " * MAX_BODY_BYTES + b"]}"  # not even valid: never parsed
    answer = client.post("/greeks", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 413
    assert f"{MAX_BODY_BYTES:,} bytes" in answer.json()["detail"]
    assert f"{MAX_OPTIONS:,} options" in answer.json()["detail"]

    def chunks():  # no content-length: the limit counts what arrives
        for _ in range(MAX_BODY_BYTES // 65_536 + 2):
            yield b" " * 65_536

    answer = client.post("/greeks", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413 and "at least" in answer.json()["detail"]
    metrics = client.get("/metrics").text
    assert 'pricer_requests_total{endpoint="greeks",status="413"} 2.0' in metrics


def test_a_chunked_body_under_the_limit_is_answered(client):
    import json

    body = json.dumps({"options": [ARTICLE]}).encode()
    answer = client.post(
        "/price", content=iter([body[:10], body[10:]]), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 200 and len(answer.json()["prices"]) == 1


def test_one_bad_option_among_thousands_is_named_by_its_index(client):
    batch = options(5_000, seed=2)
    outside = client.post("/greeks", json={"options": batch[:3777] + [ARTICLE | {"sigma": 0.5}]})
    assert outside.status_code == 422 and "option 3777" in outside.json()["detail"]
    typed = batch.copy()
    typed[2345] = typed[2345] | {"K": "110"}
    answer = client.post("/price", json={"options": typed})
    assert answer.status_code == 422 and "option 2345, K" in answer.json()["detail"]


def test_many_bad_fields_are_listed_five_then_counted(client):
    answer = client.post("/price", json={"options": [ARTICLE | {"K": True}] * 1_000})
    detail = answer.json()["detail"]
    assert answer.status_code == 422 and detail.count("Input should be a valid number") == 5
    assert detail.endswith("and 995 more problem(s)")


# --- no NaN in a 200 -------------------------------------------------------------------------


class NaNPrices:
    """An engine whose price is NaN for every option with S0 = 0."""

    def __init__(self, engine: Engine) -> None:
        self.inner = engine
        self.name, self.sha256, self.choice = engine.name, engine.sha256, engine.choice

    def price(self, X, extra=None):
        prices = self.inner.price(X).astype(np.float64)
        prices[X[:, COLUMNS.index("S0")] == 0] = np.nan
        return prices

    def greeks(self, X, extra=None):
        return self.inner.greeks(X)

    def implied_vol(self, X, quotes):
        return self.inner.implied_vol(X, quotes)


def test_a_non_finite_answer_is_never_a_200(engine):
    app = create_app(Settings(max_wait_ms=0, threads=1), engine=NaNPrices(engine))
    at_zero = ARTICLE | {"S0": 0.0}
    far = ARTICLE | {"S0": 0.0, "K": 500.0}
    with TestClient(app) as client:
        inside = client.post("/price", json={"options": [ARTICLE, at_zero]})
        outside = client.post("/price", json={"options": [far], "allow_outside": True})
    assert inside.status_code == 500 and "option 1" in inside.json()["detail"]
    assert outside.status_code == 422 and "option 0" in outside.json()["detail"]
    assert "outside its training domain" in outside.json()["detail"]


def test_a_value_beyond_float32_is_a_422_even_with_allow_outside(client):
    answer = client.post(
        "/price", json={"options": [ARTICLE | {"B": 1e200}], "allow_outside": True}
    )
    assert answer.status_code == 422
    assert "option 0, B = 1e+200 is beyond the float32 range" in answer.json()["detail"]


class NaNOnnx:
    """Stands for an ONNX session that gives NaN where S0 = 0 (issue 31's first finding)."""

    def __init__(self, model) -> None:
        self.model = model

    def price(self, X, allow_outside=False):
        prices = pricing.price(self.model, X, allow_outside=True)
        prices[X[:, COLUMNS.index("S0")] == 0] = np.nan
        return prices


def test_the_engine_reprices_with_torch_where_onnx_gives_nan(engine):
    onnx = Engine(threads=1)
    onnx._onnx, onnx.name = NaNOnnx(onnx.model), "onnx"
    X = np.array([list(ARTICLE.values()), list((ARTICLE | {"S0": 0.0}).values())], np.float32)
    got = onnx.price(X)
    assert np.isfinite(got).all()
    np.testing.assert_allclose(got, pricing.price(engine.model, X), rtol=1e-6, atol=1e-6)


def test_greeks_and_implied_vols_are_computed_slice_by_slice(engine, monkeypatch):
    X = sample_options(11, np.random.default_rng(4)).astype(np.float32)
    whole = greeks_of(engine.model, X)
    monkeypatch.setattr(engine_module, "SLICE_OPTIONS", 4)
    sliced = engine.greeks(X)
    for name, column in zip(GREEK_NAMES, sliced, strict=True):
        np.testing.assert_allclose(column, whole[name], rtol=1e-5, atol=1e-6, err_msg=name)
    quotes = whole["price"].astype(np.float64)
    vols = engine.implied_vol(X, quotes)
    assert vols.shape == (11,) and np.isfinite(vols).all()
    np.testing.assert_allclose(
        pricing.price(engine.model, np.column_stack([X[:, :3], vols, X[:, 4:]])), quotes, atol=2e-3
    )


# --- /docs offline ---------------------------------------------------------------------------


def test_docs_load_nothing_from_the_network_and_list_every_endpoint_and_limit(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert not re.search(r"https?:|//[a-z]", html, re.IGNORECASE), "an absolute URL"
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.IGNORECASE)
    assert "href='openapi.json'" in html and client.get("/openapi.json").status_code == 200
    for path in ("/price", "/greeks", "/implied-vol", "/health", "/metrics"):
        assert path in html
    assert f"at most {MAX_OPTIONS:,}" in html and f"at most {MAX_QUOTES:,}" in html
    assert "413" in html and "currency units" in html
    assert client.get("/redoc").status_code == 404  # FastAPI's, from a CDN: switched off


def test_every_corner_of_the_domain_is_a_finite_price_from_the_onnx_engine(engine):
    """Issue 31's first finding through the service: ONNX Runtime gave NaN at S0 = 0 (32 of
    the 64 corners), answered as ``null`` with a 200."""
    pytest.importorskip("onnxruntime")
    import itertools

    from helpers.core.domain import BARRIER_FRACTION, DOMAIN_HIGH, DOMAIN_LOW

    corners = np.array(list(itertools.product(*zip(DOMAIN_LOW, DOMAIN_HIGH, strict=True))))
    corners[:, 1] = np.minimum(corners[:, 1], BARRIER_FRACTION * corners[:, 0])
    batch = [dict(zip(COLUMNS, map(float, row), strict=True)) for row in corners]
    app = create_app(Settings(max_wait_ms=0, threads=1), engine=Engine(engine="onnx", threads=1))
    with TestClient(app) as client:
        answer = client.post("/price", json={"options": batch})
    assert answer.status_code == 200, answer.text
    got = np.array(answer.json()["prices"], dtype=np.float64)
    np.testing.assert_allclose(got, pricing.price(engine.model, corners), rtol=1e-4, atol=1e-3)
