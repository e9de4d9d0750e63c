"""The pricer as an ONNX file, in float32 and in int8, priced by ONNX Runtime (Chapter 12).

``export_onnx`` writes the pricer to ONNX with a dynamic batch size. ONNX Runtime has no float64
``Erf`` kernel, and the closed form of ``helpers.networks.residual.ResidualPricer`` is computed in
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
``static``                QDQ: int8 weights per channel, activations per tensor with
                          symmetric ranges calibrated once on training-like options
                          (``quantize_static``)
``static-float-ends``     ``static`` with the first and last layers left in float32
``blockwise``             int8 weights in blocks of 32 inputs, activations quantized per row
                          and block at run time (``MatMulNBits``, ``accuracy_level=4``); the
                          first and last layers float
========================  ===================================================================

``OnnxPricer`` prices with any of these files behind ``helpers.inference.pricing.check_domain``'s
guard, and checks the SHA-256 recorded in the file's sidecar JSON (``sidecar_path``).
``qat_finetune``
trains a pricer under fake quantization (torchao) so that its int8 export loses less; torchao's
int8 fake quantization rounds activations per row, as ``blockwise`` does, not per tensor as
``static`` does, so the per-tensor variants gain little from it.
Quantized models give prices, not Greeks (``refuse_quantized_greeks``).

The modules: ``onnx_export`` (the file), ``quantize`` (the int8 variants), ``runtime``
(``OnnxPricer``), ``qat`` (torchao fine-tuning), ``refusal`` (no quantized Greeks),
``comparison`` (every way of running the pricer, measured side by side: Chapter 12's table and
verdicts), ``engines`` (torch.compile, and OpenVINO in float32 and NNCF int8 where the
``engines`` extra is installed), ``benchmark`` (that table for ``make bench``), ``tables``
(Chapter 12's tables of accuracy and speed), ``files`` (sidecars, atomic writes) and
``command`` (the command line).

Command line: ``python -m helpers.export --out DIR`` writes ``DIR/pricer.onnx`` (float32) and
``DIR/pricer.int8.onnx`` (``RECOMMENDED_INT8``) from the shipped pricer, each with its sidecar.

References:
    ONNX Runtime, "Quantize ONNX models",
    https://onnxruntime.ai/docs/performance/model-optimizations/quantization.html
    B. Jacob et al., "Quantization and Training of Neural Networks for Efficient
    Integer-Arithmetic-Only Inference", CVPR 2018 (fake quantization during training).
"""

from ...core.files import read_sidecar, sidecar_path
from .command import export_pricer, main
from .comparison import (
    BASELINE,
    GOAL_MAE_CHANGE,
    GOAL_SPEEDUP,
    Candidate,
    batch_of,
    candidates,
    compare,
    device_candidates,
    fastest_accurate,
    finite_difference_delta,
    options_per_second,
    signed_percent,
    spot_ladder,
    verdicts,
)
from .engines import (
    OpenVinoNetwork,
    compiled_candidate,
    cxx_compiler,
    engine_candidates,
    openvino_available,
)
from .files import state_sha256
from .onnx_export import (
    FLOAT32,
    ONNX_INPUT,
    OrtResidualPricer,
    export_onnx,
    network_nodes,
    network_weight_bytes,
    onnx_ready,
)
from .qat import fake_quantized, linear_layers, qat_finetune
from .quantize import (
    BLOCK_SIZE,
    CALIBRATION_OPTIONS,
    INT8_VARIANTS,
    RECOMMENDED_INT8,
    OptionsReader,
    quantize_onnx,
)
from .refusal import QUANTIZED_MODULES, quantization_in, refuse_quantized_greeks
from .runtime import GREEKS_REFUSAL, OnnxPricer

__all__ = [
    "OpenVinoNetwork",
    "compiled_candidate",
    "cxx_compiler",
    "engine_candidates",
    "openvino_available",
    "BASELINE",
    "BLOCK_SIZE",
    "CALIBRATION_OPTIONS",
    "GOAL_MAE_CHANGE",
    "GOAL_SPEEDUP",
    "FLOAT32",
    "GREEKS_REFUSAL",
    "INT8_VARIANTS",
    "ONNX_INPUT",
    "QUANTIZED_MODULES",
    "RECOMMENDED_INT8",
    "Candidate",
    "OnnxPricer",
    "OptionsReader",
    "OrtResidualPricer",
    "candidates",
    "compare",
    "device_candidates",
    "export_onnx",
    "export_pricer",
    "fastest_accurate",
    "finite_difference_delta",
    "fake_quantized",
    "linear_layers",
    "main",
    "network_nodes",
    "network_weight_bytes",
    "onnx_ready",
    "options_per_second",
    "qat_finetune",
    "quantization_in",
    "quantize_onnx",
    "read_sidecar",
    "refuse_quantized_greeks",
    "sidecar_path",
    "spot_ladder",
    "state_sha256",
    "signed_percent",
    "batch_of",
    "verdicts",
]
