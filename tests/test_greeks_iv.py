"""helpers.inference.pricing, helpers.inference.sensitivities and
helpers.inference.implied_volatility on models whose derivatives are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers.core import domain
from helpers.inference import implied_volatility as iv
from helpers.inference import pricing
from helpers.inference import sensitivities as greeks
from helpers.mc import price_options
from helpers.mc.bumps import mc_bumped_greeks, mc_delta_gamma
from helpers.networks.mlp import Net

ARTICLE_NETWORK_EXAMPLE = list(domain.ARTICLE_NETWORK_EXAMPLE)


class Toy(torch.nn.Module):
    """P = S0^2 sigma / 100 + K r + B mu: every derivative is known in closed form."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))  # gives the module a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        K, B, S0, sigma, mu, r = x.unbind(-1)
        return S0**2 * sigma / 100 + K * r + B * mu + self.dummy


def test_greeks_of_a_known_function():
    X = np.array([ARTICLE_NETWORK_EXAMPLE, [50.0, 10.0, 80.0, 0.2, 0.05, 0.1]])
    g = greeks.greeks(Toy(), X)
    K, B, S0, sigma, mu, r = X.T
    np.testing.assert_allclose(g["price"], S0**2 * sigma / 100 + K * r + B * mu, rtol=1e-6)
    np.testing.assert_allclose(g["delta"], 2 * S0 * sigma / 100, rtol=1e-6)
    np.testing.assert_allclose(g["gamma"], 2 * sigma / 100, rtol=1e-6)
    np.testing.assert_allclose(g["vega"], S0**2 / 100, rtol=1e-6)
    np.testing.assert_allclose(g["rho"], K, rtol=1e-6)
    np.testing.assert_allclose(g["dP/dK"], r, rtol=1e-6)
    np.testing.assert_allclose(g["dP/dB"], mu, rtol=1e-6)
    np.testing.assert_allclose(g["dP/dmu"], B, rtol=1e-6)


def test_hessian_is_symmetric_and_matches_the_known_one():
    H = greeks.hessians(Toy(), [ARTICLE_NETWORK_EXAMPLE])[0]
    np.testing.assert_allclose(H, H.T, atol=1e-6)
    S0, sigma = ARTICLE_NETWORK_EXAMPLE[2], ARTICLE_NETWORK_EXAMPLE[3]
    assert H[2, 2] == pytest.approx(2 * sigma / 100, rel=1e-5)
    assert H[2, 3] == pytest.approx(2 * S0 / 100, rel=1e-5)
    assert H[0, 5] == pytest.approx(1.0, rel=1e-5) and H[1, 4] == pytest.approx(1.0, rel=1e-5)


def test_network_gradient_matches_finite_differences():
    torch.manual_seed(0)
    net = Net(hidden=16, layers=2).double()
    X = np.array([ARTICLE_NETWORK_EXAMPLE])
    grad = greeks.gradients(net.float(), X)[0]
    net = net.double()
    x = torch.tensor(X, dtype=torch.float64)
    for j in range(6):
        h = 1e-4 * max(1.0, abs(X[0, j]))
        up, down = x.clone(), x.clone()
        up[0, j] += h
        down[0, j] -= h
        fd = ((net(up) - net(down)) / (2 * h)).item()
        assert grad[j] == pytest.approx(fd, rel=1e-3, abs=1e-5)


