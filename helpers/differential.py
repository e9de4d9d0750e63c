"""Differential training (Chapter 9, in progress): a loss on prices *and* their derivatives, and
a pricer that is homogeneous of degree one in ``(K, B, S0)``.

Huge and Savine's differential machine learning trains a network on labels that carry the
derivatives of each price as well as the price: here the six adjoint sensitivities of
``helpers.mc.price_options(..., greeks=True)``. The loss adds to the price's mean squared error
a weighted mean squared error of the network's autograd gradient against those labels; each
term is divided by the mean square of its labels (``label_scales``), so that the price and every
input's derivative count alike whatever their units.

Scaling ``K``, ``B`` and ``S0`` by the same factor scales the option's price by it:
``HomogeneousPricer`` builds that in, so the network learns a function of two ratios (bounded in
``[0, 1]``, so no corner of the domain makes them blow up) and three parameters, instead of six
inputs.

References:
    B. Huge and A. Savine, "Differential Machine Learning", arXiv:2005.02347 (2020).
"""

from __future__ import annotations

import torch
from torch import nn

from .domain import DOMAIN_HIGH

ACTIVATIONS = {"elu": nn.ELU, "softplus": nn.Softplus}
"""Smooth activations a derivative loss can use (ReLU's second derivative is zero)."""


class HomogeneousPricer(nn.Module):
    """``P(K, B, S0, sigma, mu, r) = (K + S0) g(K / (K + S0), B / (K + S0), sigma, mu, r)``.

    ``g`` is an MLP of ``layers`` hidden layers of width ``hidden``. The price level ``K + S0``
    is zero only when both are, where the price is zero too; the ratios lie in ``[0, 1]``
    (``B < K`` in the article's domain). ``sigma``, ``mu`` and ``r`` are divided by their
    domain's upper bounds. Every Greek stays available by autograd through the wrapper.

    Example:
        >>> pricer = HomogeneousPricer(hidden=16, layers=2)
        >>> x = torch.tensor([[110.0, 100.0, 120.0, 0.35, 0.15, 0.05]])
        >>> bool(torch.allclose(pricer(2 * x * torch.tensor([1, 1, 1, 0, 0, 0])
        ...                            + x * torch.tensor([0, 0, 0, 1, 1, 1])), 2 * pricer(x)))
        True

    Args:
        hidden: width of each hidden layer, ``>= 1``.
        layers: number of hidden layers, ``>= 1``.
        activation: ``"elu"`` or ``"softplus"`` (``ACTIVATIONS``).

    Shape:
        Input ``(..., 6)`` with columns ``helpers.domain.COLUMNS``; output ``(...)``, the price.

    Raises:
        ValueError: ``hidden`` or ``layers`` below 1, or an unknown activation.
    """

    def __init__(self, hidden: int = 256, layers: int = 4, activation: str = "softplus") -> None:
        super().__init__()
        if hidden < 1 or layers < 1:
            raise ValueError(
                f"hidden and layers must be >= 1, got hidden={hidden}, layers={layers}"
            )
        if activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}: choose one of {list(ACTIVATIONS)}"
            )
        self.register_buffer("rate_scale", torch.tensor(DOMAIN_HIGH[3:], dtype=torch.float32))
        widths = [5] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(widths, widths[1:], strict=False):
            blocks += [nn.Linear(a, b), ACTIVATIONS[activation]()]
        self.body = nn.Sequential(*blocks, nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        K, B, S0 = x[..., 0], x[..., 1], x[..., 2]
        level = K + S0
        safe = torch.where(level > 0, level, torch.ones_like(level))
        features = torch.cat(
            [(K / safe)[..., None], (B / safe)[..., None], x[..., 3:] / self.rate_scale], dim=-1
        )
        return level * self.body(features).squeeze(-1)


def label_scales(price: torch.Tensor, greeks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of the loss's terms: one over the mean square of the price labels and of each
    column of the derivative labels (Huge and Savine normalise likewise), so that every term is
    of order one.

    Args:
        price: price labels, shape ``(n,)``; greeks: derivative labels, shape ``(n, 6)``.

    Returns:
        ``(price_scale, greek_scales)``, shapes ``()`` and ``(6,)``; all-zero labels get 1.
    """

    def inverse_mean_square(labels: torch.Tensor) -> torch.Tensor:
        mean_square = labels.pow(2).mean(dim=0)
        return torch.where(mean_square > 0, 1.0 / mean_square, torch.ones_like(mean_square))

    return inverse_mean_square(price), inverse_mean_square(greeks)


def differential_loss(
    model: nn.Module,
    x: torch.Tensor,
    price: torch.Tensor,
    greeks: torch.Tensor,
    weight: float,
    scales: tuple[torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scaled price error plus ``weight`` times the scaled error of the input gradient.

    Args:
        model: maps ``(n, 6)`` inputs to ``(n,)`` prices.
        x: inputs, shape ``(n, 6)``.
        price: price labels, shape ``(n,)``.
        greeks: derivative labels, shape ``(n, 6)``: dP/d(K, B, S0, sigma, mu, r).
        weight: the derivative term's weight, ``>= 0`` (0: plain training).
        scales: ``label_scales`` of the training set.

    Returns:
        ``(total, price_mse, gradient_mse)``, scalars: the loss (differentiable in the model's
        parameters, the gradient term through ``create_graph``), the price's mean squared error
        in price units squared, and the scaled mean squared error of the gradient.

    Raises:
        ValueError: a negative or non-finite weight.
    """
    if not (weight >= 0.0 and weight < float("inf")):
        raise ValueError(f"weight must be finite and >= 0, got {weight!r}")
    price_scale, greek_scales = scales
    x = x.detach().requires_grad_(True)
    predicted = model(x)
    price_mse = (predicted - price).pow(2).mean()
    (gradient,) = torch.autograd.grad(predicted.sum(), x, create_graph=True)
    gradient_mse = ((gradient - greeks).pow(2) * greek_scales).mean()
    return price_scale * price_mse + weight * gradient_mse, price_mse, gradient_mse


def make_differential_trainer(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device | str,
    weight: float,
    scales: tuple[torch.Tensor, torch.Tensor],
):
    """An Ignite ``Engine`` whose step trains ``model`` on one ``(X, price, greeks)`` batch with
    ``differential_loss`` (``helpers.train.make_trainer`` is its plain twin).

    The step returns ``{"loss", "price_mse", "gradient_mse"}`` as floats.

    Args:
        model: maps ``(batch, 6)`` inputs to ``(batch,)`` prices.
        optimizer: optimises ``model``'s parameters.
        device: where the batches (and ``scales``) are moved before the step.
        weight: the derivative term's weight, ``>= 0``.
        scales: ``label_scales`` of the training set.
    """
    from ignite.engine import Engine

    device = torch.device(device)
    scales = tuple(s.to(device) for s in scales)

    def update(engine: Engine, batch) -> dict[str, float]:
        model.train()
        x, price, greeks = (t.to(device, non_blocking=True) for t in batch)
        optimizer.zero_grad(set_to_none=True)
        total, price_mse, gradient_mse = differential_loss(model, x, price, greeks, weight,
                                                           scales)  # fmt: skip
        total.backward()
        optimizer.step()
        return {"loss": total.item(), "price_mse": price_mse.item(),
                "gradient_mse": gradient_mse.item()}  # fmt: skip

    return Engine(update)
