"""The peers of the pricing service (``helpers.inference.service.peers``) and the course
service's ``/noop`` ceiling: the same prices for the same requests, errors that name the
problem, and servers that stop with every process they started."""

from __future__ import annotations

import json
import subprocess
import urllib.error
import urllib.request
import warnings

import numpy as np
import pytest

from helpers.inference.loadtest import request_bodies
from helpers.inference.service import Settings
from helpers.inference.service.app import create_app
from helpers.inference.service.engine import Engine
from helpers.inference.service.peers import available, options_of, running_peer

with warnings.catch_warnings():  # Starlette's notice that its TestClient will move to httpx2
    warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

ARTICLE = {"K": 110.0, "B": 100.0, "S0": 120.0, "sigma": 0.35, "mu": 0.1, "r": 0.05}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(engine="onnx", threads=1)


@pytest.mark.parametrize(
    "body",
    [[], {}, {"options": []}, {"options": [{"K": 1.0}]}, {"options": [ARTICLE | {"r": "x"}]}],
)
def test_a_peer_refuses_a_body_without_options_naming_what_it_needs(body):
    with pytest.raises(ValueError, match="options|numbers"):
        options_of(body)


def test_the_noop_endpoint_exists_only_when_asked_and_is_not_in_the_schema(engine):
    with TestClient(create_app(Settings(threads=1, noop_endpoint=True), engine=engine)) as c:
        answer = c.post("/noop", json={"options": [ARTICLE]})
        assert answer.status_code == 200 and answer.json() == {"prices": []}
        assert "/noop" not in c.get("/openapi.json").json()["paths"]
    with TestClient(create_app(Settings(threads=1), engine=engine)) as c:
        assert c.post("/noop", json={"options": [ARTICLE]}).status_code in (404, 405)


def _post(url: str, body: bytes) -> list[float]:
    request = urllib.request.Request(
        url + "/price", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["prices"]


@pytest.mark.parametrize("name", ["litserve", "ray"])
def test_a_peer_answers_the_course_services_prices_and_stops_whole(name, engine):
    if not available(name):
        pytest.skip(f"{name} is not installed (the peers extra)")
    bodies = request_bodies("price", 8, 2, seed=3)
    expected = [engine.price(options_of(json.loads(b))) for b in bodies]
    with running_peer(name, threads=1) as url:
        got = [_post(url, b) for b in bodies]
        with pytest.raises(urllib.error.HTTPError) as refused:
            _post(url, json.dumps({"options": [ARTICLE | {"sigma": 5.0}]}).encode())
        assert refused.value.code == 422
    np.testing.assert_allclose(np.concatenate(got), np.concatenate(expected), rtol=0, atol=1e-5)
    left = subprocess.run(["pgrep", "-f", f"peers.{name}_app"], capture_output=True, text=True)
    assert left.stdout.strip() == ""
