"""``price_basket`` on markets perturbed around the shipped one (issue 31): within arbitrage-free
bounds every market gives a finite price, standard error and gradient, and the two engines
(hand adjoint, torch autograd) agree on the same normals; quotes made arbitrageable (a spike in
one smile) give the documented ``FlooredLocalVarianceWarning``, counted in ``floored``, and still
a finite answer. Hypothesis runs derandomized with a few examples a test (the torch engine's
three take about a second each)."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.localvol import Market, load_market, price_basket
from helpers.localvol.dupire import FlooredLocalVarianceWarning

PROPERTY = settings(max_examples=10, derandomize=True, deadline=None, database=None)
SIZES = {"n_paths": 256, "n_steps": 12, "seed": 3}
ENGINE_RTOL = 1e-9
"""The engines draw the same normals and differ only in the order of float64 operations."""


@pytest.fixture(scope="module")
def market() -> Market:
    return load_market()


@st.composite
def perturbation(draw) -> dict:
    """Multipliers and shifts that keep the shipped market free of arbitrage: rates moved by
    at most 2 points, the smiles' levels scaled alike by 0.9-1.1 (their shape kept), the
    correlation shrunk towards the identity (still positive definite), the basket's strike
    and expiry moved within the quoted maturities."""
    unit = st.floats(0.0, 1.0)
    return {
        "rd": draw(st.floats(-0.02, 0.02)),
        "rf": draw(st.floats(-0.02, 0.02)),
        "vol": draw(st.floats(0.9, 1.1)),
        "shrink": draw(unit),
        "strike": draw(st.floats(0.8, 1.2)),
        "expiry": draw(st.floats(0.25, 1.0)),
    }


def perturbed(market: Market, p: dict) -> Market:
    m = market.n_assets
    corr = (1 - p["shrink"]) * market.corr + p["shrink"] * np.eye(m)
    return dataclasses.replace(
        market,
        rd=market.rd + p["rd"],
        rf=market.rf + p["rf"],
        vols=market.vols * p["vol"],
        corr=corr,
        strike=market.strike * p["strike"],
        expiry=p["expiry"],
    )


def assert_finite(result) -> None:
    assert np.isfinite(result.price) and result.price >= 0 and np.isfinite(result.stderr)
    for name in ("spots", "rf", "vols", "corr", "weights", "rd", "strike", "expiry"):
        assert np.isfinite(getattr(result.gradient, name)).all(), name


@PROPERTY
@given(p=perturbation())
def test_perturbed_markets_price_finitely_with_a_finite_gradient(market, p):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = price_basket(perturbed(market, p), **SIZES)
    assert all(issubclass(w.category, FlooredLocalVarianceWarning) for w in caught)
    assert_finite(result)


@settings(PROPERTY, max_examples=3)
@given(p=perturbation())
def test_the_engines_agree_on_perturbed_markets(market, p):
    moved = perturbed(market, p)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FlooredLocalVarianceWarning)
        hand = price_basket(moved, **SIZES, gradient=False)
        tape = price_basket(moved, **SIZES, engine="torch", gradient=False)
    assert tape.price == pytest.approx(hand.price, rel=ENGINE_RTOL, abs=1e-12)


@PROPERTY
@given(
    pair=st.integers(0, 9),
    maturity=st.integers(0, 6),
    strike=st.integers(1, 3),
    spike=st.floats(1.5, 3.0),
)
def test_an_arbitrageable_smile_warns_and_still_prices(market, pair, maturity, strike, spike):
    vols = market.vols.copy()
    vols[pair, maturity, strike] *= spike  # a negative butterfly around that strike
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = price_basket(dataclasses.replace(market, vols=vols), **SIZES)
    floored = [w for w in caught if issubclass(w.category, FlooredLocalVarianceWarning)]
    assert len(floored) == len(caught)  # no other warning
    assert (len(floored) > 0) == (result.floored > 0)
    assert_finite(result)
