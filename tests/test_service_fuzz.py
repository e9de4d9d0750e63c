"""The pricing service fuzzed against its own OpenAPI description (schemathesis).

Schemathesis reads ``/openapi.json`` from the application and sends each endpoint requests
made from it: bodies that fit the schema (positive) and bodies that break it (negative: a
string or a boolean where a number belongs, a missing field, an empty list, another type
altogether). Every answer must keep the contract: never a 5xx, a status and a body that the
description lists, every schema-breaking body refused with a 4xx (so no ``true`` or ``"110"``
is read as a number), and a 200 whose numbers are all finite (no ``null``, no ``NaN``).

It runs in this process against the ASGI application (no socket), with the shipped pricer in
PyTorch on one thread, a bounded number of examples per endpoint and derandomized generation,
so that a run is the same every time and takes seconds.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from helpers.core.domain import BARRIER_FRACTION, COLUMNS, DOMAIN_HIGH, DOMAIN_LOW
from helpers.inference.service import Settings
from helpers.inference.service.app import create_app
from helpers.inference.service.engine import Engine

EXAMPLES = 25
"""Examples per endpoint (schemathesis: positive and negative bodies together)."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class SharedEngine:
    """The shipped pricer's ``Engine`` (PyTorch, one thread), loaded at its first use and
    shared by every lifespan: schemathesis starts the application's lifespan for each test
    and ends it after, which would load the model once an endpoint."""

    engine: Engine | None = None

    def __getattr__(self, name: str):
        if SharedEngine.engine is None:
            SharedEngine.engine = Engine(threads=1)
        return getattr(SharedEngine.engine, name)


def fuzzed_schema():
    """The application's OpenAPI description, bound to the application for in-process calls.

    Read with ``app.openapi()``, which needs no running application, and with an engine that
    loads at its first request, so that collecting this file costs no model load.
    (Schemathesis's ``pytest.from_fixture`` would defer the schema instead, but fails on this
    pytest: it reads a node attribute that pytest 9 removed.)
    """
    app = create_app(Settings(max_wait_ms=0, threads=1), engine=SharedEngine())
    loaded = schemathesis.openapi.from_dict(app.openapi())
    loaded.app = app
    loaded.config.generation.update(max_examples=EXAMPLES, deterministic=True)
    return loaded


schema = fuzzed_schema()


def numbers(value: object) -> list[object]:
    """Every leaf of a JSON value that is not a string or a boolean: numbers and ``None``."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in numbers(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in numbers(item)]
    return [] if isinstance(value, str | bool) else [value]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_fuzzed_requests_get_no_5xx_and_every_200_is_finite(case):
    response = case.call()
    case.validate_response(response, checks=CHECKS)
    if response.status_code == 200 and case.method == "POST":
        # JSON's NaN and Infinity are not JSON: json.loads reads them, so check the values
        leaves = numbers(json.loads(response.text))
        assert leaves, response.text
        assert all(isinstance(x, int | float) and math.isfinite(x) for x in leaves), response.text


# --- inside the domain: the bodies the schema cannot describe --------------------------------
# Most schema-valid bodies lie outside the training domain (a 422), so the 200s above are few.
# Here every option lies inside it, with its columns often on an edge or a corner.

with warnings.catch_warnings():  # Starlette's notice that its TestClient will move to httpx2
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(Settings(max_wait_ms=0, threads=1), engine=SharedEngine())) as c:
        yield c


def column(j: int) -> st.SearchStrategy[float]:
    low, high = float(DOMAIN_LOW[j]), float(DOMAIN_HIGH[j])
    return st.one_of(st.sampled_from([low, high]), st.floats(low, high))


@st.composite
def in_domain_option(draw) -> dict:
    row = {name: draw(column(j)) for j, name in enumerate(COLUMNS)}
    share = draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)))
    row["B"] = share * BARRIER_FRACTION * row["K"]  # the barrier's edge moves with K
    return row


@given(batch=st.lists(in_domain_option(), min_size=1, max_size=4))
@settings(max_examples=12, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
def test_options_on_the_domains_edges_get_finite_prices_greeks_and_vols(client, batch):
    prices = client.post("/price", json={"options": batch})
    assert prices.status_code == 200, prices.text
    values = prices.json()["prices"]
    greeks = client.post("/greeks", json={"options": batch})
    assert greeks.status_code == 200, greeks.text
    assert all(np.isfinite(list(row.values())).all() for row in greeks.json()["greeks"])
    quotes = [{k: v for k, v in o.items() if k != "sigma"} | {"price": p}
              for o, p in zip(batch, values, strict=True)]  # fmt: skip
    vols = client.post("/implied-vol", json={"options": quotes})
    # a price the network gives at some sigma is attained: a vol, never a 5xx or a NaN
    assert vols.status_code == 200, vols.text
    assert np.isfinite(values).all() and np.isfinite(vols.json()["implied_vols"]).all()
