"""The engines a team would try instead, on the shipped pricer (Chapter 12).

Beside PyTorch eager and ONNX Runtime (``comparison.candidates``), two more ways of running the
same pricer on a CPU:

* **torch.compile** (TorchInductor): traces the pricer once and generates fused C++ loops for
  its elementwise work and the closed form, calling oneDNN or MKL for the matrix products. It
  needs a C++ compiler at run time (``cxx_compiler``); the first call of each new shape class
  compiles for tens of seconds, so ``compiled_candidate`` warms it up before anything is timed.
* **OpenVINO** (Intel's CPU inference engine, ``openvino`` on PyPI) running the pricer's
  network, in float32 and in int8 by NNCF's post-training quantization (``nncf.quantize``:
  int8 weights per channel and activations per tensor, calibrated on Sobol options); the closed
  form stays in PyTorch float64 (``openvino_candidates`` says why). OpenVINO and NNCF are an
  optional extra (``pip install '.[engines]'``, which ``make bench`` installs): where they are
  missing, ``engine_candidates`` says so and leaves them out.

Every candidate prices through ``helpers.inference.pricing.price``, so an engine refuses what
PyTorch refuses.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import shutil
import warnings
from contextlib import redirect_stderr, redirect_stdout

import numpy as np
import torch
from torch import nn

from ..pricing import price as torch_price
from .comparison import Candidate
from .quantize import CALIBRATION_OPTIONS

COMPILE_NAME = "PyTorch torch.compile"
OPENVINO_NAMES = ("OpenVINO float32", "OpenVINO int8 (NNCF)")

BOUNDS = {COMPILE_NAME: 1e-4, OPENVINO_NAMES[0]: 1e-3, OPENVINO_NAMES[1]: 0.1}
"""How far each engine's prices may lie from PyTorch float32's on the shipped test set,
currency units (``tests/test_engines.py``): the two float engines, at most this much on any
option (float32 rounding of prices up to about 200, the float32 engines summing in another
order); the int8 one, this much on average (its per-tensor grids cost more, measured)."""

DYNAMO_CACHE_NOTICE = r"Dynamo detected a call to a `functools.lru_cache`-wrapped function"
"""What Dynamo says once when it traces ``helpers.mc.moments``' cached series coefficients:
constants for a given number of steps, so tracing through the cache is exact here."""


def cxx_compiler() -> str | None:
    """The C++ compiler TorchInductor would call (``$CXX``, else ``c++``, ``g++``, ``clang++``
    on the ``PATH``), or ``None``."""
    import os

    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def openvino_available() -> bool:
    """Whether ``openvino`` and ``nncf`` import here (the ``engines`` extra)."""
    return all(importlib.util.find_spec(name) is not None for name in ("openvino", "nncf"))


def compiled_candidate(model: nn.Module, warm_up: np.ndarray) -> Candidate:
    """``torch.compile(model, dynamic=True)`` as a candidate, compiled before it returns.

    Args:
        model: a float pricer on the CPU.
        warm_up: options that trigger the compilation (shape ``(n, 6)``, ``n >= 2``), priced
            once here so that no timing includes it.

    Raises:
        RuntimeError: no C++ compiler on this machine (``cxx_compiler``).
    """
    if cxx_compiler() is None:
        raise RuntimeError("torch.compile needs a C++ compiler (c++, g++ or clang++): none found")
    compiled = torch.compile(model, dynamic=True)

    def price(X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=DYNAMO_CACHE_NOTICE)
            return torch_price(compiled, X)

    price(warm_up)
    price(warm_up[:1])
    return Candidate(COMPILE_NAME, price, None)


class OpenVinoNetwork:
    """The pricer's network (``HomogeneousPricer.body``) compiled by OpenVINO for this CPU,
    called as the PyTorch layers are: a float32 tensor of shape ``(n, inputs)`` in, ``(n, 1)``
    out.

    Args:
        model: an ``openvino.Model`` of the layers (``ov.convert_model``, or NNCF's int8 one).
        threads: inference threads (``INFERENCE_NUM_THREADS``); ``None``: OpenVINO's default.
    """

    def __init__(self, model: object, *, threads: int | None = None) -> None:
        import openvino as ov

        # float32 wherever not int8: by default OpenVINO computes in bfloat16 on CPUs that
        # have it (AVX512-BF16, AMX), which moved prices by up to 0.025 here
        config: dict[str, object] = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": "f32",
        }
        if threads is not None:
            config["INFERENCE_NUM_THREADS"] = int(threads)
        self.compiled = ov.Core().compile_model(model, "CPU", config)

    def __call__(self, h: torch.Tensor) -> torch.Tensor:
        rows = np.ascontiguousarray(h.detach().numpy(), dtype=np.float32)
        return torch.from_numpy(np.asarray(self.compiled(rows)[0], dtype=np.float32))


class _WithNetwork(nn.Module):
    """``model(x, network)`` as a module, for ``helpers.inference.pricing.price``."""

    def __init__(self, model: nn.Module, network: OpenVinoNetwork) -> None:
        super().__init__()
        self.model = model
        self.network = network

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x, self.network)


def openvino_candidates(
    model: nn.Module, threads: int | None, calibration: np.ndarray | None = None
) -> list[Candidate]:
    """OpenVINO float32 and NNCF int8 running the pricer's network; the closed form and the
    network's inputs stay in PyTorch.

    OpenVINO's CPU plugin computes float64 as float32, and the closed form's series overflow
    float32 (``helpers.inference.export``): run whole from the ONNX file, the float32 model's
    prices were off by up to 13 (measured 2026-12-07). So OpenVINO gets the layers it is
    built for, converted from PyTorch (``openvino.convert_model``), and NNCF quantizes them on
    the network inputs of calibration options.

    Args:
        model: a ``ResidualPricer`` (or ``HomogeneousPricer``) on the CPU.
        threads: inference threads, as ONNX Runtime's in ``comparison.candidates``.
        calibration: options for NNCF's ranges, shape ``(n, 6)``; default
            ``CALIBRATION_OPTIONS`` Sobol points (seed 0), as ONNX Runtime's static variants.

    Returns:
        Two ``Candidate`` (``OPENVINO_NAMES``), the int8 one marked ``int8``.
    """
    import nncf
    import openvino as ov

    from ...core.domain import sobol_options

    homogeneous = getattr(model, "residual", model)
    body = homogeneous.body
    if calibration is None:
        calibration = sobol_options(CALIBRATION_OPTIONS, seed=0)
    with torch.no_grad():
        h = homogeneous.network_inputs(torch.as_tensor(calibration, dtype=torch.float32))
    layers = ov.convert_model(body, example_input=h[:2], input=[(-1, h.shape[1])])
    batches = [h[i : i + 256].numpy() for i in range(0, len(h), 256)]
    quiet = io.StringIO()
    with warnings.catch_warnings(), redirect_stdout(quiet), redirect_stderr(quiet):
        warnings.simplefilter("ignore")  # NNCF's progress bars and notices
        nncf.set_log_level(logging.ERROR)
        quantized = nncf.quantize(layers, nncf.Dataset(batches), subset_size=len(batches))
    out = []
    for name, layers_model, int8 in ((OPENVINO_NAMES[0], layers, False),
                                     (OPENVINO_NAMES[1], quantized, True)):  # fmt: skip
        wrapped = _WithNetwork(model, OpenVinoNetwork(layers_model, threads=threads)).eval()
        out.append(Candidate(name, lambda X, m=wrapped: torch_price(m, X), None, int8))
    return out


def engine_candidates(
    model: nn.Module, warm_up: np.ndarray, *, threads: int | None = None
) -> tuple[list[Candidate], list[str]]:
    """The engines of this module that run here, and a line for each that does not.

    Args:
        model: a float pricer on the CPU (a ``ResidualPricer``, as shipped).
        warm_up: options for torch.compile's compilation, shape ``(n, 6)``.
        threads: OpenVINO's threads (default ``torch.get_num_threads()``).

    Returns:
        ``(candidates, missing)``: torch.compile where a C++ compiler is found, OpenVINO's two
        where the ``engines`` extra is installed; ``missing`` says why any was left out.
    """
    threads = threads if threads is not None else torch.get_num_threads()
    found: list[Candidate] = []
    missing: list[str] = []
    if cxx_compiler() is not None:
        found.append(compiled_candidate(model, warm_up))
    else:
        missing.append(f"{COMPILE_NAME}: no C++ compiler on this machine")
    if openvino_available():
        found += openvino_candidates(model, threads)
    else:
        missing.append("OpenVINO: not installed (pip install '.[engines]'; make bench does)")
    return found, missing
