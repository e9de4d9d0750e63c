"""The FX basket under local volatility (Chapter 11): market, splines, Dupire, Monte Carlo and
the whole gradient, checked against QuantLib, finite differences and torch autograd."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from scipy.interpolate import CubicSpline

from helpers.localvol import Market, check_market, load_market, price_basket
from helpers.localvol.basket import autograd_tape_bytes
from helpers.localvol.checks import (
    engines_agree,
    finite_difference_check,
    garman_kohlhagen_check,
    quantlib_local_vol_check,
)
from helpers.localvol.dupire import FlooredLocalVarianceWarning, local_vol_table
from helpers.localvol.market import MARKET_FILE, PAIR_PARAMETERS, select_pairs, ssvi_total_variance
from helpers.localvol.splines import evaluate_spline, natural_spline, natural_spline_uniform


@pytest.fixture(scope="module")
def market() -> Market:
    return load_market()


def test_natural_splines_match_scipy_values_and_two_derivatives():
    rng = np.random.default_rng(0)
    x = np.sort(rng.random(7))
    y = rng.standard_normal((3, 7))
    at = np.linspace(x[0], x[-1], 31)
    M = natural_spline(torch.tensor(x), torch.tensor(y))
    ours = evaluate_spline(torch.tensor(x), torch.tensor(y), M, torch.tensor(at).expand(3, 31))
    reference = CubicSpline(x, y, axis=1, bc_type="natural")
    for order, values in enumerate(ours):
        np.testing.assert_allclose(values.numpy(), reference(at, order), atol=1e-10)
    uniform = torch.linspace(0, 2, 9, dtype=torch.float64)
    values = torch.tensor(rng.standard_normal((4, 9)))
    np.testing.assert_allclose(natural_spline_uniform(torch.tensor(0.25), values).numpy(),
                               natural_spline(uniform, values).numpy(), atol=1e-12)  # fmt: skip


def test_shipped_market_has_the_stated_shapes_and_a_repaired_correlation(market):
    assert market.spots.shape == market.rf.shape == market.weights.shape == (10,)
    assert market.strikes.shape == market.vols.shape == (10, 7, 5)
    assert market.maturities[0] == pytest.approx(1 / 12) and market.maturities[-1] == 1.0
    record = json.loads(MARKET_FILE.read_text())
    parameters = record["parameters"]
    assert parameters["min_eigenvalue_estimated"] < 0 < parameters["min_eigenvalue_repaired"]
    estimated = np.array(parameters["corr_estimated"])
    assert np.abs(estimated - market.corr).max() < 0.05  # the repair is a small change
    assert record["command"] == "python -m helpers.localvol.market --out data"


def test_ssvi_parameters_are_free_of_static_arbitrage():
    k = np.linspace(-1.5, 1.5, 3001)
    h = k[1] - k[0]
    thetas = np.linspace(0.0005, 0.05, 40)
    for *_, rho, eta in PAIR_PARAMETERS.values():
        assert eta * (1 + abs(rho)) <= 2
        w = np.stack([ssvi_total_variance(k, theta, rho, eta, 0.5) for theta in thetas])
        assert (np.diff(w, axis=0) > 0).all()  # calendar: w rises with theta at every k
        w1 = np.gradient(w, h, axis=1)
        w2 = np.gradient(w1, h, axis=1)
        durrleman = (1 - k * w1 / (2 * w)) ** 2 - w1**2 / 4 * (1 / w + 0.25) + w2 / 2
        assert durrleman[:, 2:-2].min() > 0  # butterfly: a positive density


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: {"vols": np.where(np.arange(5) == 2, np.nan, m.vols)}, "vols.*non-finite"),
        (lambda m: {"vols": m.vols * np.where(np.arange(5) == 1, -1, 1)}, "vols must be pos"),
        (lambda m: {"maturities": m.maturities[::-1].copy()}, "maturities must increase"),
        (lambda m: {"corr": m.corr[:, :9]}, r"corr must have shape \(10, 10\)"),
        (lambda m: {"corr": m.corr + np.triu(np.full((10, 10), 0.01), 1)}, "symmetric"),
        (lambda m: {"rf": m.rf[:9]}, r"rf must have shape \(10,\)"),
        (lambda m: {"strikes": m.strikes[..., ::-1].copy()}, "strikes must increase"),
        (lambda m: {"vols": m.vols[:, :, :4]}, "must match"),
    ],
)
def test_bad_markets_are_refused_naming_the_input_and_position(market, change, message):
    with pytest.raises(ValueError, match=message):
        check_market(dataclasses.replace(market, **change(market)))


def test_flat_quotes_give_a_flat_local_volatility(market):
    flat = dataclasses.replace(market, vols=np.full_like(market.vols, 0.1))
    x = {k: torch.as_tensor(np.asarray(getattr(flat, k))) for k in
         ("strikes", "vols", "maturities", "spots", "rf")}  # fmt: skip
    table = local_vol_table(**x, rd=torch.tensor(flat.rd), expiry=torch.tensor(1.0), n_steps=24)
    assert table.floored == 0
    np.testing.assert_allclose(table.coefficients[..., 0].numpy(), 0.1, rtol=1e-12)
    np.testing.assert_allclose(table.coefficients[..., 1:].numpy(), 0.0, atol=1e-12)


@pytest.mark.parametrize("pair", [0, 9])
def test_local_vol_matches_quantlib_local_vol_surface_inside_the_quotes(market, pair):
    """QuantLib's LocalVolSurface on a BlackVarianceSurface sampled from the course's implied
    surface (daily times, 200 strikes, bicubic): the two Dupire implementations agree to 0.1%
    between the 25 and 75 delta strikes, half-way between maturities. What is left is
    QuantLib's bicubic interpolation of the samples and its finite differences."""
    rows = quantlib_local_vol_check(market, pair)
    assert len(rows) == 25
    assert max(abs(row[-1]) for row in rows) < 1e-3


