"""A pricer homogeneous of degree one in ``(K, B, S0)`` (Chapter 9), and the extra inputs it
can give its network (Chapter 10).

Scaling ``K``, ``B`` and ``S0`` by the same factor scales the option's price by it:
``HomogeneousPricer`` builds that in, so the network learns a function of two ratios (bounded in
``[0, 1]``, so no corner of the domain makes them blow up) and three parameters, instead of six
inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..core.domain import DOMAIN_HIGH
from .mlp import check_architecture

ACTIVATIONS = {"elu": nn.ELU, "softplus": nn.Softplus}
"""The module of each activation of ``helpers.networks.mlp.ACTIVATIONS``, for ``nn.Sequential``."""


class HomogeneousPricer(nn.Module):
    """``P(K, B, S0, sigma, mu, r) = (K + S0) g(K / (K + S0), B / (K + S0), sigma, mu, r)``.

    ``g`` is an MLP of ``layers`` hidden layers of width ``hidden``. The price level ``K + S0``
    is zero only when both are, where the price is zero too; the ratios lie in ``[0, 1]``
    (``B < K`` in the article's domain). ``sigma``, ``mu`` and ``r`` are divided by their
    domain's upper bounds. Every Greek stays available by autograd through the wrapper.

    ``extra_inputs`` names further inputs of ``g`` from ``EXTRA_INPUTS``: how far the spot is
    from the barrier and from the strike in standard deviations, and a rough chance of knock-out
    (``extra_input_columns``). Each is a function of ratios of ``(K, B, S0)`` and of ``sigma``,
    so the price stays homogeneous, and each is bounded where a ratio is not.

    Example:
        >>> pricer = HomogeneousPricer(hidden=16, layers=2)
        >>> from helpers.core.domain import ARTICLE_MC_EXAMPLE
        >>> x = torch.tensor(ARTICLE_MC_EXAMPLE[:1], dtype=torch.float32)
        >>> bool(torch.allclose(pricer(2 * x * torch.tensor([1, 1, 1, 0, 0, 0])
        ...                            + x * torch.tensor([0, 0, 0, 1, 1, 1])), 2 * pricer(x)))
        True

    Args:
        hidden: width of each hidden layer, ``>= 1``.
        layers: number of hidden layers, ``>= 1``.
        activation: ``"elu"`` or ``"softplus"`` (``ACTIVATIONS``).
        extra_inputs: names from ``EXTRA_INPUTS``, in the order ``g`` sees them.

    Shape:
        Input ``(..., 6)`` with columns ``helpers.core.domain.COLUMNS``; output ``(...)``, the
        price.

    Raises:
        ValueError: ``hidden`` or ``layers`` below 1, an unknown activation or extra input.
    """

    def __init__(self, hidden: int = 256, layers: int = 4, activation: str = "softplus",
                 extra_inputs: tuple[str, ...] | list[str] = ()) -> None:  # fmt: skip
        super().__init__()
        check_architecture(hidden, layers, activation)
        unknown = [name for name in extra_inputs if name not in EXTRA_INPUTS]
        if unknown:
            raise ValueError(f"unknown extra inputs {unknown}: choose from {list(EXTRA_INPUTS)}")
        self.extra_inputs = tuple(extra_inputs)
        self.register_buffer("rate_scale", torch.tensor(DOMAIN_HIGH[3:], dtype=torch.float32))
        widths = [5 + len(self.extra_inputs)] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in zip(widths, widths[1:], strict=False):
            blocks += [nn.Linear(a, b), ACTIVATIONS[activation]()]
        self.body = nn.Sequential(*blocks, nn.Linear(hidden, 1))

    def network_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """What the network sees of the options ``x`` (shape ``(..., 6)``): ``K / (K + S0)``,
        ``B / (K + S0)``, ``sigma``, ``mu`` and ``r`` over the domain's highest values, then the
        extra inputs; shape ``(..., 5 + len(extra_inputs))``."""
        K, B, S0 = x[..., 0], x[..., 1], x[..., 2]
        level = K + S0
        safe = torch.where(level > 0, level, torch.ones_like(level))
        columns = [(K / safe)[..., None], (B / safe)[..., None], x[..., 3:] / self.rate_scale]
        if self.extra_inputs:
            columns += [extra_input_columns(x, self.extra_inputs)]
        return torch.cat(columns, dim=-1)

    def forward(
        self, x: torch.Tensor, network: Callable[[torch.Tensor], torch.Tensor] | None = None
    ) -> torch.Tensor:
        """The price of options ``x`` (shape ``(..., 6)``), shape ``(...)``; ``network``, if
        given, stands in for ``self.body`` (another engine running the same layers)."""
        level = x[..., 0] + x[..., 2]  # K + S0
        body = self.body if network is None else network
        return level * body(self.network_inputs(x)).squeeze(-1)


MONEYNESS_SIGMA = 0.05
"""Added to ``sigma`` in the distances from the barrier and the strike, so they stay finite at
``sigma = 0``."""

KNOCK_OUT_SIGMA = 0.01
"""Added to the average's volatility in the knock-out chance, for the same reason."""

EXTRA_INPUTS = {
    "barrier_distance": (f"tanh(log(S0 / B) / (4 (sigma + {MONEYNESS_SIGMA})))", "[-1, 1]"),
    "strike_distance": (f"tanh(log(S0 / K) / (4 (sigma + {MONEYNESS_SIGMA})))", "[-1, 1]"),
    "knock_out_chance": (
        f"2 N(-max(log(S0 / B), 0) / (sigma / sqrt(3) + {KNOCK_OUT_SIGMA}))",
        "[0, 1]",
    ),
}
"""The extra inputs ``HomogeneousPricer`` can give its network: ``name: (formula, range)``.
The distances measure ``log(S0 / B)`` and ``log(S0 / K)`` in a quarter of a year's standard
deviation (``MONEYNESS_SIGMA`` added); the knock-out chance is the reflection principle's chance
that a driftless Brownian motion with the average's volatility ``sigma / sqrt(3)`` (plus
``KNOCK_OUT_SIGMA``) falls by ``log(S0 / B)`` within a year: crude, but it changes where the
barrier's cost does."""

SMALLEST_RATIO = 1e-12
"""``S0 / B`` and ``S0 / K`` are clamped to ``[SMALLEST_RATIO, 1 / SMALLEST_RATIO]`` before
their logarithm: a zero barrier or spot gives a distance of +1 or -1, not infinity."""


def extra_input_columns(x: torch.Tensor, names: tuple[str, ...]) -> torch.Tensor:
    """The extra inputs ``names`` (keys of ``EXTRA_INPUTS``) of the options ``x``.

    Args:
        x: options, shape ``(..., 6)``, columns ``helpers.core.domain.COLUMNS``.
        names: which inputs, in order.

    Returns:
        Shape ``(..., len(names))``; unchanged when ``K``, ``B`` and ``S0`` are scaled alike.
    """
    K, B, S0, sigma = x[..., 0], x[..., 1], x[..., 2], x[..., 3]
    width = 4.0 * (sigma + MONEYNESS_SIGMA)
    columns = {
        "barrier_distance": lambda: torch.tanh(_log_ratio(S0, B) / width),
        "strike_distance": lambda: torch.tanh(_log_ratio(S0, K) / width),
        "knock_out_chance": lambda: (
            2.0
            * torch.special.ndtr(
                -_log_ratio(S0, B).clamp_min(0.0) / (sigma / 3.0**0.5 + KNOCK_OUT_SIGMA)
            )
        ),
    }
    return torch.stack([columns[name]() for name in names], dim=-1)


def _log_ratio(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``log(num / den)`` for ``num, den >= 0``, the ratio clamped to
    ``[SMALLEST_RATIO, 1 / SMALLEST_RATIO]``; ``0 / 0`` counts as 1."""
    ratio = num / torch.where(den > 0, den, 1.0)
    ratio = torch.where(den > 0, ratio, torch.where(num > 0, 1.0 / SMALLEST_RATIO, 1.0))
    return ratio.clamp(SMALLEST_RATIO, 1.0 / SMALLEST_RATIO).log()
