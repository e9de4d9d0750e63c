"""Adjoint Greeks through the Monte Carlo (Chapter 8): their cost ratio R against the price."""

from __future__ import annotations

import os
import time

import numpy as np
from IPython.display import Markdown

from ..core import config
from ..core.domain import ARTICLE_MC_EXAMPLE, ARTICLE_MC_PRICES
from ..core.machine import machine_line
from ..core.report import table
from ..mc import price_options
from ..mc.bumps import bump_and_revalue_batch
from ..mc.result import MCResult
from .common import best_seconds

ADJOINT_TARGET = 2.5
"""The adjoint's cost ratio R = time(price and six Greeks) / time(price) should stay below it."""

R_PRICE_TARGET = 6.0
"""R_price = time(price, six Greeks and gamma) / time(the plain price kernel) should stay below
it (the course's target; its goals: 3 without gamma, 5 with it)."""


def time_adjoint(n_paths: int = 5_000, n_steps: int = 365, repeats: int = 5) -> dict:
    """The adjoint Greeks' cost on ``ARTICLE_MC_EXAMPLE`` with the survival estimator (Chapter 8).

    Times, best of ``repeats`` interleaved runs after a warm-up, on one thread and on every
    core, for the two kernels of the survival estimator, the block kernel in the lanes
    (``helpers.mc.survival_block`` through ``helpers.mc.block_moments``, what ``price_options``
    runs) and the one-path-at-a-time definition (``helpers.mc.adjoint.survival_path``): the
    price alone; the price and its six first-order Greeks (one forward and one reverse sweep
    per path); the same with gamma (two more sweeps per path), in the lanes by either of
    ``block_moments.GAMMA_ROUTES``. Then bump-and-revalue, 13 prices of the same estimator at
    the same paths per price (``bump_and_revalue_batch``, in one batch), and the plain
    estimator's price
    (``price_options(..., backend="numba")``: the hard knock-out, the kernel that prices
    without Greeks). Ratios: ``R`` (Greeks over the survival price, one path at a time),
    ``R_block`` (the same in the lanes), ``R_price`` (the block kernel's Greeks over the plain
    price), each with gamma too. The standard errors of the two estimators at these paths let
    a reader weigh the cost at equal accuracy. Then, on one thread, torch autograd through the
    same estimator (``helpers.mc.autograd``) and the bytes of its tape, against the hand
    adjoint's tape (``TAPE_COLUMNS`` float64 per step of each path in flight).

    Returns:
        A JSON-ready dictionary of seconds, ratios, standard errors and bytes.
    """
    import numba
    import torch

    from ..mc import adjoint, autograd, block_moments, survival_block
    from ..mc.philox import split_seed

    X = ARTICLE_MC_EXAMPLE
    key = split_seed(1)
    bumped = bump_and_revalue_batch(X)

    def scalar(greeks: bool, gamma: bool = False) -> None:
        adjoint.moments(X, n_paths, n_steps, 1.0, *key, "survival", adjoint.DEFAULT_WIDTH,
                        greeks=greeks, with_gamma=gamma)  # fmt: skip

    def block(greeks: bool, gamma: bool = False, route: str = "delta differences") -> None:
        block_moments.moments(X, n_paths, n_steps, 1.0, *key, greeks=greeks, with_gamma=gamma,
                              gamma_route=route)  # fmt: skip

    result = {"options": len(X), "paths": n_paths, "steps": n_steps, "threads": {}}
    survival = price_options(X, n_paths, n_steps, seed=1, method="survival")
    plain_result = price_options(X, n_paths, n_steps, seed=1, backend="numba")
    result["stderr"] = {"survival": survival.stderr.tolist(), "plain": plain_result.stderr.tolist()}
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, os.cpu_count() or 1}):
            numba.set_num_threads(threads)
            # interleaved, best of each: a drift of the clock speed cannot favour one of them
            runs = {
                "price": lambda: scalar(False),
                "greeks": lambda: scalar(True),
                "gamma": lambda: scalar(True, True),
                "block_price": lambda: block(False),
                "block_greeks": lambda: block(True),
                "block_gamma": lambda: block(True, True),
                "block_gamma_by_prices": lambda: block(True, True, "price differences"),
                "bump": lambda: price_options(bumped, n_paths, n_steps, seed=1, method="survival"),
                "plain": lambda: price_options(X, n_paths, n_steps, seed=1, backend="numba"),
            }
            for measure in runs.values():
                measure()  # warm-up: compilation
            best = dict.fromkeys(runs, np.inf)
            for _ in range(repeats):
                for name, measure in runs.items():
                    best[name] = min(best[name], best_seconds(measure, 1, warm_up=False))
            price, greeks, gamma, plain = (best[k] for k in ("price", "greeks", "gamma", "plain"))
            b_price, b_greeks, b_gamma = (
                best[k] for k in ("block_price", "block_greeks", "block_gamma")
            )
            result["threads"][str(threads)] = {
                "price_s": price,
                "greeks_s": greeks,
                "greeks_and_gamma_s": gamma,
                "block_price_s": b_price,
                "block_greeks_s": b_greeks,
                "block_greeks_and_gamma_s": b_gamma,
                "block_greeks_and_gamma_by_prices_s": best["block_gamma_by_prices"],
                "bump_and_revalue_s": best["bump"],
                "plain_price_s": plain,
                "R": greeks / price,
                "R_with_gamma": gamma / price,
                "R_plain": greeks / plain,
                "R_plain_with_gamma": gamma / plain,
                "R_block": b_greeks / b_price,
                "R_block_with_gamma": b_gamma / b_price,
                "R_price": b_greeks / plain,
                "R_price_with_gamma": b_gamma / plain,
                "R_price_with_gamma_by_prices": best["block_gamma_by_prices"] / plain,
            }
        numba.set_num_threads(1)
        torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        autograd.price_and_greeks(X, 2, 4, seed=1)  # warm-up: compiles the stream's kernel
        start = time.perf_counter()
        with autograd.tape_bytes() as saved:
            autograd.price_and_greeks(X, n_paths, n_steps, seed=1)
        result["autograd_s"] = time.perf_counter() - start
        result["autograd_tape_bytes"] = saved[0]
        torch.set_num_threads(torch_threads)
    finally:
        numba.set_num_threads(before)
    result["adjoint_tape_bytes_per_thread"] = n_steps * adjoint.TAPE_COLUMNS * 8
    result["block_tape_bytes_per_thread"] = (
        n_steps * survival_block.TAPE_ROWS * survival_block.LANES * 8
    )
    return result