def test_greeks_of_a_batch_equal_the_per_option_transforms():
    torch.manual_seed(1)
    net = Net(hidden=32, layers=3)
    X = np.array(
        [
            ARTICLE_NETWORK_EXAMPLE,
            [50.0, 10.0, 80.0, 0.2, 0.05, 0.1],
            [90.0, 0.0, 95.0, 0.3, 0.0, 0.02],
        ]
    )
    g = greeks.greeks(net, X)
    grad, hess = greeks.gradients(net, X), greeks.hessians(net, X)
    for name, column in greeks.FIRST_ORDER.items():
        j = ["K", "B", "S0", "sigma", "mu", "r"].index(column)
        np.testing.assert_allclose(g[name], grad[:, j], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(g["gamma"], hess[:, 2, 2], rtol=1e-4, atol=1e-8)
    np.testing.assert_allclose(g["price"], pricing.price(net, X), rtol=1e-6)


def test_curves_are_one_batched_call_over_spots():
    spots = np.linspace(10, 200, 20)
    c = greeks.curves(Toy(), ARTICLE_NETWORK_EXAMPLE, spots)
    np.testing.assert_allclose(c["delta"], 2 * spots * 0.35 / 100, rtol=1e-6)
    assert c["price"].shape == c["gamma"].shape == (20,)


@pytest.mark.parametrize(
    "column,value,match",
    [(0, 250.0, "K = 250"), (2, -1.0, "S0 = -1"), (3, 0.5, "sigma = 0.5"), (5, 0.3, "r = 0.3"),
     (1, 109.5, "B = 109.5")],
)  # fmt: skip
def test_inputs_outside_the_training_domain_are_refused(column, value, match):
    X = np.array([ARTICLE_NETWORK_EXAMPLE])
    X[0, column] = value
    calls = [lambda: pricing.price(Toy(), X), lambda: greeks.greeks(Toy(), X)]
    if column != 3:  # the implied-volatility solvers ignore the sigma column
        calls.append(lambda: iv.implied_vol(Toy(), X, 5.0))
        calls.append(lambda: iv.article_bisection(Toy(), X, 5.0))
    for call in calls:
        with pytest.raises(ValueError, match=rf"{match}.*outside the training range"):
            call()


def test_outside_inputs_are_allowed_with_a_warning():
    X = np.array([ARTICLE_NETWORK_EXAMPLE])
    X[0, 2] = 260.0
    with pytest.warns(UserWarning, match="extrapolating"):
        p = pricing.price(Toy(), X, allow_outside=True)
    assert np.isfinite(p).all()


def test_forward_stays_a_plain_tensor_function_for_torch_func():
    net = Net(hidden=8, layers=1)
    x = torch.full((3, 6), 500.0)  # far outside the domain: forward does not check
    assert torch.func.vmap(torch.func.jacrev(lambda v: net(v)))(x).shape == (3, 6)


def test_implied_vol_round_trip_on_a_monotone_model():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(50, 150, 50), np.zeros(50), rng.uniform(50, 150, 50),
                         rng.uniform(0.05, 0.4, 50), rng.uniform(0, 0.2, 50),
                         rng.uniform(0, 0.2, 50)])  # fmt: skip
    quotes = pricing.price(Toy(), X)
    vol = iv.implied_vol(Toy(), X, quotes)
    np.testing.assert_allclose(vol, X[:, 3], atol=1e-4)


def test_implied_vol_of_one_option_takes_a_scalar_quote():
    quote = pricing.price(Toy(), [ARTICLE_NETWORK_EXAMPLE])[0]
    assert iv.implied_vol(Toy(), ARTICLE_NETWORK_EXAMPLE, float(quote))[0] == pytest.approx(
        0.35, abs=1e-4
    )


def test_unattainable_quote_is_refused_with_the_range():
    with pytest.raises(ValueError, match=r"quote 1e\+06 for row 0 is outside .* \[0, 0.4\]"):
        iv.implied_vol(Toy(), [ARTICLE_NETWORK_EXAMPLE], 1e6)


def test_quote_count_must_match_rows():
    with pytest.raises(ValueError, match="one quote per row"):
        iv.implied_vol(Toy(), [ARTICLE_NETWORK_EXAMPLE, ARTICLE_NETWORK_EXAMPLE], [1.0])


def test_article_bisection_agrees_with_the_batched_solver():
    quote = float(pricing.price(Toy(), [ARTICLE_NETWORK_EXAMPLE])[0])
    assert iv.article_bisection(Toy(), ARTICLE_NETWORK_EXAMPLE, quote) == pytest.approx(
        0.35, abs=1e-5
    )
    with pytest.raises(ValueError, match="not between"):
        iv.article_bisection(Toy(), ARTICLE_NETWORK_EXAMPLE, 1e6)
    with pytest.raises(ValueError, match="one option"):
        iv.article_bisection(Toy(), [ARTICLE_NETWORK_EXAMPLE, ARTICLE_NETWORK_EXAMPLE], quote)


PEAK = 0.137
"""The volatility at which ``Hump``'s price peaks: between two points of iv's default grid."""


