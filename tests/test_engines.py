"""helpers.inference.export.engines: torch.compile and OpenVINO price as PyTorch float32 does."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import DATA_DIR, load_pretrained, load_test_set, price
from helpers.inference import export


@pytest.fixture(scope="module")
def shipped():
    X, _, _ = load_test_set(DATA_DIR)
    model = load_pretrained()
    return model, X, price(model, X)


@pytest.mark.skipif(export.cxx_compiler() is None, reason="torch.compile needs a C++ compiler")
def test_torch_compile_prices_as_pytorch_float32(shipped):
    model, X, expected = shipped
    candidate = export.compiled_candidate(model, X[:64])
    bound = export.engines.BOUNDS[export.engines.COMPILE_NAME]
    np.testing.assert_allclose(candidate.price(X), expected, rtol=0, atol=bound)
    with pytest.raises(ValueError, match="domain|outside"):
        candidate.price(np.array([[100.0, 90.0, 100.0, 5.0, 0.1, 0.05]]))


def test_missing_engines_are_named(shipped, monkeypatch):
    model, X, _ = shipped
    monkeypatch.setattr(export.engines, "cxx_compiler", lambda: None)
    monkeypatch.setattr(export.engines, "openvino_available", lambda: False)
    found, missing = export.engine_candidates(model, X[:8])
    assert found == [] and len(missing) == 2
    assert "C++ compiler" in missing[0] and "OpenVINO" in missing[1]


@pytest.mark.skipif(not export.openvino_available(), reason="the engines extra is not installed")
def test_openvino_float32_and_int8_price_the_test_set(shipped):
    model, X, expected = shipped
    float32, int8 = export.engines.openvino_candidates(model, threads=1)
    bounds = export.engines.BOUNDS
    np.testing.assert_allclose(float32.price(X), expected, rtol=0, atol=bounds[float32.name])
    int8_prices = int8.price(X)
    assert np.isfinite(int8_prices).all() and int8.int8
    assert np.abs(int8_prices - expected).mean() < bounds[int8.name]
