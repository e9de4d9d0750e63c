"""The pricer as an ONNX file, in float32 and in int8, priced by ONNX Runtime (Chapter 11).

``export_onnx`` writes the pricer to ONNX with a dynamic batch size. ONNX Runtime has no float64
``Erf`` kernel, and the closed form of ``helpers.baseline.ResidualPricer`` is computed in
float64; in float32 it cannot be computed at all (its series' coefficients reach ``1e41``, past
float32's ``3.4e38``). So the exported graph (``onnx_ready``) keeps the moments in float64 and
evaluates only the normal CDF in float32, whose argument is well conditioned: the prices move by
about ``(m1 + K) * 6e-8`` at most, one float32 rounding of a price near 200. ``torch.onnx``
writes the network's layers as ``Gemm``; they are rewritten as ``MatMul`` and ``Add``, which
every ONNX Runtime quantizer handles (dynamic quantization knows no ``Gemm``).

Four int8 variants of that file (``INT8_VARIANTS``), all of which quantize only the network's
matrix products (``network_nodes``); the closed form stays float:

========================  ===================================================================
``dynamic``               int8 weights per output channel; activations quantized per call over
                          the whole batch (``quantize_dynamic``), so a price depends on the
                          other options in its batch
``static``                QDQ: int8 weights per channel, activations per tensor with ranges
                          calibrated once on training-like options (``quantize_static``)
``static-float-ends``     ``static`` with the first and last layers left in float32
``blockwise``             int8 weights in blocks of 32 inputs, activations quantized per row
                          and block at run time (``MatMulNBits``, ``accuracy_level=4``); the
                          first and last layers float
========================  ===================================================================

``OnnxPricer`` prices with any of these files behind ``helpers.pricing.check_domain``'s guard,
and checks the SHA-256 recorded in the file's sidecar JSON (``sidecar_path``). ``qat_finetune``
trains a pricer under fake quantization (torchao) so that its int8 export loses less; torchao's
int8 fake quantization rounds activations per row, as ``blockwise`` does, not per tensor as
``static`` does, so the per-tensor variants gain little from it.
Quantized models give prices, not Greeks (``refuse_quantized_greeks``).

Command line: ``python -m helpers.export --out DIR`` writes ``DIR/pricer.onnx`` (float32) and
``DIR/pricer.int8.onnx`` (``RECOMMENDED_INT8``) from the shipped pricer, each with its sidecar.

References:
    ONNX Runtime, "Quantize ONNX models",
    https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html
    B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
    Integer-Arithmetic-Only Inference", CVPR 2018 (fake quantization during training).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .baseline import levy_price
from .pricing import check_domain

if TYPE_CHECKING:
    import onnx

FLOAT32 = "float32"
INT8_VARIANTS = ("dynamic", "static", "static-float-ends", "blockwise")
"""The int8 variants ``quantize_onnx`` makes; see the module docstring."""

RECOMMENDED_INT8 = "blockwise"
"""The int8 variant the command line writes: on the shipped pricer's test set its error against
Monte Carlo is within a few percent of the float model's, where the per-tensor variants'
(``dynamic``, ``static``) is several times the float model's (Chapter 11 measures them)."""

CALIBRATION_OPTIONS = 8192
"""Options (Sobol points over the training domain) that calibrate the static variants."""

BLOCK_SIZE = 32
"""Inputs per block of the ``blockwise`` variant's weights and activations."""

ONNX_INPUT = "x"
"""Name of the exported graph's input, shape ``(batch, 6)``, float32."""


class OrtResidualPricer(nn.Module):
    """A ``ResidualPricer`` as ONNX Runtime can run it: the closed form by
    ``levy_price(..., cdf_dtype=torch.float32)``, the same network (shared, not copied).

    Shape:
        Input ``(n, 6)`` float32, columns ``helpers.domain.COLUMNS``; output ``(n,)``, float32.
    """

    def __init__(self, pricer: nn.Module) -> None:
        super().__init__()
        self.pricer = pricer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pricer
        closed_form = levy_price(x, p.T, p.n_steps, cdf_dtype=torch.float32)
        return (closed_form + p.residual(x)).clamp_min(0.0)


