"""helpers.benchmark.adjoint: the Greeks' cost against the survival estimator's price and
against the plain estimator's, and Chapter 8's "What we measured" table."""

from __future__ import annotations

import numpy as np

from helpers.benchmark.adjoint import (
    adjoint_lines,
    cost_table,
    measured_table,
    time_adjoint,
)
from helpers.core.domain import ARTICLE_MC_PRICES, COLUMNS
from helpers.mc.result import MCResult


def cost(plain: bool = True) -> dict:
    """``time_adjoint``'s figures for one thread; without the plain price if not ``plain``."""
    one = {"price_s": 0.10, "greeks_s": 0.11, "greeks_and_gamma_s": 0.30,
           "bump_and_revalue_s": 1.3, "R": 1.1, "R_with_gamma": 3.0}  # fmt: skip
    if plain:
        one |= {"plain_price_s": 0.01, "R_plain": 11.0, "R_plain_with_gamma": 30.0}
    return {"options": 2, "paths": 100, "steps": 365, "threads": {"1": one},
            "autograd_s": 1.0, "autograd_tape_bytes": 2**21,
            "adjoint_tape_bytes_per_thread": 11680}  # fmt: skip


def test_time_adjoint_measures_the_greeks_against_both_prices():
    result = time_adjoint(n_paths=16, n_steps=16, repeats=1)
    for t in result["threads"].values():
        assert t["plain_price_s"] > 0 and t["R_plain"] == t["greeks_s"] / t["plain_price_s"]
        assert t["R_plain_with_gamma"] == t["greeks_and_gamma_s"] / t["plain_price_s"]
        assert t["R"] == t["greeks_s"] / t["price_s"]
        assert t["R_price_with_gamma"] == t["block_greeks_and_gamma_s"] / t["plain_price_s"]
    assert len(result["stderr"]["survival"]) == len(result["stderr"]["plain"]) == 2


def test_adjoint_lines_show_the_plain_price_and_leave_it_blank_when_not_measured():
    row = adjoint_lines(cost())[4]
    assert row.endswith("| 11.00 | 30.00 |")
    old = adjoint_lines(cost(plain=False))[4]
    assert old.endswith("| | |") and old.count("|") == row.count("|")


def block_cost() -> dict:
    """``cost()`` with the block kernel's figures and the two estimators' standard errors."""
    figures = cost()
    figures["threads"]["1"] |= {
        "block_price_s": 0.03, "block_greeks_s": 0.04, "block_greeks_and_gamma_s": 0.12,
        "R_block": 4 / 3, "R_block_with_gamma": 4.0, "R_price": 4.0, "R_price_with_gamma": 12.0,
    }  # fmt: skip
    figures |= {"stderr": {"survival": [0.02, 0.01], "plain": [0.04, 0.02]},
                "block_tape_bytes_per_thread": 280_320}  # fmt: skip
    return figures


def test_adjoint_lines_set_the_block_kernel_beside_the_one_path_kernel_and_state_r_price():
    lines = adjoint_lines(block_cost())
    block_row = "| 1 | block (lanes) | 0.0300 | 0.0400 | 0.1200 | 1.33 | 4.00 | 4.00 | 12.00 |"
    assert lines[5] == block_row
    verdict = next(line for line in lines if line.startswith("R_price"))
    assert "at most 6: 12.00 by threads, MISSED; without gamma 4.00" in verdict
    assert "survival 0.0200, 0.0100, plain 0.0400, 0.0200" in verdict
    assert "R_price with gamma becomes 3.00" in verdict  # 12 x (0.02 / 0.04)^2
    assert lines[-1].endswith("forward sweep (the survival price) 3.00, the reverse sweep 1.00,"
                              " gamma's two more sweeps 8.00.")  # fmt: skip
    text = measured_table(_result(), block_cost()).data
    assert "| 12.0 (1 thread) | at most 6 (the course's target) |" in text


def _result() -> MCResult:
    greeks = {c: np.array([0.5]) for c in (*COLUMNS, "gamma")}
    return MCResult(np.array([21.2]), np.array([0.1]), 100, 365, "numba", "survival",
                    greeks, greeks)  # fmt: skip


def test_measured_table_names_the_three_ratios_and_the_articles_price():
    greeks = {c: np.array([0.5]) for c in (*COLUMNS, "gamma")}
    result = MCResult(np.array([21.2]), np.array([0.1]), 100, 365, "numba", "survival",
                      greeks, greeks)  # fmt: skip
    text = measured_table(result, cost()).data
    assert "| 1.10 (1 thread) | 1.4 (NAG: 522 / 367 ms) |" in text
    assert "| (price + 6 Greeks + gamma) / price | 3.00 (1 thread) |" in text
    assert "| (price + 6 Greeks) / plain estimator's price | 11.0 (1 thread) |" in text
    assert f"{ARTICLE_MC_PRICES[0]:.3f} (the article's kernel)" in text
    assert "not measured in this run" in measured_table(result, cost(plain=False)).data


def test_cost_table_sets_each_computation_against_both_prices():
    body = cost_table(cost()).data.splitlines()
    assert body[0] == (
        "| computation | s, 1 thread | / survival price, same kernel | / plain price |"
    )
    assert "| price + 6 Greeks (adjoint), one path at a time | 0.1100 | 1.10 | 11.0 |" in body
    assert "| price + 6 Greeks (torch autograd) | 1.0000 | 10.00 | 100.0 |" in body
    two = cost()
    two["threads"]["2"] = dict(two["threads"]["1"], price_s=0.05)
    lines = cost_table(two).data.splitlines()
    assert lines[0].startswith("| computation | s, 1 thread | s, 2 threads |")
    assert "| survival price, one path at a time | 0.1000 | 0.0500 | 1.00 | 10.0 |" in lines
    assert "| price + 6 Greeks (torch autograd) | 1.0000 | not timed | 10.00 | 100.0 |" in lines
    assert not any("plain estimator's price" in line for line in
                   cost_table(cost(plain=False)).data.splitlines())  # fmt: skip
    lanes = cost_table(block_cost()).data.splitlines()
    assert "| price + 6 Greeks (adjoint), in lanes | 0.0400 | 1.33 | 4.0 |" in lanes
    assert "| bump-and-revalue, 13 survival prices | 1.3000 | 43.33 | 130.0 |" in lanes
