"""Greeks of the network's price by automatic differentiation, for a batch in one call.

The network is a smooth function of its six inputs, so its derivatives are exact derivatives of
the learned price (not finite differences). ``torch.func`` gives per-option derivatives of a
batch in one vectorised call: ``vmap(jacrev(f))`` for the gradient, ``vmap(hessian(f))`` for the
6 x 6 Hessian. ``greeks``, which needs the gradient and one second derivative, uses plain reverse
mode on the batch's summed price instead: the network prices each row on its own, so the
gradient of the sum is every row's gradient, and a second backward pass of the delta column
gives every gamma; the answer is the same, at about a third of the time on a CPU (the
``torch.func`` transforms cost ~20 ms per call however small the batch: the pricing service's
``/greeks`` measures it).

Names, the course's (its Notation page): ``delta = dP/dS0``, ``gamma = d2P/dS0^2``,
``vega = dP/dsigma``, ``rho = dP/dr`` at fixed ``mu``, and ``dP/dK``, ``dP/dB``, ``dP/dmu``. The
course's rho is the discount rate's sensitivity alone; a desk's rho moves drift and discount
together (under the risk-neutral measure ``mu = r``), which is ``dP/dmu + dP/dr``. Units: vega
and rho are per unit of volatility and rate (per 100 percentage points); divide by 100 for "per
point".
"""

from __future__ import annotations

import numpy as np
import torch
from torch.func import hessian, jacrev, vmap

from ..core.domain import COLUMN_INDEX
from .export import refuse_quantized_greeks
from .pricing import as_tensor, check_domain

FIRST_ORDER = {
    "dP/dK": "K",
    "dP/dB": "B",
    "delta": "S0",
    "vega": "sigma",
    "dP/dmu": "mu",
    "rho": "r",
}
"""Name of each first derivative, and the input it is taken in."""


def _scalar_price(model: torch.nn.Module):
    return lambda x: model(x.unsqueeze(0)).squeeze(0)


def gradients(model: torch.nn.Module, X: object, *, allow_outside: bool = False) -> np.ndarray:
    """First derivatives of the price in all six inputs.

    Returns:
        Array of shape ``(n, 6)``: column ``j`` is ``dP / dX[:, j]``.

    Raises:
        ValueError: inputs outside the training domain (see
        ``helpers.inference.pricing.check_domain``),
            or a quantized model (``helpers.inference.export.refuse_quantized_greeks``).
    """
    refuse_quantized_greeks(model)  # a quantized price is piecewise constant: no Greeks
    x = as_tensor(check_domain(X, allow_outside), model)
    return vmap(jacrev(_scalar_price(model)))(x).detach().cpu().numpy()


def hessians(model: torch.nn.Module, X: object, *, allow_outside: bool = False) -> np.ndarray:
    """Second derivatives of the price: the 6 x 6 Hessian of every option.

    Returns:
        Array of shape ``(n, 6, 6)``, symmetric in its last two axes.
    """
    refuse_quantized_greeks(model)  # a quantized price is piecewise constant: no Greeks
    x = as_tensor(check_domain(X, allow_outside), model)
    return vmap(hessian(_scalar_price(model)))(x).detach().cpu().numpy()


def greeks(
    model: torch.nn.Module, X: object, *, allow_outside: bool = False
) -> dict[str, np.ndarray]:
    """Price, every first derivative and gamma of a batch, by name.

    Example:
        >>> g = greeks(model, [ARTICLE_NETWORK_EXAMPLE])  # doctest: +SKIP
        >>> g["delta"], g["gamma"]  # doctest: +SKIP

    Returns:
        ``{"price", "dP/dK", "dP/dB", "delta", "vega", "dP/dmu", "rho", "gamma"}``, each of
        shape ``(n,)``; ``rho`` is ``dP/dr`` at fixed ``mu`` (a desk's rho is
        ``g["dP/dmu"] + g["rho"]``).
    """
    refuse_quantized_greeks(model)
    X = check_domain(X, allow_outside)
    x = as_tensor(X, model).detach().requires_grad_(True)
    s0 = COLUMN_INDEX["S0"]
    with torch.enable_grad():  # rows are independent: d(sum of prices)/dx is each row's gradient
        price = model(x)
        (grads,) = torch.autograd.grad(price.sum(), x, create_graph=True)
        (second,) = torch.autograd.grad(grads[:, s0].sum(), x)
    out = {"price": price.detach().cpu().numpy()}
    for name, column in FIRST_ORDER.items():
        out[name] = grads[:, COLUMN_INDEX[column]].detach().cpu().numpy()
    out["gamma"] = second[:, s0].cpu().numpy()
    return out


def curves(
    model: torch.nn.Module, base: object, spots: np.ndarray, *, allow_outside: bool = False
) -> dict[str, np.ndarray]:
    """Price, delta and gamma against the spot, all spots in one batched call.

    Args:
        model: the pricing network.
        base: one option's six inputs; its S0 is replaced by each of ``spots``.
        spots: spot prices, shape ``(m,)``.

    Returns:
        ``{"S0", "price", "delta", "gamma"}``, each of shape ``(m,)``.
    """
    row = np.asarray(base, dtype=np.float64).reshape(6)
    X = np.repeat(row[None, :], len(spots), axis=0)
    X[:, COLUMN_INDEX["S0"]] = spots
    g = greeks(model, X, allow_outside=allow_outside)
    return {"S0": np.asarray(spots), "price": g["price"], "delta": g["delta"], "gamma": g["gamma"]}
