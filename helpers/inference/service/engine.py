"""What answers a batch behind the service: the float32 PyTorch pricer or its ONNX export.

An engine's methods take options that the service has already checked against the training
domain (each request with its own ``allow_outside``), so they price with ``allow_outside=True``
and keep the warnings of rows that a request allowed out of the server's log. Greeks and
implied volatilities always come from the float PyTorch model: an exported or quantized model
gives prices only (Chapter 12).

``"auto"``, the service's default, prices with the ONNX export where ONNX Runtime is installed
and the export is faster than PyTorch at every batch size of ``AUTO_BATCHES``, timed at
start-up, and with PyTorch otherwise; ``Engine.choice`` says which and why. Where the export
gives a non-finite price, PyTorch prices that option again, so that an answer is never a NaN
that the other engine would not give. Greeks and implied volatilities go through the model
``SLICE_OPTIONS`` options at a time, so that a request's memory stays bounded whatever its
size. The export is made once per model and kept in the
temporary folder (``onnx_export_for``), with a sidecar whose SHA-256 ONNX Runtime's loader
checks.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from ...core.config import DATA_DIR
from ...core.domain import sample_options
from ...networks.loading import load_pretrained
from ..implied_volatility import implied_vol
from ..pricing import price
from ..sensitivities import greeks

GREEK_NAMES = ("price", "dP/dK", "dP/dB", "delta", "vega", "dP/dmu", "rho", "gamma")
"""The names ``/greeks`` answers with, those of ``helpers.inference.sensitivities.greeks``."""

ENGINES = ("auto", "torch", "onnx")

SLICE_OPTIONS = 1_024
"""Greeks and implied volatilities are computed this many options at a time: autograd keeps a
batch's graph (twice, for gamma), and the implied-volatility scan prices 41 volatilities of
each option at once, so memory grows with the slice, not with the request."""

AUTO_BATCHES = (1, 64)
"""Options per call at which ``"auto"`` times both engines: one request alone, and the batch of
64 single-option requests in flight."""


def onnx_export_for(model: torch.nn.Module, model_sha256: str) -> Path:
    """The pricer's float32 ONNX export, made once per model and PyTorch version and kept in
    ``<tempdir>/pricer-onnx`` (written atomically, so servers starting together are safe)."""
    from ...core.files import read_sidecar
    from ..export import export_onnx

    folder = Path(tempfile.gettempdir()) / "pricer-onnx"
    folder.mkdir(exist_ok=True)
    source = {"model_sha256": model_sha256, "torch": torch.__version__}
    path = folder / f"pricer-{model_sha256[:16]}-torch-{torch.__version__}.onnx"
    if path.exists() and read_sidecar(path).get("source") == source:
        return path
    return export_onnx(model, path, source=source)


def median_ms(call, X: np.ndarray, repeats: int = 15) -> float:
    """Milliseconds of ``call(X)``, the median of ``repeats`` after one warm-up call."""
    call(X)  # warm-up
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        call(X)
        seconds.append(time.perf_counter() - started)
    return 1e3 * float(np.median(seconds))


class Engine:
    """The pretrained pricer of ``model_dir`` behind the service.

    Args:
        model_dir: folder of ``pricer.json`` and its weights (``load_pretrained`` checks the
            SHA-256); default the repository's ``data/``.
        engine: ``"torch"`` (float32 PyTorch), ``"onnx"`` (its float32 ONNX export run by ONNX
            Runtime) or ``"auto"`` (the faster of the two at ``AUTO_BATCHES``) for ``/price``.
        threads: intra-op threads of both frameworks; default: PyTorch's own choice.

    Attributes:
        name: the engine that prices, ``"torch"`` or ``"onnx"``.
        choice: how it was chosen, in words (with the timings, for ``"auto"``).

    Raises:
        ValueError: an unknown engine, or what ``load_pretrained`` refuses.
    """

    def __init__(
        self, model_dir: str | Path | None = None, engine: str = "torch", threads: int | None = None
    ) -> None:
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: choose one of {list(ENGINES)}")
        folder = Path(model_dir) if model_dir is not None else DATA_DIR
        if threads is not None:
            torch.set_num_threads(threads)
        self.model = load_pretrained(folder=folder)
        self.sha256 = json.loads((folder / "pricer.json").read_text())["sha256"]
        self.name, self.choice = engine, f"{engine}: asked for (--engine {engine})"
        self._onnx = None
        if engine == "onnx":
            self._onnx = self._load_onnx()
        elif engine == "auto":
            self._choose()

    def _load_onnx(self):
        from ..export import OnnxPricer

        path = onnx_export_for(self.model, self.sha256)
        try:
            return OnnxPricer(path, threads=torch.get_num_threads())
        except ValueError:  # a damaged cached export: make it again
            path.unlink(missing_ok=True)
            path = onnx_export_for(self.model, self.sha256)
            return OnnxPricer(path, threads=torch.get_num_threads())

    def _choose(self) -> None:
        """``"auto"``: ONNX where it is installed and faster at every ``AUTO_BATCHES``."""
        try:
            onnx = self._load_onnx()
        except ImportError as err:
            self.name = "torch"
            self.choice = f"auto: torch, because ONNX Runtime is unavailable ({err})"
            return
        rng = np.random.default_rng(0)
        timings = []
        for n in AUTO_BATCHES:
            X = sample_options(n, rng).astype(np.float32)
            torch_ms = median_ms(lambda X: price(self.model, X), X)
            onnx_ms = median_ms(lambda X: onnx.price(X), X)
            timings.append((n, torch_ms, onnx_ms))
        slower = [n for n, torch_ms, onnx_ms in timings if onnx_ms >= torch_ms]
        self.name = "torch" if slower else "onnx"
        self._onnx = None if slower else onnx
        measured = "; ".join(f"{n} option(s): torch {t:.2f} ms, onnx {o:.2f} ms"
                             for n, t, o in timings)  # fmt: skip
        if slower:
            sizes = ", ".join(str(n) for n in slower)
            why = f"PyTorch was as fast or faster at {sizes} option(s) a call"
        else:
            why = "ONNX Runtime was faster at every size timed"
        self.choice = f"auto: {self.name}, because {why} ({measured})"

    def price(self, X: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Prices, shape ``(n,)``, of options of shape ``(n, 6)``; where the ONNX export gives a
        non-finite price, PyTorch's."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self._onnx is None:
                return price(self.model, X, allow_outside=True)
            prices = self._onnx.price(X, allow_outside=True)
            bad = ~np.isfinite(prices)
            if bad.any():  # rare: one vectorised call for those rows only
                prices = np.array(prices, copy=True)
                prices[bad] = price(self.model, X[bad], allow_outside=True)
            return prices

    def greeks(self, X: np.ndarray, extra: np.ndarray | None = None) -> list[np.ndarray]:
        """``GREEK_NAMES``, in that order, each of shape ``(n,)``, computed ``SLICE_OPTIONS``
        options at a time."""
        parts = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for start in range(0, len(X), SLICE_OPTIONS):
                out = greeks(self.model, X[start : start + SLICE_OPTIONS], allow_outside=True)
                parts.append([np.asarray(out[name], dtype=np.float64) for name in GREEK_NAMES])
        return [np.concatenate(column) for column in zip(*parts, strict=True)]

    def implied_vol(self, X: np.ndarray, quotes: np.ndarray | None) -> np.ndarray:
        """Implied volatilities, shape ``(n,)``, of options ``(n, 6)`` (sigma ignored) quoted at
        ``quotes``, ``SLICE_OPTIONS`` options at a time; NaN where a quote is outside the
        prices the network attains."""
        parts = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for start in range(0, len(X), SLICE_OPTIONS):
                rows = slice(start, start + SLICE_OPTIONS)
                parts.append(
                    implied_vol(
                        self.model, X[rows], quotes[rows], allow_outside=True, unattainable="nan"
                    )
                )
        return np.concatenate(parts)

    def unattainable_reason(self, row: np.ndarray, quote: float) -> str:
        """``helpers.inference.implied_volatility``'s message for one unattainable quote (its
        attainable range)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                implied_vol(self.model, row[None, :], [quote], allow_outside=True)
        except ValueError as err:
            return str(err)
        return "the quote could not be matched"