def onnx_ready(model: nn.Module) -> nn.Module:
    """The module to export: ``OrtResidualPricer`` around a ``ResidualPricer``, any other pricer
    (``Net``, ``HomogeneousPricer``: float32 throughout) as it is."""
    from .baseline import ResidualPricer

    return OrtResidualPricer(model) if isinstance(model, ResidualPricer) else model


def sidecar_path(path: str | Path) -> Path:
    """Where a model file's metadata lives: ``pricer.onnx`` -> ``pricer.onnx.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _sha256(path: Path) -> str:
    from .datagen import sha256

    return sha256(path)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def _written_atomically(path: Path) -> Iterator[Path]:
    """A temporary name next to ``path`` for a writer that wants a path; renamed to ``path`` when
    the block ends without error, removed when it raises."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_sidecar(path: Path, variant: str, extra: dict) -> dict:
    import onnxruntime

    meta = {
        "file": path.name,
        "sha256": _sha256(path),
        "variant": variant,
        "bytes": path.stat().st_size,
        "onnxruntime": onnxruntime.__version__,
        **extra,
    }
    _write_atomically(sidecar_path(path), (json.dumps(meta, indent=2) + "\n").encode())
    return meta


def state_sha256(model: nn.Module) -> str:
    """Hex SHA-256 of a model's state (every parameter and buffer, by name, in order): names the
    pricer an export came from when there is no weights file to hash."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@contextlib.contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Raises the named loggers (``""``: the root) to ERROR for the block: torch.onnx, torchao
    and the ONNX Runtime quantizers log advice at WARNING that does not apply here."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


@contextlib.contextmanager
def _no_leafspec() -> Iterator[None]:
    """Silences a FutureWarning that torch.export raises about its own use of ``LeafSpec``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
        yield


