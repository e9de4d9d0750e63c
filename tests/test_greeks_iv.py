"""helpers.pricing, helpers.greeks and helpers.iv on models whose derivatives are known."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import greeks, iv, pricing
from helpers.model import Net

ARTICLE_POINT = [110.0, 100.0, 120.0, 0.35, 0.1, 0.05]


class Toy(torch.nn.Module):
    """P = S0^2 sigma / 100 + K r + B mu: every derivative is known in closed form."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))  # gives the module a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        K, B, S0, sigma, mu, r = x.unbind(-1)
        return S0**2 * sigma / 100 + K * r + B * mu + self.dummy


def test_greeks_of_a_known_function():
    X = np.array([ARTICLE_POINT, [50.0, 10.0, 80.0, 0.2, 0.05, 0.1]])
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
    H = greeks.hessians(Toy(), [ARTICLE_POINT])[0]
    np.testing.assert_allclose(H, H.T, atol=1e-6)
    S0, sigma = ARTICLE_POINT[2], ARTICLE_POINT[3]
    assert H[2, 2] == pytest.approx(2 * sigma / 100, rel=1e-5)
    assert H[2, 3] == pytest.approx(2 * S0 / 100, rel=1e-5)
    assert H[0, 5] == pytest.approx(1.0, rel=1e-5) and H[1, 4] == pytest.approx(1.0, rel=1e-5)


def test_network_gradient_matches_finite_differences():
    torch.manual_seed(0)
    net = Net(hidden=16, layers=2).double()
    X = np.array([ARTICLE_POINT])
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


def test_curves_are_one_batched_call_over_spots():
    spots = np.linspace(10, 200, 20)
    c = greeks.curves(Toy(), ARTICLE_POINT, spots)
    np.testing.assert_allclose(c["delta"], 2 * spots * 0.35 / 100, rtol=1e-6)
    assert c["price"].shape == c["gamma"].shape == (20,)


@pytest.mark.parametrize(
    "column,value,match",
    [(0, 250.0, "K = 250"), (2, -1.0, "S0 = -1"), (3, 0.5, "sigma = 0.5"), (5, 0.3, "r = 0.3"),
     (1, 109.5, "B = 109.5")],
)  # fmt: skip
def test_inputs_outside_the_training_domain_are_refused(column, value, match):
    X = np.array([ARTICLE_POINT])
    X[0, column] = value
    calls = [lambda: pricing.price(Toy(), X), lambda: greeks.greeks(Toy(), X)]
    if column != 3:  # implied_vol ignores the sigma column
        calls.append(lambda: iv.implied_vol(Toy(), X, 5.0))
    for call in calls:
        with pytest.raises(ValueError, match=rf"{match}.*outside the training range"):
            call()


def test_outside_inputs_are_allowed_with_a_warning():
    X = np.array([ARTICLE_POINT])
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
    quote = pricing.price(Toy(), [ARTICLE_POINT])[0]
    assert iv.implied_vol(Toy(), ARTICLE_POINT, float(quote))[0] == pytest.approx(0.35, abs=1e-4)


def test_unattainable_quote_is_refused_with_the_range():
    with pytest.raises(ValueError, match=r"quote 1e\+06 for row 0 is outside .* \[0, 0.4\]"):
        iv.implied_vol(Toy(), [ARTICLE_POINT], 1e6)


def test_quote_count_must_match_rows():
    with pytest.raises(ValueError, match="one quote per row"):
        iv.implied_vol(Toy(), [ARTICLE_POINT, ARTICLE_POINT], [1.0])


def test_article_bisection_agrees_with_the_batched_solver():
    quote = float(pricing.price(Toy(), [ARTICLE_POINT])[0])
    assert iv.article_bisection(Toy(), ARTICLE_POINT, quote) == pytest.approx(0.35, abs=1e-5)
    with pytest.raises(ValueError, match="not between"):
        iv.article_bisection(Toy(), ARTICLE_POINT, 1e6)
