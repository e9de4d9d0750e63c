"""int8 variants of an exported pricer, made by ONNX Runtime's quantizers (``INT8_VARIANTS``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.files import read_sidecar, sha256, written_atomically
from ...core.machine import int8_dot_product
from .files import quiet, write_sidecar
from .onnx_export import ONNX_INPUT, network_nodes

INT8_VARIANTS = ("dynamic", "static", "static-float-ends", "blockwise")
"""The int8 variants ``quantize_onnx`` makes; see the module docstring."""

RECOMMENDED_INT8 = "blockwise"
"""The int8 variant the command line writes: on the shipped pricer's test set its error against
Monte Carlo is within a few percent of the float model's, where the per-tensor variants'
(``dynamic``, ``static``) is several times the float model's (Chapter 12 measures them)."""

CALIBRATION_OPTIONS = 8192
"""Options (Sobol points over the training domain) that calibrate the static variants."""

BLOCK_SIZE = 32
"""Inputs per block of the ``blockwise`` variant's weights and activations."""


class OptionsReader:
    """Feeds calibration options to ``onnxruntime.quantization.quantize_static`` (an ONNX
    Runtime ``CalibrationDataReader`` by its ``get_next`` method), ``batch`` rows a call.

    Args:
        X: options, shape ``(n, 6)``, columns ``helpers.core.domain.COLUMNS``.
        batch: rows per call.
    """

    def __init__(self, X: np.ndarray, batch: int = 1024) -> None:
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.batch = batch
        self.rewind()

    def rewind(self) -> None:
        self._starts = iter(range(0, len(self.X), self.batch))

    def get_next(self) -> dict[str, np.ndarray] | None:
        start = next(self._starts, None)
        return None if start is None else {ONNX_INPUT: self.X[start : start + self.batch]}


def quantize_onnx(
    src: str | Path,
    dst: str | Path,
    variant: str,
    *,
    calibration: np.ndarray | None = None,
    per_channel: bool = True,
    reduce_range: bool | None = None,
    keep_float_ends: bool | None = None,
    quantize_outputs: bool = False,
) -> Path:
    """Quantizes an exported float32 pricer to int8 with ONNX Runtime; writes ``dst`` and its
    sidecar atomically.

    Only the network's matrix products are quantized (``network_nodes``). ``dynamic`` and
    ``static`` use per-channel int8 weights (``per_channel``) and, with ``reduce_range``, 7-bit
    weights, which ONNX Runtime advises for processors without VNNI (AVX2), where the u8s8
    product can saturate; by default ``reduce_range`` is on exactly when this CPU has no VNNI
    (``helpers.core.machine.int8_dot_product``). ``static`` calibrates symmetric per-tensor
    activation ranges (min-max) on ``calibration`` and quantizes each product's inputs, not its
    output (the price is the network's output times ``K + S0``, up to 400, so an 8-bit output
    costs accuracy): ONNX Runtime then runs the products in float on dequantized inputs, a
    model 3x smaller but no faster. With ``quantize_outputs`` it fuses them into int8
    ``QLinearMatMul`` kernels, faster and less accurate. ``blockwise`` quantizes weights
    symmetrically in blocks of ``BLOCK_SIZE`` (``MatMulNBits``, 8 bits, ``accuracy_level=4``:
    int8 products with activations quantized per row and block).

    Args:
        src: the float32 ``.onnx`` from ``export_onnx``.
        dst: the int8 ``.onnx`` to write.
        variant: one of ``INT8_VARIANTS``.
        calibration: options for ``static`` variants, shape ``(n, 6)``; default
            ``CALIBRATION_OPTIONS`` Sobol points (``helpers.core.domain.sobol_options``, seed 0).
        per_channel, reduce_range: ONNX Runtime's, for ``dynamic`` and ``static``;
            ``reduce_range=None``: on when this CPU has no VNNI.
        keep_float_ends: leave the first and last layers float; default ``True`` for
            ``static-float-ends`` and ``blockwise``, ``False`` for the others.
        quantize_outputs: ``static`` variants only: quantize each product's output too.

    Returns:
        ``dst``.

    Raises:
        ValueError: an unknown variant, a ``src`` without network layers, or calibration
            options of the wrong shape.
    """
    if variant not in INT8_VARIANTS:
        raise ValueError(f"unknown int8 variant {variant!r}: choose one of {list(INT8_VARIANTS)}")
    src, dst = Path(src), Path(dst)
    if reduce_range is None:
        reduce_range = not int8_dot_product()
    layers = network_nodes(src)
    if not layers:
        raise ValueError(f"{src} has no float32 MatMul or Gemm with a weight matrix to quantize")
    if keep_float_ends is None:
        keep_float_ends = variant in ("static-float-ends", "blockwise")
    chosen = layers[1:-1] if keep_float_ends and len(layers) > 2 else layers
    settings = {"layers_quantized": chosen, "layers_float": [n for n in layers if n not in chosen]}
    dst.parent.mkdir(parents=True, exist_ok=True)
    with quiet("", "onnxruntime"), written_atomically(dst) as tmp:
        if variant == "dynamic":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(
                src,
                tmp,
                per_channel=per_channel,
                reduce_range=reduce_range,
                weight_type=QuantType.QInt8,
                nodes_to_quantize=chosen,
            )
            settings.update(per_channel=per_channel, reduce_range=reduce_range)
        elif variant == "blockwise":
            _quantize_blockwise(src, tmp, chosen)
            settings.update(bits=8, block_size=BLOCK_SIZE, accuracy_level=4)
        else:
            settings.update(
                _quantize_static(
                    src, tmp, chosen, calibration, per_channel, reduce_range, quantize_outputs
                )
            )
    write_sidecar(
        dst,
        variant,
        {
            "float_model": {"file": src.name, "sha256": sha256(src)},
            "source": read_sidecar(src).get("source"),
            "settings": settings,
        },
    )
    return dst