def _gemm_to_matmul(model: onnx.ModelProto) -> int:
    """Rewrites each ``Gemm`` whose weight is an initializer (``alpha = beta = 1``, ``A`` not
    transposed) as ``MatMul`` then ``Add`` of the bias, in place; returns how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    nodes, rewritten = [], 0
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if (
            node.op_type != "Gemm"
            or node.input[1] not in initializers
            or attributes.get("transA", 0)
            or attributes.get("alpha", 1.0) != 1.0
            or attributes.get("beta", 1.0) != 1.0
        ):
            nodes.append(node)
            continue
        weight = numpy_helper.to_array(initializers[node.input[1]])
        if attributes.get("transB", 0):
            weight = weight.T
        name = node.input[1] + "_matmul"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(weight), name))
        product = node.output[0] + ("_matmul" if len(node.input) > 2 else "")
        nodes.append(helper.make_node("MatMul", [node.input[0], name], [product], name=node.name))
        if len(node.input) > 2:
            nodes.append(
                helper.make_node(
                    "Add", [product, node.input[2]], [node.output[0]], name=node.name + "_bias"
                )
            )
        rewritten += 1
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for node in graph.node for name in node.input}
    kept = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    return rewritten


def export_onnx(model: nn.Module, path: str | Path, *, source: dict | None = None) -> Path:
    """Writes a pricer to ONNX (float32 in and out, dynamic batch size) with its sidecar JSON.

    Exports ``onnx_ready(model)`` with ``torch.onnx.export(..., dynamo=True)``, rewrites the
    network's ``Gemm`` nodes as ``MatMul`` + ``Add`` (``_gemm_to_matmul``), checks the graph
    with ``onnx.checker`` and writes it atomically; the sidecar ``path + ".json"`` records its
    SHA-256, the variant ``"float32"`` and ``source``.

    Example:
        >>> export_onnx(load_pretrained(), "out/pricer.onnx")  # doctest: +SKIP
        PosixPath('out/pricer.onnx')

    Args:
        model: a pricer mapping ``(n, 6)`` float32 options to ``(n,)`` prices; not modified.
        path: the ``.onnx`` file to write; its folder is created.
        source: what the pricer is, for the sidecar (the command line passes the weights' file
            name and SHA-256); default ``{"state_sha256": state_sha256(model)}``.

    Returns:
        ``path``.
    """
    import onnx

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    module = onnx_ready(copy.deepcopy(model).float().cpu()).eval()
    example = torch.tensor([[110.0, 100.0, 120.0, 0.35, 0.1, 0.05]] * 2)
    with _quiet("torch.onnx", "torch.export", "onnxscript"), torch.no_grad(), _no_leafspec():
        program = torch.onnx.export(
            module,
            (example,),
            input_names=[ONNX_INPUT],
            output_names=["price"],
            dynamo=True,
            verbose=False,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    proto = program.model_proto
    rewritten = _gemm_to_matmul(proto)
    onnx.checker.check_model(proto)
    _write_atomically(path, proto.SerializeToString())
    _write_sidecar(
        path,
        FLOAT32,
        {
            "source": source if source is not None else {"state_sha256": state_sha256(model)},
            "opset": max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")),
            "gemm_rewritten_as_matmul": rewritten,
        },
    )
    return path


def network_nodes(model: str | Path | onnx.ModelProto) -> list[str]:
    """Names of the network's matrix products in an exported pricer, in graph order: the
    ``MatMul`` and ``Gemm`` nodes whose weight is a float32 matrix initializer. The closed
    form's products (float64) are not among them, so they are never quantized.

    Args:
        model: an ``.onnx`` path or an ``onnx.ModelProto``.
    """
    import onnx

    proto = onnx.load(str(model)) if isinstance(model, (str, Path)) else model
    weights = {
        t.name
        for t in proto.graph.initializer
        if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) == 2
    }
    return [
        n.name
        for n in proto.graph.node
        if n.op_type in ("MatMul", "Gemm") and len(n.input) > 1 and n.input[1] in weights
    ]


class OptionsReader:
    """Feeds calibration options to ``onnxruntime.quantization.quantize_static`` (an ONNX
    Runtime ``CalibrationDataReader`` by its ``get_next`` method), ``batch`` rows a call.

    Args:
        X: options, shape ``(n, 6)``, columns ``helpers.domain.COLUMNS``.
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
    reduce_range: bool = True,
    keep_float_ends: bool | None = None,
    quantize_outputs: bool = False,
) -> Path:
    """Quantizes an exported float32 pricer to int8 with ONNX Runtime; writes ``dst`` and its
    sidecar atomically.

    Only the network's matrix products are quantized (``network_nodes``). ``dynamic`` and
    ``static`` use per-channel int8 weights (``per_channel``) and, with ``reduce_range``, 7-bit
    weights, which ONNX Runtime advises for processors without VNNI (AVX2), where the u8s8
    product can saturate. ``static`` calibrates per-tensor activation ranges (min-max) on
    ``calibration`` and quantizes each product's inputs, not its output (the price is the
    network's output times ``K + S0``, up to 400, so an 8-bit output costs accuracy): ONNX
    Runtime then runs the products in float on dequantized inputs, a model 3x smaller but no
    faster. With ``quantize_outputs`` it fuses them into int8 ``QLinearMatMul`` kernels, faster
    and less accurate. ``blockwise`` quantizes weights symmetrically in blocks of ``BLOCK_SIZE``
    (``MatMulNBits``, 8 bits, ``accuracy_level=4``: int8 products with activations quantized
    per row and block).

    Args:
        src: the float32 ``.onnx`` from ``export_onnx``.
        dst: the int8 ``.onnx`` to write.
        variant: one of ``INT8_VARIANTS``.
        calibration: options for ``static`` variants, shape ``(n, 6)``; default
            ``CALIBRATION_OPTIONS`` Sobol points (``helpers.domain.sobol_options``, seed 0).
        per_channel, reduce_range: ONNX Runtime's, for ``dynamic`` and ``static``.
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
    layers = network_nodes(src)
    if not layers:
        raise ValueError(f"{src} has no float32 MatMul or Gemm with a weight matrix to quantize")
    if keep_float_ends is None:
        keep_float_ends = variant in ("static-float-ends", "blockwise")
    chosen = layers[1:-1] if keep_float_ends and len(layers) > 2 else layers
    settings = {"layers_quantized": chosen, "layers_float": [n for n in layers if n not in chosen]}
    dst.parent.mkdir(parents=True, exist_ok=True)
    with _quiet("", "onnxruntime"), _written_atomically(dst) as tmp:
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
    _write_sidecar(
        dst,
        variant,
        {
            "float_model": {"file": src.name, "sha256": _sha256(src)},
            "source": _read_sidecar(src).get("source"),
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

    from .domain import sobol_options

    if calibration is None:
        calibration = sobol_options(CALIBRATION_OPTIONS, seed=0)
    calibration = np.asarray(calibration, dtype=np.float32)
    if calibration.ndim != 2 or calibration.shape[1] != 6 or len(calibration) == 0:
        raise ValueError(
            f"calibration options must have shape (n, 6), n >= 1, got {calibration.shape}"
        )
    outputs = {} if quantize_outputs else {"OpTypesToExcludeOutputQuantization": ["MatMul", "Gemm"]}
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
        extra_options=outputs,
    )
    return {
        "per_channel": per_channel,
        "reduce_range": reduce_range,
        "format": "QDQ",
        "activations": "uint8 per tensor, min-max calibrated",
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


def _read_sidecar(path: Path) -> dict:
    """The sidecar's metadata, ``{}`` when there is none.

    Raises:
        ValueError: a sidecar that is not JSON, naming it.
    """
    meta_path = sidecar_path(path)
    if not meta_path.exists():
        return {}
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta_path} (metadata of {path}) is not valid JSON: {err}") from err


GREEKS_REFUSAL = (
    "{what} has no autograd Greeks: take prices from it and Greeks from the float PyTorch "
    "model (helpers.greeks on helpers.model.load_pretrained()), or by finite differences of its "
    "prices with a bump far larger than its quantization step"
)
"""The message of every refusal of Greeks from a quantized or exported model."""


class OnnxPricer:
    """Prices options with an exported pricer (float32 or int8) in ONNX Runtime, behind the
    training domain's guard.

    Checks the file's SHA-256 against its sidecar JSON when there is one, and refuses a file
    ONNX Runtime cannot load, or whose input is not ``(batch, 6)``.

    Example:
        >>> pricer = OnnxPricer("out/pricer.int8.onnx")  # doctest: +SKIP
        >>> pricer.price([[110, 100, 120, 0.35, 0.1, 0.05]])  # doctest: +SKIP
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
        self.metadata = _read_sidecar(self.path)
        recorded = self.metadata.get("sha256")
        if recorded is not None and _sha256(self.path) != recorded:
            raise ValueError(
                f"{self.path} does not match the SHA-256 recorded in "
                f"{sidecar_path(self.path)}: the file is corrupted or replaced"
            )
        self.variant = self.metadata.get("variant", "unknown")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
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
        """Prices of a batch, as ``helpers.pricing.price`` gives them.

        Args:
            X: array-like of shape ``(n, 6)`` (or one row of 6), columns
                ``helpers.domain.COLUMNS``.
            allow_outside: warn instead of raising for inputs outside the training domain.

        Returns:
            Float32 array of shape ``(n,)``, currency units.

        Raises:
            ValueError: see ``helpers.pricing.check_domain``.
        """
        x = check_domain(X, allow_outside)
        if len(x) == 0:
            return np.zeros(0, dtype=np.float32)
        (out,) = self.session.run(None, {self.input_name: np.ascontiguousarray(x)})
        return np.asarray(out, dtype=np.float32).reshape(len(x))

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


