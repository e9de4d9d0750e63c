"""What answers a batch behind the service: the float32 PyTorch pricer or its ONNX export.

An engine's methods take options that the service has already checked against the training
domain (each request with its own ``allow_outside``), so they price with ``allow_outside=True``
and keep the warnings of rows that a request allowed out of the server's log. Greeks and
implied volatilities always come from the float PyTorch model: an exported or quantized model
gives prices only (Chapter 11).
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path

import numpy as np
import torch

from ..greeks import greeks
from ..iv import implied_vol
from ..model import DATA_DIR, load_pretrained
from ..pricing import price

GREEK_NAMES = ("price", "dP/dK", "dP/dB", "delta", "vega", "dP/dmu", "rho", "gamma")
"""The names ``/greeks`` answers with, those of ``helpers.greeks.greeks``."""

ENGINES = ("torch", "onnx")


class Engine:
    """The pretrained pricer of ``model_dir`` behind the service.

    Args:
        model_dir: folder of ``pricer.json`` and its weights (``load_pretrained`` checks the
            SHA-256); default the repository's ``data/``.
        engine: ``"torch"`` (float32 PyTorch) or ``"onnx"`` (its float32 ONNX export run by
            ONNX Runtime, made at start-up in a temporary folder) for ``/price``.
        threads: intra-op threads of both frameworks; default: PyTorch's own choice.

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
        self.name = engine
        self._onnx = None
        if engine == "onnx":
            from ..export import OnnxPricer, export_onnx

            self._tmp = tempfile.TemporaryDirectory(prefix="pricer-onnx-")
            path = export_onnx(self.model, Path(self._tmp.name) / "pricer.onnx")
            self._onnx = OnnxPricer(path, threads=torch.get_num_threads())

    def price(self, X: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """Prices, shape ``(n,)``, of options of shape ``(n, 6)``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self._onnx is not None:
                return self._onnx.price(X, allow_outside=True)
            return price(self.model, X, allow_outside=True)

    def greeks(self, X: np.ndarray, extra: np.ndarray | None = None) -> list[np.ndarray]:
        """``GREEK_NAMES``, in that order, each of shape ``(n,)``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = greeks(self.model, X, allow_outside=True)
        return [np.asarray(out[name], dtype=np.float64) for name in GREEK_NAMES]

    def implied_vol(self, X: np.ndarray, quotes: np.ndarray | None) -> np.ndarray:
        """Implied volatilities, shape ``(n,)``, of options ``(n, 6)`` (sigma ignored) quoted at
        ``quotes``; NaN where a quote is outside the prices the network attains."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return implied_vol(self.model, X, quotes, allow_outside=True, unattainable="nan")

    def unattainable_reason(self, row: np.ndarray, quote: float) -> str:
        """``helpers.iv``'s message for one unattainable quote (its attainable range)."""
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                implied_vol(self.model, row[None, :], [quote], allow_outside=True)
        except ValueError as err:
            return str(err)
        return "the quote could not be matched"
