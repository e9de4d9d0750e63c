"""Chapter 11's tables (``helpers.localvol.tables``): one row per pair or maturity, in the
market's order, with the figures the chapter's prose reads from them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.localvol import load_market, tables
from helpers.localvol.market import PAIRS
from helpers.localvol.timing import NAG_SECONDS


@pytest.fixture(scope="module")
def market():
    return load_market()


def test_market_rows_hold_each_pairs_spot_and_its_at_the_money_vols(market):
    rows = tables.market_rows(market)
    assert [r[0] for r in rows] == list(PAIRS)
    assert all(len(r) == len(tables.MARKET_COLUMNS) for r in rows)
    eur = rows[0]
    assert eur[1] == market.spots[0] and eur[3] == market.vols[0, 0, 2]
    assert eur[5] == pytest.approx(market.vols[0, -1, 0] - market.vols[0, -1, -1])
    assert "| EUR |" in tables.market_table(market).data


def test_market_rows_refuse_names_that_do_not_match_the_pairs(market):
    with pytest.raises(ValueError, match="names"):
        tables.market_rows(market, names=["EUR"])


def test_vega_by_maturity_sums_net_and_gross_over_pairs_and_strikes(market):
    vega = np.zeros_like(market.vols)
    vega[0, -1, 2] = 0.3
    vega[1, -1, 0] = -0.1
    rows = tables.vega_by_maturity(market, vega)
    assert len(rows) == len(market.maturities) and rows[-1][0] == "12m"
    assert rows[-1][1:] == [pytest.approx(0.2), pytest.approx(0.4), 1]
    assert rows[0][1:] == [0.0, 0.0, 0]
    with pytest.raises(ValueError, match="shape"):
        tables.vega_by_maturity(market, vega[:, :-1])
    assert "| 12m | +0.20000 |" in tables.vega_by_maturity_table(market, vega).data


def test_pair_sensitivities_scale_delta_by_the_spot(market):
    gradient = dataclasses.replace(
        market,
        spots=np.arange(10.0),
        rf=-np.ones(10),
        vols=np.ones_like(market.vols),
        weights=np.full(10, 0.5),
    )
    rows = tables.pair_sensitivities(market, gradient)
    assert rows[3] == ["CHF", 3.0 * market.spots[3], -1.0, 35.0, 0.5]
    assert "| MXN |" in tables.pair_sensitivities_table(market, gradient).data


def test_measured_rows_set_this_run_beside_nags_figures(market):
    timing = {"paths": 2_000, "steps": 360, "adjoint_s": 0.5, "R_adjoint": 2.0}
    rows = tables.measured_rows(timing, market)
    assert rows[0][0] == "machine" and "(this run)" in rows[0][1]
    assert rows[1][1:] == ["2,000 x 360", "10,000 x 360"]
    assert rows[2][1:] == ["785", "438"]
    assert rows[4][2] == f"{NAG_SECONDS['gradient'] / NAG_SECONDS['forward']:.2f}"
    assert "| whole gradient, seconds | 0.500 |" in tables.measured_table(timing, market).data
    assert "0.3670" in tables.nag_table().data
