"""helpers.inference.tables: Chapter 7's tables, on figures whose rows are known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from helpers.core import report
from helpers.core.domain import ARTICLE_NETWORK_EXAMPLE, ARTICLE_NETWORK_PRICE
from helpers.inference import tables
from helpers.inference.evaluation import ARTICLE_TARGET, MAE_TARGET
from helpers.inference.implied_volatility import implied_vol
from helpers.inference.pricing import price
from helpers.mc.result import MCResult


class RisingInSigma(torch.nn.Module):
    """P = S0 sigma + K r / 10: rises with sigma, vega = S0, every option has one implied vol."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))  # gives the module a device

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        K, B, S0, sigma, mu, r = x.unbind(-1)
        return S0 * sigma + K * r / 10 + self.dummy


def rows(md) -> list[list[str]]:
    """A Markdown table's cells, header first, the separator dropped."""
    lines = md.data.splitlines()
    return [[c.strip() for c in line.strip("|").split("|")] for line in lines[:1] + lines[2:]]


def test_held_out_errors_splits_the_options_priced_near_zero():
    net = np.array([0.1, 0.5, 10.0, 20.6])
    mc = np.array([0.0, 0.7, 10.3, 20.0])
    se = np.array([0.0, 0.1, 0.2, 0.3])
    e = tables.held_out_errors(net, mc, se, near_zero=1.0)
    assert e.options == 4
    assert e.mae == pytest.approx(0.3)
    assert e.rmse == pytest.approx(math.sqrt((0.01 + 0.04 + 0.09 + 0.36) / 4))
    assert e.max_error == pytest.approx(0.6)
    assert e.noise_floor == pytest.approx(0.15)
    assert e.near_zero_share == 0.5
    assert e.mae_near_zero == pytest.approx(0.15) and e.mae_rest == pytest.approx(0.45)


def test_held_out_errors_refuses_arrays_of_different_shapes():
    with pytest.raises(ValueError, match="one shape"):
        tables.held_out_errors(np.ones(3), np.ones(2), np.ones(3))


def test_accuracy_table_has_one_row_of_the_five_figures():
    e = tables.held_out_errors(np.array([1.0, 3.0]), np.array([1.5, 3.0]), np.array([0.1, 0.3]))
    header, row = rows(tables.accuracy_table(e))
    assert header[:4] == ["test options", "MAE", "RMSE", "max error"]
    assert row == ["2", "0.2500", f"{math.sqrt(0.125):.4f}", "0.5000", "0.2000"]


def test_bucket_table_counts_each_bucket_and_shows_an_empty_one_as_a_dash():
    mc = np.array([0.5, 0.7, 3.0, 30.0])
    md = tables.bucket_table(mc + 0.1, mc, np.full(4, 0.01), edges=(0, 1, 5, 20, 50))
    body = rows(md)[1:]
    assert [r[:2] for r in body] == [["[0, 1)", "2"], ["[1, 5)", "1"], ["[5, 20)", "0"],
                                     ["[20, 50)", "1"]]  # fmt: skip
    assert body[0][2] == "0.1000" and body[2][2] == report.NO_VALUE


def test_targets_table_says_met_or_by_how_much_it_missed():
    body = rows(tables.targets_table(MAE_TARGET / 2, -(ARTICLE_TARGET + 0.01)))[1:]
    assert body[0][2] == "met"
    assert body[1][2] == "MISSED by 0.010"


def test_greeks_table_puts_a_desks_rho_beside_the_courses():
    g = {"price": np.array([10.0]), "dP/dmu": np.array([30.0]), "rho": np.array([-10.0]),
         "gamma": np.array([0.01])}  # fmt: skip
    header, row = rows(tables.greeks_table(g))
    assert header == ["price", "dP/dmu", "rho", "desk's rho", "gamma"]
    assert row[header.index("desk's rho")] == "20.0000"


def test_delta_gamma_table_gives_each_gap_in_standard_errors_and_percent():
    fd = [{"delta": 0.5, "delta_se": 0.01, "gamma": 0.02, "gamma_se": 0.001}]
    net = {"delta": np.array([0.52]), "gamma": np.array([0.019])}
    header, row = rows(tables.delta_gamma_table([ARTICLE_NETWORK_EXAMPLE], fd, net))
    assert row[0] == "[110, 100, 120, 0.35, 0.1, 0.05]"
    assert row[header.index("delta gap (s.e., %)")] == "+2.0, +4.0%"
    assert row[header.index("gamma gap (s.e., %)")] == "-1.0, -5.0%"


