"""Quantization-aware fine-tuning with torchao's fake quantization, on the CPU."""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from .files import quiet


def _import_torchao_qat():
    """``torchao.quantization`` and its ``qat``, imported with torchao's warnings about
    optional GPU kernels silenced."""
    with quiet("torchao", "torch.utils._pytree"):
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
    with quiet("torchao", "torch.utils._pytree"):
        quantize_(model, config, filter_fn=lambda module, name: name in chosen)
    return model


def qat_finetune(
    model: nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    batch: int = 1024,
    lr: float = 1e-7,
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
        X: options, shape ``(n, 6)``, columns ``helpers.core.domain.COLUMNS``.
        y: target prices, shape ``(n,)``, currency units.
        epochs: passes over the data, ``>= 1``; batch: options per step, ``>= 1``.
        lr: Adam's learning rate, ``> 0``. Tiny by default: Adam moves every weight by about
            ``lr`` a step whatever its gradient, and the shipped pricer's output is its
            network's times ``K + S0`` (up to 400), so on its 256-wide layers even ``1e-6``
            over 64 steps raised the float test MAE from 0.0062 to 0.0077 (``1e-7``: 0.0070).
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
    with quiet("torchao", "torch.utils._pytree"):  # back to nn.Linear, keeping the weights
        quantize_(
            student,
            qat.QATConfig(step="convert"),
            filter_fn=lambda module, name: isinstance(module, qat.FakeQuantizedLinear),
        )
    return student.eval()