QUANTIZED_MODULES = (
    "torchao.",
    "torch.ao.nn.quantized",
    "torch.ao.nn.qat",
    "torch.ao.nn.intrinsic.quantized",
    "torch.ao.nn.intrinsic.qat",
    "torch.ao.quantization",
    "torch.nn.quantized",
    "torch.nn.qat",
)
"""Module paths of the classes that quantize or fake-quantize a PyTorch model: torchao's
(``FakeQuantizedLinear``, its quantized tensors) and ``torch.ao``'s (quantized and QAT modules,
observers, ``FakeQuantize``)."""


def quantization_in(model: object) -> str | None:
    """What makes ``model`` quantized, in words, or ``None`` for a float model.

    Looks for an ``OnnxPricer``, a submodule whose class lives in ``QUANTIZED_MODULES``, and a
    quantized parameter or buffer (``is_quantized``, or a torchao tensor subclass).
    """
    if isinstance(model, OnnxPricer):
        return f"the {model.variant} ONNX model {model.path}"
    if not isinstance(model, nn.Module):
        return None
    for name, module in model.named_modules():
        if type(module).__module__.startswith(QUANTIZED_MODULES):
            return f"the model ({name or 'itself'} is a {type(module).__name__})"
    for name, tensor in chain(model.named_parameters(), model.named_buffers()):
        data = tensor.data if isinstance(tensor, nn.Parameter) else tensor
        if data.is_quantized or type(data).__module__.startswith("torchao."):
            return f"the model ({name} is quantized)"
    return None


