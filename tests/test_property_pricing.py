"""Every public function that takes options, over the article's domain, its edges and its
corners (issue 31): each input gives a finite answer, and the engines agree within the
tolerances stated below. Hypothesis runs derandomized (fixed seeds, no example database) with a
few dozen examples a test, on the shipped pricer and its ONNX export (module fixtures).

Tolerances, each measured on this machine with margin:

- ONNX Runtime against PyTorch (the same float32 network, the closed form's CDF in float32):
  ``1e-4 + 1e-6 |price|``; measured at most 2.3e-5 over 40,000 edge-biased options.
- ``price_options``' numba and numpy backends (independent normals, ``n_paths`` each): within
  5 combined standard errors, plus ``1e-4 (1 + price)`` for the float32 arithmetic of the
  deterministic paths (sigma = 0, zero standard error).
- The shipped pricer against Monte Carlo (control variates, 4,000 paths): within 4 standard
  errors plus 0.05, where the barrier is at most 97% of the spot; measured at most 0.02 over
  1,700 edge-biased options. Nearer the barrier the pricer's error reaches 1.5 (the barrier
  within 1% of the spot at a low volatility), which is the model's accuracy, not a property of
  the code: those options are left out here.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.core.domain import BARRIER_FRACTION, DOMAIN_HIGH
from helpers.inference import export, pricing, sensitivities
from helpers.inference import implied_volatility as iv
from helpers.mc import price_options
from helpers.networks.loading import load_pretrained

PROPERTY = settings(
    max_examples=30,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""Fixed seeds and a bounded count: the tests never fail by chance and fit ``make test``."""

ONNX_ATOL, ONNX_RTOL = 1e-4, 1e-6
MC_NET_ATOL, MC_NET_SE, BARRIER_GAP = 0.05, 4.0, 0.97


def _column(high: float) -> st.SearchStrategy[float]:
    """A column's value: its lower end 0, its upper end, or anything between, subnormals and
    numbers near zero included."""
    return st.one_of(st.just(0.0), st.just(high), st.floats(0.0, high, allow_subnormal=True))


@st.composite
def option(draw) -> list[float]:
    """One option of the domain, ``[K, B, S0, sigma, mu, r]``, with ``B = f K``, ``f`` in
    ``[0, 0.99]``."""
    K = draw(_column(DOMAIN_HIGH[0]))
    fraction = draw(_column(BARRIER_FRACTION))
    return [K, fraction * K] + [draw(_column(DOMAIN_HIGH[j])) for j in (2, 3, 4, 5)]


options = st.lists(option(), min_size=1, max_size=8).map(np.array)
"""A batch of 1 to 8 options of the domain, shape ``(n, 6)``."""


def corners() -> np.ndarray:
    """The domain's 64 corners: each column at 0 or its upper end (``B`` at 0 or 0.99 K)."""
    rows = []
    for bits in itertools.product((0, 1), repeat=6):
        row = [DOMAIN_HIGH[j] * b for j, b in enumerate(bits)]
        row[1] = BARRIER_FRACTION * row[0] * bits[1]
        rows.append(row)
    return np.array(rows)


@pytest.fixture(scope="module")
def shipped() -> torch.nn.Module:
    return load_pretrained()


@pytest.fixture(scope="module")
def onnx_pricer(tmp_path_factory, shipped) -> export.OnnxPricer:
    path = export.export_onnx(shipped, tmp_path_factory.mktemp("onnx") / "pricer.onnx")
    return export.OnnxPricer(path, threads=1)


# finding 1: the exported graph at the domain's edges -------------------------------------------


def test_onnx_matches_pytorch_on_all_64_corners(onnx_pricer, shipped):
    # the export clamped m2 and m1^2 to the smallest float64, written as a float32 constant:
    # 0; at S0 = 0 the graph took log(0 / 0), NaN on the 32 corners with S0 = 0
    X = corners()
    ours, reference = onnx_pricer.price(X), pricing.price(shipped, X)
    assert np.isfinite(ours).all() and np.isfinite(reference).all()
    np.testing.assert_allclose(ours, reference, rtol=ONNX_RTOL, atol=ONNX_ATOL)
    np.testing.assert_array_equal(ours[X[:, 2] == 0], 0.0)  # no spot, no average, no payoff


