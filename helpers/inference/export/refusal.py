"""Quantized models give prices, not Greeks: how ``helpers`` recognises one and refuses."""

from __future__ import annotations

from itertools import chain

from torch import nn

from .runtime import GREEKS_REFUSAL, OnnxPricer

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
    ``helpers.inference.sensitivities`` calls before differentiating).

    Raises:
        ValueError: ``quantization_in(model)`` finds quantization; the message says to take
            Greeks from the float model or from wide finite differences (``GREEKS_REFUSAL``).
    """
    what = quantization_in(model)
    if what is not None:
        raise ValueError(GREEKS_REFUSAL.format(what=what))
