"""The article's pricing network (Chapters 3-7): a multilayer perceptron from the six option
inputs to the price."""

from __future__ import annotations

import torch
from torch import nn

from ..core.domain import DOMAIN_HIGH
from ..core.validate import check_integer

ACTIVATIONS = {"elu": nn.functional.elu, "softplus": nn.functional.softplus}
"""Smooth activations (ReLU's second derivative in the inputs is zero almost everywhere)."""


def check_architecture(hidden: int, layers: int, activation: str) -> None:
    """Refuses a pricer's shape: ``hidden`` or ``layers`` below 1, or an ``activation`` that is
    not in ``ACTIVATIONS``, each with a ``ValueError`` that names it."""
    check_integer("hidden", hidden, low=1)
    check_integer("layers", layers, low=1)
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: choose one of {list(ACTIVATIONS)}")


class Net(nn.Module):
    """The article's MLP: ``layers`` hidden ELU layers of width ``hidden`` and a linear output.

    The inputs are divided by the domain's upper bounds (``helpers.core.domain.DOMAIN_HIGH``, held
    in the registered buffer ``scale``, so it moves and is saved with the model) to lie in [0, 1].
    ELU rather than ReLU: a ReLU network is piecewise linear, so its second derivative in the
    inputs (gamma) is zero almost everywhere; ELU is smooth.

    ``forward`` is a plain tensor function, so ``torch.func`` transforms (``vmap``, ``jacrev``,
    ``hessian``) work on it.

    Example:
        >>> net = Net(hidden=32, layers=2)
        >>> net(torch.zeros(5, 6)).shape
        torch.Size([5])

    Args:
        hidden: width of each hidden layer, ``>= 1`` (article: 1024; its prose says 512).
        layers: number of hidden layers, ``>= 1`` (article: 5).
        activation: ``"elu"`` (the article's) or ``"softplus"`` (``ACTIVATIONS``).

    Shape:
        Input ``(..., 6)`` with columns ``helpers.core.domain.COLUMNS``; output ``(...)``, the
        price.

    Raises:
        ValueError: if ``hidden`` or ``layers`` is below 1, or an unknown activation.
    """

    def __init__(self, hidden: int = 1024, layers: int = 5, activation: str = "elu") -> None:
        super().__init__()
        check_architecture(hidden, layers, activation)
        self.activation = ACTIVATIONS[activation]
        self.register_buffer("scale", torch.tensor(DOMAIN_HIGH, dtype=torch.float32))
        widths = [6] + [hidden] * layers
        self.hidden = nn.ModuleList(
            nn.Linear(a, b) for a, b in zip(widths, widths[1:], strict=False)
        )
        self.output = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x / self.scale
        for layer in self.hidden:
            x = self.activation(layer(x))
        return self.output(x).squeeze(-1)