def test_onnx_prices_the_issues_example_at_zero_spot(onnx_pricer, shipped):
    row = [110.0, 100.0, 0.0, 0.35, 0.15, 0.05]
    assert onnx_pricer.price([row])[0] == 0.0 == pricing.price(shipped, [row])[0]


@PROPERTY
@given(X=options)
def test_onnx_matches_pytorch_on_the_domain_and_its_edges(onnx_pricer, shipped, X):
    ours, reference = onnx_pricer.price(X), pricing.price(shipped, X)
    assert np.isfinite(ours).all()
    np.testing.assert_allclose(ours, reference, rtol=ONNX_RTOL, atol=ONNX_ATOL)


# the network's prices and Greeks --------------------------------------------------------------


@PROPERTY
@given(X=options)
def test_network_prices_and_greeks_are_finite_on_the_domain(shipped, X):
    prices = pricing.price(shipped, X)
    assert np.isfinite(prices).all() and (prices >= 0).all()
    g = sensitivities.greeks(shipped, X)
    for name, values in g.items():
        assert values.shape == (len(X),) and np.isfinite(values).all(), name
    np.testing.assert_allclose(g["price"], prices, rtol=1e-6, atol=1e-5)


def test_greeks_are_finite_at_every_corner(shipped):
    g = sensitivities.greeks(shipped, corners())
    assert all(np.isfinite(values).all() for values in g.values())
    assert np.isfinite(sensitivities.hessians(shipped, corners())).all()


def test_gamma_at_zero_drift_is_finite_and_the_limit_of_small_drifts(shipped):
    # d^2/dS0^2 went through autograd's a ** k at a = log(1 + mu dt) = 0: 0 * inf, NaN
    X = np.array([[100.0, 25.0, 100.0, 0.2, 0.0, 0.1], [59.9, 25.1, 5.66, 0.05, 0.0, 1e-7]])
    at_zero = sensitivities.greeks(shipped, X)
    nearby = sensitivities.greeks(shipped, X + np.array([0, 0, 0, 0, 1e-5, 0]))
    for name in at_zero:
        assert np.isfinite(at_zero[name]).all(), name
        np.testing.assert_allclose(at_zero[name], nearby[name], rtol=1e-3, atol=1e-4)


def test_inputs_below_the_smallest_count_as_zero(shipped, onnx_pricer):
    # a strike or barrier of 1e-30 squared underflows float32: its Greeks were NaN
    tiny = np.array([[1e-30, 9.9e-31, 108.7, 0.37, 0.16, 5e-4],
                     [165.5, 1e-40, 109.9, 0.01, 0.15, 0.1]])  # fmt: skip
    zero = np.where(tiny < 1e-20, 0.0, tiny)
    np.testing.assert_array_equal(pricing.check_domain(tiny), pricing.check_domain(zero))
    g = sensitivities.greeks(shipped, tiny)
    assert all(np.isfinite(values).all() for values in g.values())
    np.testing.assert_array_equal(onnx_pricer.price(tiny), onnx_pricer.price(zero))


def test_float32_options_at_the_upper_edges_are_inside_the_domain(shipped):
    # np.float32(0.4) is 0.4000000059604645 and np.float32(0.99 * 110) exceeds 0.99 * 110
    X = np.array([[110.0, 0.99 * 110.0, 200.0, 0.4, 0.2, 0.2]], dtype=np.float32)
    assert np.isfinite(pricing.price(shipped, X)).all()
    with pytest.raises(ValueError, match="sigma = 0.4001"):
        pricing.price(shipped, [[110.0, 50.0, 100.0, 0.4001, 0.1, 0.1]])


# finding 5: greeks in slices -------------------------------------------------------------------


