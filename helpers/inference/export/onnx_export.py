"""The pricer to ONNX: float32, dynamic batch size, the network's layers as ``MatMul`` + ``Add``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ...core.domain import ARTICLE_NETWORK_EXAMPLE
from ...core.files import write_atomically
from ...mc.moments import levy_price
from .files import no_leafspec, quiet, state_sha256, write_sidecar

if TYPE_CHECKING:
    import onnx

FLOAT32 = "float32"
ONNX_INPUT = "x"
"""Name of the exported graph's input, shape ``(batch, 6)``, float32."""


class OrtResidualPricer(nn.Module):
    """A ``ResidualPricer`` as ONNX Runtime can run it: the closed form by
    ``levy_price(..., cdf_dtype=torch.float32)``, the same network (shared, not copied).

    The graph computes what PyTorch does on the whole domain, its edges and corners included
    (``S0 = 0``, ``K = 0``, ``B = 0``, ``sigma = 0``, ``mu = 0``): ``levy_price`` takes those
    limits with ``torch.where`` and float64 tensor constants, because ``torch.onnx`` writes a
    Python number in a ``clamp`` or ``where`` as a float32 constant (a clamp to the smallest
    float64 became a clamp to 0, and ``S0 = 0`` priced ``0 / 0 = NaN``).

    Shape:
        Input ``(n, 6)`` float32, columns ``helpers.core.domain.COLUMNS``; output ``(n,)``, float32.
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
    from ...networks.residual import ResidualPricer

    return OrtResidualPricer(model) if isinstance(model, ResidualPricer) else model


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
    example = torch.tensor([ARTICLE_NETWORK_EXAMPLE] * 2, dtype=torch.float32)  # for tracing
    with quiet("torch.onnx", "torch.export", "onnxscript"), torch.no_grad(), no_leafspec():
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
    write_atomically(path, proto.SerializeToString())
    write_sidecar(
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


def network_weight_bytes(model: str | Path | onnx.ModelProto) -> int:
    """Bytes of the network's weight matrices in an exported pricer: the float32 matrices of
    ``network_nodes`` plus every int8 and uint8 initializer (quantized weights, their zero
    points). Biases, scales and the closed form's constants are not counted.

    Args:
        model: an ``.onnx`` path or an ``onnx.ModelProto``, float32 or int8.
    """
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(model)) if isinstance(model, (str, Path)) else model
    float_weights = {n.input[1] for n in proto.graph.node if n.name in set(network_nodes(proto))}
    integer = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
    return sum(
        numpy_helper.to_array(t).nbytes
        for t in proto.graph.initializer
        if t.data_type in integer or t.name in float_weights
    )
