"""helpers.mc.moments: the Euler average's exact moments, Levy's closed form, the residual
pricer."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core.domain import sample_options
from helpers.mc import price_options
from helpers.mc.moments import average_moments, levy_price
from helpers.networks.residual import ResidualPricer


def brute_force_moments(S0: float, sigma: float, mu: float, T: float, n: int):
    """E[A] and E[A^2] of the Euler average by the double sum over steps, term by term."""
    dt = T / n
    q, g = 1 + mu * dt, (1 + mu * dt) ** 2 + sigma**2 * dt
    i = np.arange(1, n + 1)
    second = g ** np.minimum.outer(i, i) * q ** np.abs(np.subtract.outer(i, i))
    return S0 * np.mean(q**i), S0**2 * second.mean()


@pytest.mark.parametrize("n_steps", [1, 12, 365])
@pytest.mark.parametrize("sigma, mu", [(0.4, 0.2), (0.0, 0.0), (0.15, 0.0), (0.0, 0.07)])
def test_average_moments_are_the_exact_sums_over_the_steps(n_steps, sigma, mu):
    m1, m2 = average_moments(*(torch.tensor(v, dtype=torch.float64) for v in (80.0, sigma, mu)),
                             T=1.0, n_steps=n_steps)  # fmt: skip
    e1, e2 = brute_force_moments(80.0, sigma, mu, 1.0, n_steps)
    assert float(m1) == pytest.approx(e1, rel=1e-13)
    assert float(m2) == pytest.approx(e2, rel=1e-13)


def test_levy_price_is_exact_for_a_linear_payoff_and_a_deterministic_path():
    x = torch.tensor([[0.0, 0.0, 150.0, 0.3, 0.1, 0.05], [90.0, 0.0, 100.0, 0.0, 0.1, 0.05],
                      [120.0, 0.0, 100.0, 0.0, 0.1, 0.05]], dtype=torch.float64)  # fmt: skip
    m1, _ = average_moments(x[:, 2], x[:, 3], x[:, 4])
    expected = torch.exp(-x[:, 5]) * (m1 - x[:, 0]).clamp_min(0)
    torch.testing.assert_close(levy_price(x), expected, rtol=1e-12, atol=1e-12)


def test_levy_price_is_within_two_percent_of_monte_carlo_without_a_barrier():
    X = np.array([[110.0, 0.0, 120.0, 0.35, 0.1, 0.05], [100.0, 0.0, 100.0, 0.4, 0.2, 0.0],
                  [60.0, 0.0, 50.0, 0.2, 0.05, 0.1]])  # fmt: skip
    mc = price_options(X, 200_000, seed=11)
    levy = levy_price(torch.as_tensor(X)).numpy()
    assert np.all(np.abs(levy - mc.price) <= 0.02 * mc.price + 4 * mc.stderr)


def test_levy_price_has_finite_derivatives_at_the_domains_edges():
    x = torch.tensor([[0.0, 0.0, 100.0, 0.0, 0.0, 0.0], [100.0, 50.0, 100.0, 0.0, 0.0, 0.2],
                      [200.0, 190.0, 1.0, 0.4, 0.2, 0.2]], requires_grad=True)  # fmt: skip
    (grad,) = torch.autograd.grad(levy_price(x).sum(), x)
    assert torch.isfinite(grad).all()


def test_an_untrained_residual_pricer_is_the_closed_form_and_homogeneous():
    x = torch.as_tensor(sample_options(32, np.random.default_rng(3), dtype=np.float64))
    pricer = ResidualPricer(hidden=16, layers=2).double()
    torch.testing.assert_close(pricer(x), levy_price(x))
    torch.nn.init.normal_(pricer.residual.body[-1].weight)  # a correction that is not zero
    scaled = x.clone()
    scaled[:, :3] *= 2.5
    torch.testing.assert_close(pricer(scaled), 2.5 * pricer(x), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("extra", [(), ("barrier_distance", "strike_distance", "knock_out_chance")])
def test_residual_pricer_greeks_by_autograd_match_finite_differences(extra):
    torch.manual_seed(2)
    pricer = ResidualPricer(hidden=16, layers=2, extra_inputs=extra).double()
    torch.nn.init.normal_(pricer.residual.body[-1].weight, std=0.1)
    x = torch.tensor([[110.0, 100.0, 120.0, 0.35, 0.1, 0.05]], dtype=torch.float64,
                     requires_grad=True)  # fmt: skip
    (grad,) = torch.autograd.grad(pricer(x).sum(), x)
    h = 1e-5
    for j in range(6):
        bump = torch.zeros_like(x)
        bump[0, j] = h
        with torch.no_grad():
            fd = (pricer(x + bump) - pricer(x - bump)) / (2 * h)
        assert float(grad[0, j]) == pytest.approx(float(fd), rel=1e-6, abs=1e-8)


def test_a_residual_pricer_never_prices_below_zero():
    pricer = ResidualPricer(hidden=8, layers=1)
    torch.nn.init.constant_(pricer.residual.body[-1].bias, -10.0)  # a correction far below
    x = torch.tensor([[110.0, 100.0, 120.0, 0.35, 0.1, 0.05]], requires_grad=True)
    price = pricer(x)
    (grad,) = torch.autograd.grad(price.sum(), x)
    assert float(price.detach()) == 0.0 and torch.all(grad == 0)
