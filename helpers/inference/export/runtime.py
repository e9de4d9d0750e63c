"""Pricing with an exported pricer in ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.files import read_sidecar, sha256, sidecar_path
from ..pricing import check_domain
from .quantize import INT8_VARIANTS

GREEKS_REFUSAL = (
    "{what} has no autograd Greeks: take prices from it and Greeks from the float PyTorch "
    "model (helpers.greeks on helpers.load_pretrained()), or by finite differences of its "
    "prices with a bump far larger than its quantization step"
)
"""The message of every refusal of Greeks from a quantized or exported model."""


ROWS_PER_RUN = 16_384
"""Options per ONNX Runtime call: larger batches are priced in slices of this many (as
``helpers.inference.pricing.price`` does on a CPU), so that the memory ONNX Runtime keeps for its
intermediates (its arena never shrinks) stays below 100 MB per model whatever the batch.
Measured at a batch of 1,000,000: slices of 4,096 to 65,536 options price equally fast."""


class OnnxPricer:
    """Prices options with an exported pricer (float32 or int8) in ONNX Runtime, behind the
    training domain's guard.

    Checks the file's SHA-256 against its sidecar JSON when there is one, and refuses a file
    ONNX Runtime cannot load, or whose input is not ``(batch, 6)``.

    Example:
        >>> from helpers import ARTICLE_NETWORK_EXAMPLE
        >>> pricer = OnnxPricer("out/pricer.int8.onnx")  # doctest: +SKIP
        >>> pricer.price([ARTICLE_NETWORK_EXAMPLE])  # doctest: +SKIP
        array([18.68], dtype=float32)

    Args:
        path: the ``.onnx`` file.
        threads: ONNX Runtime's intra-op threads (default: its own choice, all cores).

    Attributes:
        path: the file; metadata: its sidecar (``{}`` without one); variant: ``"float32"``, one
            of ``INT8_VARIANTS`` or ``"unknown"`` without a sidecar.

    Raises:
        ValueError: a missing file, a SHA-256 that differs from the sidecar's, a file that is
            not a loadable ONNX model or whose input is not ``(batch, 6)``; each names the file.
    """

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ValueError(f"no ONNX model at {self.path}")
        self.metadata = read_sidecar(self.path)
        recorded = self.metadata.get("sha256")
        if recorded is not None and sha256(self.path) != recorded:
            raise ValueError(
                f"{self.path} does not match the SHA-256 recorded in "
                f"{sidecar_path(self.path)}: the file is corrupted or replaced"
            )
        self.variant = self.metadata.get("variant", "unknown")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        # ONNX Runtime's idle threads spin for a while after each call by default, taking the
        # cores from whatever runs next (PyTorch, in Chapter 12's round robin: it measured
        # 62k options/s there instead of 140k-220k); a service shares its cores too
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as err:  # ONNX Runtime's errors derive from Exception only
            raise ValueError(f"{self.path} is not a valid ONNX model: {err}") from err
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 2 or inputs[0].shape[1] != 6:
            shapes = [i.shape for i in inputs]
            raise ValueError(f"{self.path} must take one input of shape (batch, 6), got {shapes}")
        self.input_name = inputs[0].name

    @property
    def quantized(self) -> bool:
        """Whether the file is one of the int8 variants."""
        return self.variant in INT8_VARIANTS

    def price(self, X: object, *, allow_outside: bool = False) -> np.ndarray:
        """Prices of a batch, as ``helpers.inference.pricing.price`` gives them (in slices of
        ``ROWS_PER_RUN`` options).

        Args:
            X: array-like of shape ``(n, 6)`` (or one row of 6), columns
                ``helpers.core.domain.COLUMNS``.
            allow_outside: warn instead of raising for inputs outside the training domain.

        Returns:
            Float32 array of shape ``(n,)``, currency units.

        Raises:
            ValueError: see ``helpers.inference.pricing.check_domain``.
        """
        x = check_domain(X, allow_outside)
        if len(x) == 0:
            return np.zeros(0, dtype=np.float32)
        out = np.empty(len(x), dtype=np.float32)
        for start in range(0, len(x), ROWS_PER_RUN):
            rows = np.ascontiguousarray(x[start : start + ROWS_PER_RUN])
            (prices,) = self.session.run(None, {self.input_name: rows})
            out[start : start + len(rows)] = np.asarray(prices, dtype=np.float32).reshape(-1)
        return out

    __call__ = price

    def greeks(self, X: object, *, allow_outside: bool = False) -> dict[str, np.ndarray]:
        """Refused: ONNX Runtime differentiates nothing, and an int8 price is a step function
        of its inputs.

        Raises:
            ValueError: always, saying where Greeks come from instead.
        """
        raise ValueError(GREEKS_REFUSAL.format(what=f"the {self.variant} ONNX model {self.path}"))

    def __repr__(self) -> str:
        return f"OnnxPricer({str(self.path)!r}, variant={self.variant!r})"