def _quantize_static(
    src: Path,
    tmp: Path,
    chosen: list[str],
    calibration: np.ndarray | None,
    per_channel: bool,
    reduce_range: bool,
    quantize_outputs: bool,
) -> dict:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    from ...core.domain import sobol_options

    if calibration is None:
        calibration = sobol_options(CALIBRATION_OPTIONS, seed=0)
    calibration = np.asarray(calibration, dtype=np.float32)
    if calibration.ndim != 2 or calibration.shape[1] != 6 or len(calibration) == 0:
        raise ValueError(
            f"calibration options must have shape (n, 6), n >= 1, got {calibration.shape}"
        )
    # symmetric activation ranges: measured on the shipped pricer, test MAE 0.030 against
    # 0.070 with asymmetric ones (min-max), 0.047 with the 99.99th percentile
    extra = {"ActivationSymmetric": True}
    if not quantize_outputs:
        extra["OpTypesToExcludeOutputQuantization"] = ["MatMul", "Gemm"]
    quantize_static(
        src,
        tmp,
        OptionsReader(calibration),
        quant_format=QuantFormat.QDQ,
        op_types_to_quantize=["MatMul", "Gemm"],
        nodes_to_quantize=chosen,
        per_channel=per_channel,
        reduce_range=reduce_range,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options=extra,
    )
    return {
        "per_channel": per_channel,
        "reduce_range": reduce_range,
        "format": "QDQ",
        "activations": "uint8 per tensor, symmetric, min-max calibrated",
        "quantize_outputs": quantize_outputs,
        "calibration_options": len(calibration),
    }


def _quantize_blockwise(src: Path, tmp: Path, chosen: list[str]) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    proto = onnx.load(str(src))
    others = [n.name for n in proto.graph.node if n.op_type == "MatMul" and n.name not in chosen]
    quantizer = MatMulNBitsQuantizer(
        proto,
        bits=8,
        block_size=BLOCK_SIZE,
        is_symmetric=True,
        accuracy_level=4,
        nodes_to_exclude=others,
        op_types_to_quantize=("MatMul",),
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(tmp))