def refuse_quantized_greeks(model: object) -> None:
    """Refuses autograd Greeks of a quantized or fake-quantized model (the hook
    ``helpers.greeks`` calls before differentiating).

    Raises:
        ValueError: ``quantization_in(model)`` finds quantization; the message says to take
            Greeks from the float model or from wide finite differences (``GREEKS_REFUSAL``).
    """
    what = quantization_in(model)
    if what is not None:
        raise ValueError(GREEKS_REFUSAL.format(what=what))


def _import_torchao_qat():
    """``torchao.quantization`` and its ``qat``, imported with torchao's warnings about
    optional GPU kernels silenced."""
    with _quiet("torchao", "torch.utils._pytree"):
        from torchao.quantization import qat, quantize_
    return quantize_, qat


def linear_layers(model: nn.Module) -> list[str]:
    """Qualified names of a model's ``nn.Linear`` layers, in order: a ``ResidualPricer``'s
    are those of its network."""
    return [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]


def fake_quantized(model: nn.Module, *, keep_float_ends: bool = True) -> nn.Module:
    """A copy of ``model`` whose linear layers carry torchao fake quantization.

    Weights are int8 symmetric per output channel, activations int8 asymmetric per row (per
    option): torchao's ``IntxFakeQuantizeConfig`` through ``QATConfig(step="prepare")``.
    Rounding happens in the forward pass; the backward pass lets the gradient through
    (straight-through estimator), so training learns weights that survive the rounding.

    Args:
        model: a float pricer; not modified.
        keep_float_ends: leave the first and last linear layers float, as the deployed
            ``static-float-ends`` and ``blockwise`` variants do.

    Returns:
        The fake-quantized copy (``quantization_in`` reports it).
    """
    quantize_, qat = _import_torchao_qat()
    model = copy.deepcopy(model)
    names = linear_layers(model)
    chosen = set(names[1:-1] if keep_float_ends and len(names) > 2 else names)
    config = qat.QATConfig(
        activation_config=qat.IntxFakeQuantizeConfig(torch.int8, "per_token", is_symmetric=False),
        weight_config=qat.IntxFakeQuantizeConfig(torch.int8, "per_channel", is_symmetric=True),
        step="prepare",
    )
    with _quiet("torchao", "torch.utils._pytree"):
        quantize_(model, config, filter_fn=lambda module, name: name in chosen)
    return model


