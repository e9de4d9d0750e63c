"""The shipped pricer's architecture (Chapter 10): Levy's closed form plus a network that
corrects it (``helpers.mc.moments.levy_price`` + ``HomogeneousPricer``)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..core.validate import check_integer, check_real
from ..mc.moments import MATURITY, N_STEPS, levy_price
from .homogeneous import HomogeneousPricer


class ResidualPricer(nn.Module):
    """``max(levy_price(x) + HomogeneousPricer(x), 0)``: a network trained on what the closed
    form misses.

    Both parts are homogeneous of degree one in ``(K, B, S0)``, so the sum is; every Greek is
    available by autograd through both. The sum is floored at zero: an option is never worth
    less, and where the correction would go below (a barrier above the spot: the option is all
    but dead) the price is 0 and so is every Greek. The correction's last layer starts at zero,
    so an untrained pricer is the closed form itself.

    Example:
        >>> pricer = ResidualPricer(hidden=16, layers=2)
        >>> from helpers.core.domain import ARTICLE_NETWORK_EXAMPLE
        >>> pricer(torch.tensor([ARTICLE_NETWORK_EXAMPLE])).shape
        torch.Size([1])

    Args:
        hidden, layers, activation, extra_inputs: the correcting network's
            (``HomogeneousPricer``'s).
        T: maturity in years; n_steps: Euler steps of the labels' Monte Carlo.

    Shape:
        Input ``(..., 6)``, columns ``helpers.core.domain.COLUMNS``; output ``(...)``, the price.

    Raises:
        ValueError: ``hidden`` or ``layers`` below 1, an unknown activation, or ``T`` or
            ``n_steps`` not positive (``helpers.core.validate``).
    """

    def __init__(self, hidden: int = 256, layers: int = 4, activation: str = "elu",
                 T: float = MATURITY, n_steps: int = N_STEPS,
                 extra_inputs: tuple[str, ...] | list[str] = ()) -> None:  # fmt: skip
        super().__init__()
        self.T = check_real("T", T, low=0.0, low_open=True, unit="years")
        self.n_steps = check_integer("n_steps", n_steps, low=1)
        self.residual = HomogeneousPricer(hidden=hidden, layers=layers, activation=activation,
                                          extra_inputs=extra_inputs)  # fmt: skip
        last = self.residual.body[-1]
        nn.init.zeros_(last.weight)  # an untrained pricer is the closed form itself
        nn.init.zeros_(last.bias)

    def forward(
        self, x: torch.Tensor, network: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> torch.Tensor:
        """The price of options ``x``; ``network``, if given, runs the correction's layers
        (``HomogeneousPricer.forward``) while the closed form stays in PyTorch."""
        correction = self.residual(x, network)
        return (levy_price(x, self.T, self.n_steps) + correction).clamp_min(0.0)