def adjoint_lines(a: dict) -> list[str]:
    """``time_adjoint``'s figures as a Markdown section: a table by threads, ``R_price`` beside
    today's ``R`` and the two estimators' standard errors, and the verdicts."""
    lines = [
        f"## Adjoint Greeks (Chapter 8): survival estimator, {a['options']} options x"
        f" {a['paths']} paths x {a['steps']} steps",
        "",
        "| threads | kernel | price s | price + 6 Greeks s | with gamma s"
        " | Greeks / its price | with gamma | Greeks / plain price (R_price) | with gamma |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for threads, t in a["threads"].items():
        plain = t.get("plain_price_s")  # absent from results measured before it was timed
        kernels = [("one path at a time", "")]
        if "block_price_s" in t:
            kernels.append(("block (lanes)", "block_"))
        for name, prefix in kernels:
            price, greeks = t[f"{prefix}price_s"], t[f"{prefix}greeks_s"]
            gamma = t[f"{prefix}greeks_and_gamma_s"]
            lines.append(
                f"| {threads} | {name} | {price:.4f} | {greeks:.4f} | {gamma:.4f}"
                f" | {greeks / price:.2f} | {gamma / price:.2f}"
                + (f" | {greeks / plain:.2f} | {gamma / plain:.2f} |" if plain else " | | |")
            )
    one = a["threads"]["1"]
    ratios = [t["R"] for t in a["threads"].values()]
    verdict = "met" if max(ratios) <= ADJOINT_TARGET else "MISSED"
    slower = a["autograd_s"] / one["greeks_s"]
    lines += [
        "",
        "Plain price (the hard knock-out kernel of Chapter 1, no Greeks): "
        + ", ".join(
            f"{t['plain_price_s']:.4f} s on {n} thread(s)"
            for n, t in a["threads"].items()
            if "plain_price_s" in t
        )
        + f"; bump-and-revalue (13 survival prices): {one['bump_and_revalue_s']:.4f} s on one"
        " thread.",
        "",
        "R = time(price + 6 Greeks) / time(price), both by the survival estimator one path at a"
        f" time, at most {ADJOINT_TARGET}: {', '.join(f'{r:.2f}' for r in ratios)}, {verdict}"
        " (NAG's GPU adjoint: 522 ms / 367 ms = 1.4). Torch autograd through the same"
        f" estimator on one thread: {a['autograd_s']:.3f} s, {slower:.0f}x the hand adjoint;"
        f" its tape {a['autograd_tape_bytes'] / 2**20:,.1f} MiB against the hand adjoint's"
        f" {a['adjoint_tape_bytes_per_thread'] / 2**10:,.1f} KiB per thread.",
    ]
    if "R_price" in one:
        r_price = [t["R_price_with_gamma"] for t in a["threads"].values()]
        plain_s = one["plain_price_s"]
        forward = one["block_price_s"] / plain_s
        reverse = (one["block_greeks_s"] - one["block_price_s"]) / plain_s
        gamma_part = (one["block_greeks_and_gamma_s"] - one["block_greeks_s"]) / plain_s
        no_gamma = ", ".join(f"{t['R_price']:.2f}" for t in a["threads"].values())
        met = "met" if max(r_price) <= R_PRICE_TARGET else "MISSED"
        se = a["stderr"]
        equal = [
            t["R_price_with_gamma"] * (se["survival"][0] / se["plain"][0]) ** 2
            for t in a["threads"].values()
        ]
        lines += [
            "",
            f"R_price = time(price + 6 Greeks + gamma, block kernel) / time(plain price), at most"
            f" {R_PRICE_TARGET:g}: {', '.join(f'{r:.2f}' for r in r_price)} by threads, {met};"
            f" without gamma {no_gamma}"
            " (goals: 3 without gamma, 5 with it). Standard errors of the price at these paths,"
            " first option then second: survival "
            + ", ".join(f"{x:.4f}" for x in se["survival"])
            + ", plain "
            + ", ".join(f"{x:.4f}" for x in se["plain"])
            + "; at the plain estimator's accuracy for the first option, R_price with gamma"
            f" becomes {', '.join(f'{r:.2f}' for r in equal)} (times the squared ratio of the"
            " standard errors). Block kernel's tape:"
            f" {a['block_tape_bytes_per_thread'] / 2**10:,.0f} KiB per thread.",
            "",
            "Where R_price goes on one thread, in plain prices: the forward sweep (the survival"
            f" price) {forward:.2f}, the reverse sweep {reverse:.2f}, gamma's two more sweeps"
            f" {gamma_part:.2f}.",
        ]
        if "R_price_with_gamma_by_prices" in one:
            by_prices = ", ".join(
                f"{t['R_price_with_gamma_by_prices']:.2f}" for t in a["threads"].values()
            )
            lines[-1] += (
                " Gamma by the price's second differences instead (two more forward sweeps,"
                f" no reverse): R_price with gamma {by_prices} by threads."
            )
    return lines


def cost_table(cost: dict) -> Markdown:
    """``time_adjoint``'s figures as Chapter 8 shows them: a row per computation, its seconds on
    one thread and on every core, and on one thread its cost in survival prices of the same
    kernel (one path at a time, or in the lanes: bump-and-revalue prices through
    ``price_options``, so in the lanes) and in plain prices (the plain estimator's kernel, which
    prices without Greeks). Autograd is timed on one thread only: its every-core cell says "not
    timed"; a row the run did not measure (the plain price or the lanes in older results) is
    left out."""
    one = cost["threads"]["1"]
    many = max(cost["threads"], key=int)
    plain = one.get("plain_price_s")
    lanes = "block_price_s" if "block_price_s" in one else "price_s"
    rows = []
    for name, key, per in [
        ("plain estimator's price", "plain_price_s", "price_s"),
        ("survival price, one path at a time", "price_s", "price_s"),
        ("price + 6 Greeks (adjoint), one path at a time", "greeks_s", "price_s"),
        ("price + 6 Greeks + gamma (adjoint), one path at a time", "greeks_and_gamma_s", "price_s"),
        ("survival price, in lanes", "block_price_s", lanes),
        ("price + 6 Greeks (adjoint), in lanes", "block_greeks_s", lanes),
        ("price + 6 Greeks + gamma (adjoint), in lanes", "block_greeks_and_gamma_s", lanes),
        (
            "the same, gamma by price differences, in lanes",
            "block_greeks_and_gamma_by_prices_s",
            lanes,
        ),
        ("bump-and-revalue, 13 survival prices", "bump_and_revalue_s", lanes),
        ("price + 6 Greeks (torch autograd)", "autograd_s", "price_s"),
    ]:
        seconds = cost.get(key) if key == "autograd_s" else one.get(key)
        if seconds is None:
            continue
        on_many = cost["threads"][many].get(key)
        rows.append([name, f"{seconds:.4f}", f"{on_many:.4f}" if on_many else "not timed",
                     f"{seconds / one[per]:.2f}",
                     f"{seconds / plain:.1f}" if plain else ""])  # fmt: skip
    columns = ["computation", "s, 1 thread", f"s, {many} threads",
               "/ survival price, same kernel", "/ plain price"]  # fmt: skip
    if many == "1":
        columns.pop(2)
        rows = [row[:2] + row[3:] for row in rows]
    return table(rows, columns)


def measured_table(result: MCResult, cost: dict) -> Markdown:
    """Chapter 8's "What we measured": this run's figures beside their references.

    Args:
        result: ``price_options(..., greeks=True)`` of the article's Monte Carlo example's first
            option (one option, survival estimator).
        cost: ``time_adjoint``'s figures.

    Returns:
        The machine, the price and delta by the adjoint, the Greeks' cost ratios on one thread
        (against the survival estimator's own price, with gamma, and against the plain price)
        and autograd's tape, beside the article's price and NAG's ratio.
    """
    one = cost["threads"]["1"]
    price, se = float(result.price[0]), float(result.stderr[0])
    delta, delta_se = float(result.greeks["S0"][0]), float(result.greeks_stderr["S0"][0])
    plain = f"{one['R_plain']:.1f} (1 thread)" if "R_plain" in one else "not measured in this run"
    rows = [
        ["machine", machine_line(), "NAG's basket: a K20X GPU (du Toit, Lotz and Naumann)"],
        [
            "price, the article's Monte Carlo example's first option",
            f"{price:.3f} ± {se:.3f}",
            f"{ARTICLE_MC_PRICES[0]:.3f} (the article's kernel)",
        ],
        ["delta by adjoint", f"{delta:.4f} ± {delta_se:.4f}", ""],
        [
            "R = (price + 6 Greeks) / price, survival estimator",
            f"{one['R']:.2f} (1 thread)",
            "1.4 (NAG: 522 / 367 ms)",
        ],
        ["(price + 6 Greeks + gamma) / price", f"{one['R_with_gamma']:.2f} (1 thread)", ""],
        ["(price + 6 Greeks) / plain estimator's price", plain, ""],
        [
            "R_price = (price + 6 Greeks + gamma) / plain price, in lanes",
            f"{one['R_price_with_gamma']:.1f} (1 thread)" if "R_price" in one else "not measured",
            f"at most {R_PRICE_TARGET:g} (the course's target)",
        ],
        ["autograd tape", f"{cost['autograd_tape_bytes'] / 2**20:.1f} MiB", ""],
    ]
    return table(rows, ["", "this run", "reference"])


def measure(sizes: config.Sizes, anchor_paths: int = 20_000) -> dict:
    """``results.json``'s ``adjoint``: ``time_adjoint`` at a quarter of the anchor's paths."""
    return {"adjoint": time_adjoint(max(anchor_paths // 4, 16))}


def lines(result: dict) -> list[str]:
    """The adjoint's section of ``bench/results.md``."""
    return adjoint_lines(result["adjoint"]) if "adjoint" in result else []