def test_delta_gamma_table_measures_gamma_against_the_networks_own_second_difference():
    fd = [{"delta": 0.5, "delta_se": 0.01, "gamma": 0.02, "gamma_se": 0.001}]
    net = {"delta": np.array([0.52]), "gamma": np.array([0.019])}
    header, row = rows(tables.delta_gamma_table([ARTICLE_NETWORK_EXAMPLE], fd, net, [0.021]))
    assert row[header.index("gamma: network, exact")] == "0.01900"
    assert row[header.index("gamma: network, 2nd difference")] == "0.02100"
    assert row[header.index("gamma gap (s.e., %)")] == "+1.0, +5.0%"


class Cubic(torch.nn.Module):
    """P = S0**3 / 1000 + K: gamma = 6 S0 / 1000, and no fourth derivative."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(torch.float64)
        return x[..., 2] ** 3 / 1000 + x[..., 0] + self.dummy


def test_bumped_gamma_is_the_central_second_difference_in_the_spot():
    points = [ARTICLE_NETWORK_EXAMPLE, (100.0, 50.0, 100.0, 0.2, 0.05, 0.05)]
    got = tables.bumped_gamma(Cubic(), points, h=4.0)
    np.testing.assert_allclose(got, [6 * 120 / 1000, 6 * 100 / 1000], rtol=1e-4)


def test_round_trip_recovers_every_volatility_of_a_price_rising_in_sigma():
    model = RisingInSigma()
    X = np.array([ARTICLE_NETWORK_EXAMPLE, [100.0, 50.0, 90.0, 0.2, 0.05, 0.05]])
    quotes = price(model, X)
    trip = tables.round_trip(model, X, quotes, implied_vol(model, X, quotes, tol=1e-8))
    assert trip.own.all() and trip.rising.all() and trip.sensitive.all()
    assert (trip.price_gap <= trip.allowed).all()
    body = dict((r[0], r[1]) for r in rows(tables.round_trip_table(trip, np.zeros(2, bool)))[1:])
    assert body["another sigma with the same price"] == "0"
    assert body["price back within 1e-05 or two float32 steps of the quote"] == "2"
    assert body["... price rising with sigma, own sigma back"] == "2 of 2"


SPEED = {
    "device": "cpu",
    "matched_paths": 1000,
    "network_options_per_second": {"1": 1000.0, "1000": 2.0e5},
    "mc_options_per_second": 2.0,
    "speedup_at_equal_accuracy": 1.0e5,
    "speedup_batch": 1000,
    "network_greeks_options_per_second": 5.0e4,
    "mc_greeks_options": 2,
    "mc_greeks_options_per_second": 0.1,
}


def test_speed_table_has_a_row_per_batch_and_per_method():
    body = rows(tables.speed_table(SPEED))
    assert body[0] == ["on cpu", "options per second"]
    assert body[1] == ["network, batch 1", "1,000"] and body[2][1] == "200,000"
    assert body[2][0] == "network, batch 1,000 (the speed-up's)" and body[3][1] == "2.00"
    assert len(body) == 1 + 2 + 3


def test_measured_table_sets_this_run_beside_the_articles_network():
    model = RisingInSigma()
    X = np.array([ARTICLE_NETWORK_EXAMPLE])
    quotes = price(model, X)
    trip = tables.round_trip(model, X, quotes, implied_vol(model, X, quotes, tol=1e-8))
    errors = tables.held_out_errors(np.array([1.0, 2.0]), np.array([1.0, 2.1]), np.ones(2))
    reference = MCResult(np.array([18.71]), np.array([0.015]), 2_048_000, 365, "numba")
    meta = {"training_seconds": 600.0, "device": "cpu"}
    text = tables.measured_table(model, meta, errors, 18.70, reference, trip, SPEED).data
    assert f"network {ARTICLE_NETWORK_PRICE}" in text
    assert "gap -0.0100, target 0.03 met" in text
    assert "100,000x on cpu, batch 1,000" in text