class Hump(torch.nn.Module):
    """P = S0 / 10 * (1 - ((sigma - PEAK) / 0.2)^2): rises, peaks at sigma = PEAK, then falls."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        S0, sigma = x[..., 2], x[..., 3]
        return S0 / 10 * (1 - ((sigma - PEAK) / 0.2) ** 2) + self.dummy


def test_implied_vol_on_a_non_monotone_price_matches_the_quote_with_the_smallest_sigma():
    sigmas = np.array([0.02, 0.1, PEAK, 0.2, 0.3, 0.4])
    X = np.tile(ARTICLE_NETWORK_EXAMPLE, (len(sigmas), 1))
    X[:, 3] = sigmas
    quotes = pricing.price(Hump(), X)
    vol = iv.implied_vol(Hump(), X, quotes, tol=1e-8)  # vega up to 70: 1e-8 keeps P within 1e-6
    X[:, 3] = vol
    # the price round trip holds for every quote, the hump's top (not on the grid) included
    np.testing.assert_allclose(pricing.price(Hump(), X), quotes, atol=1e-5)
    # the price is symmetric about PEAK: past it, the mirror image 2 PEAK - sigma matches first
    mirror = 2 * PEAK - sigmas
    expected = np.where((sigmas > PEAK) & (mirror >= 0), mirror, sigmas)
    np.testing.assert_allclose(vol, expected, atol=1e-4)


ASIAN = [100.0, 0.0, 100.0, 0.2, 0.05, 0.05]
"""An at-the-money Asian call (B = 0, mu = r): no knock-out, so its payoff is Lipschitz in S0."""

STEPS = 50
"""Averaging dates in the finite-difference tests: few, to keep them cheap."""


@pytest.mark.parametrize(
    "h,replications,match",
    [(0.0, 4, "h must be a finite number in"), (-1.0, 4, "h must be a finite number in"),
     (100.0, 4, "h must be a finite number in"), (150.0, 4, "h must be a finite number in"),
     (1.0, 1, r"replications must be an integer in \[2")],
)  # fmt: skip
def test_mc_delta_gamma_refuses_a_bad_bump_or_too_few_replications(h, replications, match):
    with pytest.raises(ValueError, match=match):
        mc_delta_gamma(ASIAN, h, paths=16, replications=replications, n_steps=2)


def pathwise_delta(x: list[float], paths: int, n_steps: int, seed: int) -> tuple[float, float]:
    """Independent reference: the pathwise delta ``exp(-rT) 1{A > K} A / S0`` (Glasserman, 7.2)
    of an Asian call, on paths from NumPy's own generator with the same Euler scheme. Every
    simulated price is proportional to S0, hence so is the average A. Returns (delta, s.e.)."""
    K, _, S0, sigma, mu, r = x
    dt = 1.0 / n_steps
    z = np.random.default_rng(seed).standard_normal((paths, n_steps))
    s = S0 * np.cumprod(1 + mu * dt + sigma * np.sqrt(dt) * z, axis=1)
    average = s.mean(axis=1)
    estimates = np.exp(-r) * (average > K) * average / S0
    return float(estimates.mean()), float(estimates.std(ddof=1) / np.sqrt(paths))


def test_mc_delta_of_an_asian_matches_the_pathwise_delta_within_4_se():
    fd = mc_delta_gamma(ASIAN, 1.0, paths=20_000, replications=8, n_steps=STEPS,
                               backend="numba")  # fmt: skip
    reference, reference_se = pathwise_delta(ASIAN, 200_000, STEPS, seed=5)
    assert abs(fd["delta"] - reference) <= 4 * np.hypot(fd["delta_se"], reference_se)
    assert 0.4 < fd["delta"] < 0.8 and fd["gamma"] > 0  # an at-the-money call, convex in S0


def test_common_random_numbers_shrink_the_delta_standard_error():
    h, paths, replications = 1.0, 4_000, 8
    crn = mc_delta_gamma(ASIAN, h, paths=paths, replications=replications,
                                n_steps=STEPS, backend="numba")  # fmt: skip
    independent = []  # the same estimator with a fresh seed for each of the two prices
    for k in range(replications):
        down, up = (np.array(ASIAN) + [0, 0, bump, 0, 0, 0] for bump in (-h, h))
        p_up = price_options([up], paths, n_steps=STEPS, seed=2 * k, backend="numba").price[0]
        p_down = price_options([down], paths, n_steps=STEPS, seed=2 * k + 1, backend="numba")
        independent.append((p_up - p_down.price[0]) / (2 * h))
    independent_se = np.std(independent, ddof=1) / np.sqrt(replications)
    assert crn["delta_se"] < independent_se / 3


def test_mc_bumped_greeks_use_common_random_numbers():
    # r only discounts: on the same paths, the central difference is exactly -T P.
    x = [110.0, 100.0, 120.0, 0.35, 0.15, 0.05]
    fd = mc_bumped_greeks(x, 500, 2, n_steps=20, seed=4)
    prices = [price_options([x], 500, n_steps=20, seed=s).price[0] for s in (4, 5)]
    assert fd["greeks"]["r"] == pytest.approx(-np.mean(prices), rel=1e-4)
    assert fd["greeks_stderr"]["S0"] > 0 and set(fd["greeks"]) == set(fd["greeks_stderr"])
    with pytest.raises(ValueError, match="replications"):
        mc_bumped_greeks(x, 10, 1)
