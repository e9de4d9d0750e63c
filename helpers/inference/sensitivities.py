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
from .pricing import as_tensor, check_domain, rows_per_slice

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


def _in_slices(function, x: torch.Tensor, rows_per_call: object) -> list:
    """``function`` of each slice of ``x`` of ``rows_per_slice(rows_per_call, ...,
    always=True)`` options, in order: the autograd graph of one slice at a time."""
    rows = rows_per_slice(rows_per_call, x.device, always=True)
    return [function(part) for part in x.split(rows)] if len(x) else [function(x)]


def gradients(
    model: torch.nn.Module, X: object, *, allow_outside: bool = False,
    rows_per_call: int | None = None,
) -> np.ndarray:  # fmt: skip
    """First derivatives of the price in all six inputs.

    Args:
        model, X, allow_outside: as for ``greeks``.
        rows_per_call: options per ``vmap`` call (default
            ``helpers.inference.pricing.ROWS_PER_CALL``), an integer ``>= 1``.

    Returns:
        Array of shape ``(n, 6)``: column ``j`` is ``dP / dX[:, j]``.

    Raises:
        ValueError: inputs outside the training domain (see
            ``helpers.inference.pricing.check_domain``), a quantized model
            (``helpers.inference.export.refuse_quantized_greeks``), ``rows_per_call`` not an
            integer ``>= 1``.
    """
    refuse_quantized_greeks(model)  # a quantized price is piecewise constant: no Greeks
    x = as_tensor(check_domain(X, allow_outside), model)
    parts = _in_slices(lambda part: vmap(jacrev(_scalar_price(model)))(part).detach(), x,
                       rows_per_call)  # fmt: skip
    return torch.cat(parts).cpu().numpy()


def hessians(
    model: torch.nn.Module, X: object, *, allow_outside: bool = False,
    rows_per_call: int | None = None,
) -> np.ndarray:  # fmt: skip
    """Second derivatives of the price: the 6 x 6 Hessian of every option.

    Args:
        model, X, allow_outside: as for ``greeks``.
        rows_per_call: options per ``vmap`` call (default
            ``helpers.inference.pricing.ROWS_PER_CALL``), an integer ``>= 1``.

    Returns:
        Array of shape ``(n, 6, 6)``, symmetric in its last two axes.

    Raises:
        ValueError: as ``gradients``.
    """
    refuse_quantized_greeks(model)  # a quantized price is piecewise constant: no Greeks
    x = as_tensor(check_domain(X, allow_outside), model)
    parts = _in_slices(lambda part: vmap(hessian(_scalar_price(model)))(part).detach(), x,
                       rows_per_call)  # fmt: skip
    return torch.cat(parts).cpu().numpy()


def _greeks_of_slice(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Price, the six first derivatives and gamma of the options ``x``: shape ``(n, 8)``."""
    x = x.detach().requires_grad_(True)
    s0 = COLUMN_INDEX["S0"]
    with torch.enable_grad():  # rows are independent: d(sum of prices)/dx is each row's gradient
        price = model(x)
        (grads,) = torch.autograd.grad(price.sum(), x, create_graph=True)
        (second,) = torch.autograd.grad(grads[:, s0].sum(), x)
    return torch.cat([price.detach()[:, None], grads.detach(), second[:, s0, None]], dim=1)


def greeks(
    model: torch.nn.Module, X: object, *, allow_outside: bool = False,
    rows_per_call: int | None = None,
) -> dict[str, np.ndarray]:  # fmt: skip
    """Price, every first derivative and gamma of a batch, by name.

    A large batch goes through the model ``rows_per_call`` options at a time (each slice's
    autograd graph is freed before the next is built), so memory stays bounded whatever the
    batch: the answer is the same.

    Example:
        >>> g = greeks(model, [ARTICLE_NETWORK_EXAMPLE])  # doctest: +SKIP
        >>> g["delta"], g["gamma"]  # doctest: +SKIP

    Args:
        model: the pricing network (not quantized).
        X: array-like of shape ``(n, 6)`` (or one row of 6), columns
            ``helpers.core.domain.COLUMNS``.
        allow_outside: warn instead of raising for inputs outside the training domain.
        rows_per_call: options per backward pass, an integer ``>= 1`` (default
            ``helpers.inference.pricing.ROWS_PER_CALL``, on every device: about 0.5 GB).

    Returns:
        ``{"price", "dP/dK", "dP/dB", "delta", "vega", "dP/dmu", "rho", "gamma"}``, each of
        shape ``(n,)``; ``rho`` is ``dP/dr`` at fixed ``mu`` (a desk's rho is
        ``g["dP/dmu"] + g["rho"]``).

    Raises:
        ValueError: as ``gradients``.
    """
    refuse_quantized_greeks(model)
    x = as_tensor(check_domain(X, allow_outside), model)
    table = torch.cat(_in_slices(lambda part: _greeks_of_slice(model, part), x, rows_per_call))
    columns = np.ascontiguousarray(table.cpu().numpy().T)  # (8, n): each row one quantity
    out = {"price": columns[0]}
    for name, column in FIRST_ORDER.items():
        out[name] = columns[1 + COLUMN_INDEX[column]]
    out["gamma"] = columns[7]
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

    Raises:
        ValueError: ``base`` not one option, ``spots`` not one axis, or an option outside
            the domain (as ``greeks`` checks it).
    """
    row = np.asarray(base, dtype=np.float64)
    spots = np.asarray(spots, dtype=np.float64)
    if row.shape != (6,) or spots.ndim != 1:
        raise ValueError(
            f"base must be one option (6 inputs) and spots one axis, got shapes {row.shape}"
            f" and {spots.shape}"
        )
    X = np.repeat(row[None, :], len(spots), axis=0)
    X[:, COLUMN_INDEX["S0"]] = spots
    g = greeks(model, X, allow_outside=allow_outside)
    return {"S0": np.asarray(spots), "price": g["price"], "delta": g["delta"], "gamma": g["gamma"]}