def test_one_pair_with_flat_quotes_is_garman_kohlhagen_price_delta_and_vega(market):
    """Log-Euler steps are exact for a constant volatility, so the Euler allowance is zero:
    the price, delta and vega must match QuantLib's analytic engine within 4 standard errors
    (the gradient's from batch means over 8 seeds)."""
    for name, _, se, _, z in garman_kohlhagen_check(market, 0, 0.1):
        assert se > 0 and abs(z) <= 4, name


def test_hand_adjoint_equals_torch_autograd_on_the_same_normals(market):
    small = dataclasses.replace(select_pairs(market, [0, 1, 2]), strike=0.3)
    differences = engines_agree(small)
    assert len(differences) == 11
    assert max(differences.values()) <= 1e-11, differences


def test_gradient_matches_central_finite_differences_within_4_se(market):
    """Twelve entries across every kind of input, each against a central difference with
    common random numbers; the difference's standard error is that of the per-path
    differences."""
    n_paths, n_steps, seed = 3_000, 24, 11
    result = price_basket(market, n_paths=n_paths, n_steps=n_steps, seed=seed)
    rows = finite_difference_check(market, result.gradient, n_paths, n_steps, seed)
    assert {row[0] for row in rows} == {f.name for f in dataclasses.fields(Market)}
    for name, where, _, _, se, z in rows:
        assert se > 0 and abs(z) <= 4, (name, where)


def test_an_arbitrage_in_the_quotes_floors_local_variance_with_a_counted_warning(market):
    spiked = market.vols.copy()
    spiked[0, 2, 2] *= 1.6  # a spike at one strike: a negative butterfly around it
    with pytest.warns(FlooredLocalVarianceWarning, match="grid points: floored"):
        result = price_basket(dataclasses.replace(market, vols=spiked), n_paths=200,
                              n_steps=60, gradient=False)  # fmt: skip
    assert result.floored > 0


def test_bad_sizes_and_engines_are_refused(market):
    with pytest.raises(ValueError, match="n_paths"):
        price_basket(market, n_paths=1)
    with pytest.raises(ValueError, match="unknown engine"):
        price_basket(market, n_paths=10, engine="bumps")
    with pytest.raises(ValueError, match="runs on the CPU"):
        price_basket(market, n_paths=10, engine="adjoint", device="cuda")


def test_checkpointing_keeps_a_fraction_of_the_tape(market):
    kept = autograd_tape_bytes(market, 2_000, 120, block_steps=30)
    full = autograd_tape_bytes(market, 2_000, 120, checkpointed=False)
    assert kept < full / 3


@pytest.mark.gpu
def test_torch_engine_on_cuda_matches_the_cpu(market):
    cpu = price_basket(market, n_paths=2_000, n_steps=60, engine="torch")
    gpu = price_basket(market, n_paths=2_000, n_steps=60, engine="torch", device="cuda")
    assert gpu.price == pytest.approx(cpu.price, rel=1e-10)
    np.testing.assert_allclose(gpu.gradient.vols, cpu.gradient.vols, rtol=1e-8, atol=1e-14)


def test_docstring_examples_hold():
    import doctest

    from helpers.localvol import basket, market, splines

    for module in (basket, market, splines):
        failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert tried > 0 and failures == 0, module.__name__


def test_hand_adjoint_does_not_depend_on_the_thread_count(market):
    import numba

    threads = numba.get_num_threads()
    results = []
    for count in sorted({1, threads}):
        numba.set_num_threads(count)
        try:
            results.append(price_basket(market, n_paths=300, n_steps=24, seed=5))
        finally:
            numba.set_num_threads(threads)
    first, last = results[0], results[-1]
    assert first.price == last.price
    assert np.array_equal(first.gradient.vols, last.gradient.vols)
    assert np.array_equal(first.gradient.corr, last.gradient.corr)