def qat_finetune(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    batch: int = 1024,
    lr: float = 1e-5,
    keep_float_ends: bool = True,
    seed: int = 0,
) -> nn.Module:
    """Quantization-aware fine-tuning: trains a copy of ``model`` under fake quantization
    (``fake_quantized``), then removes it (``QATConfig(step="convert")``).

    The result is a float model whose weights were trained to survive int8 rounding: export it
    with ``export_onnx`` and quantize it with ``quantize_onnx``. Adam on the mean squared
    error, in plain PyTorch on the CPU. ``y`` can be Monte Carlo labels or the float model's
    own prices (distillation: no label noise, and the int8 model learns to match the float one).

    Example:
        >>> tuned = qat_finetune(model, X, y, epochs=2)  # doctest: +SKIP

    Args:
        model: a float pricer; not modified.
        X: options, shape ``(n, 6)``, columns ``helpers.domain.COLUMNS``.
        y: target prices, shape ``(n,)``, currency units.
        epochs: passes over the data, ``>= 1``; batch: options per step, ``>= 1``.
        lr: Adam's learning rate, ``> 0`` (small: this is fine-tuning).
        keep_float_ends: as in ``fake_quantized``.
        seed: seeds the shuffling.

    Returns:
        The fine-tuned float model, in eval mode, on the CPU.

    Raises:
        ValueError: shapes that do not match, non-finite data, ``epochs`` or ``batch`` below 1,
            or ``lr`` not positive.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != 6 or y.shape != (len(X),) or len(X) == 0:
        raise ValueError(
            f"X must have shape (n, 6), n >= 1, and y shape (n,): got {X.shape} and {y.shape}"
        )
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError("X and y must be finite")
    if epochs < 1 or batch < 1 or not lr > 0:
        raise ValueError(
            f"epochs and batch must be >= 1 and lr > 0, got epochs={epochs}, batch={batch}, lr={lr}"
        )
    quantize_, qat = _import_torchao_qat()
    student = fake_quantized(model, keep_float_ends=keep_float_ends).float().cpu().train()
    optimizer = torch.optim.Adam(student.parameters(), lr=lr)
    x_all, y_all = torch.from_numpy(X), torch.from_numpy(y)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for rows in torch.randperm(len(X), generator=generator).split(batch):
            loss = nn.functional.mse_loss(student(x_all[rows]), y_all[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with _quiet("torchao", "torch.utils._pytree"):  # back to nn.Linear, keeping the weights
        quantize_(
            student,
            qat.QATConfig(step="convert"),
            filter_fn=lambda module, name: isinstance(module, qat.FakeQuantizedLinear),
        )
    return student.eval()


def options_per_second(
    price: Callable[[np.ndarray], object], X: np.ndarray, *, repeats: int = 5
) -> float:
    """Throughput of a pricing function on one batch: ``len(X)`` over the best of ``repeats``
    timed calls, after one untimed warm-up call.

    Args:
        price: maps a batch of shape ``(n, 6)`` to prices (``OnnxPricer.price``, a lambda
            around a torch model).
        X: the batch, shape ``(n, 6)``.
        repeats: timed calls, ``>= 1``.

    Returns:
        Options per second (wall clock).

    Raises:
        ValueError: ``repeats`` below 1 or an empty batch.
    """
    if repeats < 1 or len(X) == 0:
        raise ValueError(
            f"repeats must be >= 1 and X non-empty, got repeats={repeats}, {len(X)} rows"
        )
    price(X)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        price(X)
        best = min(best, time.perf_counter() - start)
    return len(X) / best


def export_pricer(
    out: str | Path, *, model_dir: str | Path | None = None, variant: str = RECOMMENDED_INT8
) -> tuple[Path, Path]:
    """What the command line does: the pretrained pricer of ``model_dir`` (default: the
    repository's ``data/``) to ``out/pricer.onnx`` and ``out/pricer.int8.onnx`` (``variant``),
    each with its sidecar; the sidecars name the weights file and its SHA-256.

    Returns:
        The two paths, float32 first.

    Raises:
        ValueError: see ``helpers.model.load_pretrained`` and ``quantize_onnx``.
    """
    from .model import DATA_DIR, load_pretrained

    folder = Path(model_dir) if model_dir is not None else DATA_DIR
    model = load_pretrained(folder=folder)
    meta = json.loads((folder / "pricer.json").read_text())
    source = {
        "file": meta["file"],
        "sha256": meta["sha256"],
        "architecture": meta.get("architecture"),
    }
    out = Path(out)
    float_path = export_onnx(model, out / "pricer.onnx", source=source)
    int8_path = quantize_onnx(float_path, out / "pricer.int8.onnx", variant)
    return float_path, int8_path


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.export", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--model-dir",
        default=None,
        help="folder of pricer.json and its weights (default: the repository's data/)",
    )
    parser.add_argument(
        "--int8",
        choices=INT8_VARIANTS,
        default=RECOMMENDED_INT8,
        help=f"which int8 variant to write (default: {RECOMMENDED_INT8})",
    )
    args = parser.parse_args(argv)
    try:
        paths = export_pricer(args.out, model_dir=args.model_dir, variant=args.int8)
    except ValueError as err:
        parser.error(str(err))
    for path in paths:
        meta = _read_sidecar(path)
        print(f"{path}: {meta['variant']}, {meta['bytes']} bytes, sha256 {meta['sha256'][:12]}")


if __name__ == "__main__":
    main()
