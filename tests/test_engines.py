"""helpers.inference.export.engines: torch.compile and OpenVINO price as PyTorch float32 does.

Each engine runs in a fresh Python process: TorchInductor and OpenVINO leave threads and
compiled state in the process that loads them, and a pytest worker that had loaded them later
died in ``tests/test_gpu_check.py``'s timed steps (their SIGALRM), so the checks keep them out
of the test workers.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import DATA_DIR, load_pretrained, load_test_set
from helpers.inference import export

CHECK = """
import json, sys
import numpy as np
from helpers import DATA_DIR, load_pretrained, load_test_set, price
from helpers.inference.export import engines
model = load_pretrained()
X, _, _ = load_test_set(DATA_DIR)
expected = price(model, X)
if sys.argv[1] == "compile":
    found = [engines.compiled_candidate(model, X[:64])]
else:
    found = engines.openvino_candidates(model, threads=1)
out = {}
for c in found:
    gap = np.abs(c.price(X) - expected)
    out[c.name] = {"max": float(gap.max()), "mean": float(gap.mean()), "int8": c.int8,
                   "finite": bool(np.isfinite(c.price(X)).all())}
try:
    found[0].price(np.array([[100.0, 90.0, 100.0, 5.0, 0.1, 0.05]]))
    out["refused"] = False
except ValueError:
    out["refused"] = True
print(json.dumps(out))
"""


def _check(kind: str) -> dict:
    done = subprocess.run([sys.executable, "-c", CHECK, kind], capture_output=True, text=True,
                          timeout=600, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(export.cxx_compiler() is None, reason="torch.compile needs a C++ compiler")
def test_torch_compile_prices_as_pytorch_float32_and_refuses_what_it_refuses():
    out = _check("compile")
    name = export.engines.COMPILE_NAME
    assert out[name]["max"] <= export.engines.BOUNDS[name] and out["refused"]


@pytest.mark.skipif(not export.openvino_available(), reason="the engines extra is not installed")
def test_openvino_float32_and_int8_price_within_their_bounds():
    out = _check("openvino")
    float32, int8 = export.engines.OPENVINO_NAMES
    assert out[float32]["max"] <= export.engines.BOUNDS[float32]
    assert out[int8]["int8"] and out[int8]["finite"]
    assert out[int8]["mean"] <= export.engines.BOUNDS[int8]
    assert out["refused"]


def test_missing_engines_are_named(monkeypatch):
    X, _, _ = load_test_set(DATA_DIR)
    monkeypatch.setattr(export.engines, "cxx_compiler", lambda: None)
    monkeypatch.setattr(export.engines, "openvino_available", lambda: False)
    found, missing = export.engine_candidates(load_pretrained(), X[:8])
    assert found == [] and len(missing) == 2
    assert "C++ compiler" in missing[0] and "OpenVINO" in missing[1]
    assert np.isfinite(X).all()