class Counting(torch.nn.Module):
    """The shipped pricer, counting its calls and the largest batch it was given."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.calls, self.largest = model, 0, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        self.largest = max(self.largest, len(x))
        return self.model(x)


def test_greeks_of_a_large_batch_are_computed_in_slices_with_the_same_answer(shipped, monkeypatch):
    X = np.random.default_rng(3).random((300, 6)) * [200, 0, 200, 0.4, 0.2, 0.2]
    whole = sensitivities.greeks(shipped, X)  # 300 < ROWS_PER_CALL: one pass
    counting = Counting(shipped)
    monkeypatch.setattr(pricing, "ROWS_PER_CALL", 64)  # the default slice, made small
    sliced = sensitivities.greeks(counting, X)
    assert (counting.calls, counting.largest) == (5, 64)
    for name in whole:  # the same numbers up to float32 rounding of other batch sizes
        np.testing.assert_allclose(sliced[name], whole[name], rtol=1e-5, atol=1e-5)
    counting.calls = counting.largest = 0
    sensitivities.greeks(counting, X, rows_per_call=100)
    assert (counting.calls, counting.largest) == (3, 100)


def test_implied_vol_and_gradients_go_through_the_model_in_slices(shipped, monkeypatch):
    X = np.random.default_rng(4).random((40, 6)) * [200, 0, 200, 0.4, 0.2, 0.2]
    quotes = pricing.price(shipped, X)
    expected = iv.implied_vol(shipped, X, quotes, unattainable="nan")
    counting = Counting(shipped)
    monkeypatch.setattr(pricing, "ROWS_PER_CALL", 128)
    got = iv.implied_vol(counting, X, quotes, unattainable="nan")  # 40 x 41 grid points
    assert counting.largest <= 128
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert sensitivities.gradients(shipped, X[:5], rows_per_call=2).shape == (5, 6)


# implied volatility ---------------------------------------------------------------------------


@settings(PROPERTY, max_examples=20)
@given(X=options, fraction=st.floats(0.0, 1.0))
def test_implied_vol_recovers_a_quote_made_on_the_domain(shipped, X, fraction):
    X = X.copy()
    X[:, 3] = fraction * DOMAIN_HIGH[3]
    quotes = pricing.price(shipped, X)
    sigma = iv.implied_vol(shipped, X, quotes, tol=1e-7)
    assert np.isfinite(sigma).all() and (sigma >= 0).all() and (sigma <= DOMAIN_HIGH[3]).all()
    X[:, 3] = sigma  # the price at the answer is the quote, up to float32's rounding
    np.testing.assert_allclose(pricing.price(shipped, X), quotes, rtol=1e-4, atol=1e-3)


@settings(PROPERTY, max_examples=15)
@given(X=options, quote=st.floats(-1e3, 1e3))
def test_implied_vol_answers_or_names_the_unattainable_quote(shipped, X, quote):
    quotes = np.full(len(X), quote)
    sigma = iv.implied_vol(shipped, X, quotes, unattainable="nan")
    solved = ~np.isnan(sigma)
    assert ((sigma[solved] >= 0) & (sigma[solved] <= DOMAIN_HIGH[3])).all()
    if not solved.all():  # the default refuses the first such quote, naming it and the range
        row = X[~solved][:1]
        with pytest.raises(ValueError, match=rf"quote {quote:g} for row 0 is outside the prices"):
            iv.implied_vol(shipped, row, quote)


# Monte Carlo ----------------------------------------------------------------------------------


@settings(PROPERTY, max_examples=20)
@given(X=options)
def test_monte_carlo_backends_agree_on_the_domain(X):
    numba = price_options(X, 64, n_steps=24, seed=5, backend="numba")
    numpy = price_options(X, 64, n_steps=24, seed=5, backend="numpy")
    for result in (numba, numpy):
        assert np.isfinite(result.price).all() and (result.price >= 0).all()
        assert np.isfinite(result.stderr).all()
    spread = 5 * np.hypot(numba.stderr, numpy.stderr) + 1e-4 * (1 + numba.price)
    assert (np.abs(numba.price - numpy.price) <= spread).all()


@settings(PROPERTY, max_examples=15)
@given(X=options)
def test_network_agrees_with_monte_carlo_away_from_the_barrier(shipped, X):
    X = X[(X[:, 1] <= BARRIER_GAP * X[:, 2])]
    if len(X) == 0:
        return
    mc = price_options(X, 4_000, seed=9, backend="numba", method="control")
    network = pricing.price(shipped, X)
    assert (np.abs(network - mc.price) <= MC_NET_SE * mc.stderr + MC_NET_ATOL).all()
