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


def time_adjoint(n_paths: int = 5_000, n_steps: int = 365, repeats: int = 5) -> dict:
    """The adjoint Greeks' cost on ``ARTICLE_MC_EXAMPLE`` with the survival estimator (Chapter 8).

    Times, best of ``repeats`` interleaved runs after a warm-up, on one thread and on every
    core: the price alone; the price and its six first-order Greeks (one forward and one reverse
    sweep per path); the same with gamma (two more sweeps per path); bump-and-revalue, 13
    prices of the same estimator at the same paths per price (``bump_and_revalue_batch``, in one
    batch); and the plain estimator's price (``price_options(..., backend="numba")``: the hard
    knock-out, which stops a path at knock-out and draws no inverse normal), the kernel that
    prices without Greeks. ``R`` is the Greeks' cost in survival prices, ``R_plain`` in plain
    prices. Then, on one thread, torch autograd through the same estimator
    (``helpers.mc.autograd``) and the bytes of its tape, against the hand adjoint's tape
    (``TAPE_COLUMNS`` float64 per step of each path in flight).

    Returns:
        A JSON-ready dictionary of seconds, ratios and bytes.
    """
    import numba
    import torch

    from ..mc import adjoint, autograd
    from ..mc.philox import split_seed

    X = ARTICLE_MC_EXAMPLE
    key = split_seed(1)
    bumped = bump_and_revalue_batch(X)

    def run(greeks: bool, gamma: bool = False) -> None:
        adjoint.moments(X, n_paths, n_steps, 1.0, *key, "survival", adjoint.DEFAULT_WIDTH,
                        greeks=greeks, with_gamma=gamma)  # fmt: skip

    result = {"options": len(X), "paths": n_paths, "steps": n_steps, "threads": {}}
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, os.cpu_count() or 1}):
            numba.set_num_threads(threads)
            # interleaved, best of each: a drift of the clock speed cannot favour one of them
            runs = {
                "price": lambda: run(False),
                "greeks": lambda: run(True),
                "gamma": lambda: run(True, True),
                "bump": lambda: price_options(bumped, n_paths, n_steps, seed=1, method="survival"),
                "plain": lambda: price_options(X, n_paths, n_steps, seed=1, backend="numba"),
            }
            for measure in runs.values():
                measure()  # warm-up: compilation
            best = dict.fromkeys(runs, np.inf)
            for _ in range(repeats):
                for name, measure in runs.items():
                    best[name] = min(best[name], best_seconds(measure, 1, warm_up=False))
            price, greeks, gamma, bump, plain = (
                best[k] for k in ("price", "greeks", "gamma", "bump", "plain")
            )
            result["threads"][str(threads)] = {
                "price_s": price,
                "greeks_s": greeks,
                "greeks_and_gamma_s": gamma,
                "bump_and_revalue_s": bump,
                "plain_price_s": plain,
                "R": greeks / price,
                "R_with_gamma": gamma / price,
                "R_plain": greeks / plain,
                "R_plain_with_gamma": gamma / plain,
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
    return result


def adjoint_lines(a: dict) -> list[str]:
    """``time_adjoint``'s figures as a Markdown section: a table by threads and a verdict."""
    lines = [
        f"## Adjoint Greeks (Chapter 8): survival estimator, {a['options']} options x"
        f" {a['paths']} paths x {a['steps']} steps",
        "",
        "| threads | price s | price + 6 Greeks s | R | with gamma s | R with gamma"
        " | bump-and-revalue (13 prices) s | bump-and-revalue / adjoint"
        " | plain price s | price + 6 Greeks / plain price |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for threads, t in a["threads"].items():
        plain = t.get("plain_price_s")  # absent from results measured before it was timed
        lines.append(
            f"| {threads} | {t['price_s']:.4f} | {t['greeks_s']:.4f} | {t['R']:.2f}"
            f" | {t['greeks_and_gamma_s']:.4f} | {t['R_with_gamma']:.2f}"
            f" | {t['bump_and_revalue_s']:.4f} | {t['bump_and_revalue_s'] / t['greeks_s']:.1f}"
            + (f" | {plain:.4f} | {t['greeks_s'] / plain:.1f} |" if plain else " | | |")
        )
    one = a["threads"]["1"]
    ratios = [t["R"] for t in a["threads"].values()]
    verdict = "met" if max(ratios) <= ADJOINT_TARGET else "MISSED"
    slower = a["autograd_s"] / one["greeks_s"]
    lines += [
        "",
        "The course's target: R = time(price + 6 Greeks) / time(price), both by the survival"
        f" estimator, at most {ADJOINT_TARGET}:"
        f" {', '.join(f'{r:.2f}' for r in ratios)}, {verdict}"
        " (NAG's GPU adjoint: 522 ms / 367 ms = 1.4). Torch autograd through the same"
        f" estimator on one thread: {a['autograd_s']:.3f} s, {slower:.0f}x the hand adjoint;"
        f" its tape {a['autograd_tape_bytes'] / 2**20:,.1f} MiB against the hand adjoint's"
        f" {a['adjoint_tape_bytes_per_thread'] / 2**10:,.1f} KiB per thread.",
    ]
    return lines


def cost_table(cost: dict) -> Markdown:
    """``time_adjoint``'s figures as Chapter 8 shows them: a row per computation, its seconds on
    one thread and on every core, and on one thread its cost in survival prices and in plain
    prices (the plain estimator's kernel, which prices without Greeks). Autograd is timed on one
    thread only: its every-core cell says "not timed"; a row the run did not measure (the plain
    price in older results) is left out."""
    one = cost["threads"]["1"]
    many = max(cost["threads"], key=int)
    plain = one.get("plain_price_s")
    rows = []
    for name, key in [
        ("plain estimator's price", "plain_price_s"),
        ("survival estimator's price", "price_s"),
        ("price + 6 Greeks (adjoint)", "greeks_s"),
        ("price + 6 Greeks + gamma (adjoint)", "greeks_and_gamma_s"),
        ("bump-and-revalue, 13 survival prices", "bump_and_revalue_s"),
        ("price + 6 Greeks (torch autograd)", "autograd_s"),
    ]:
        seconds = cost.get(key) if key == "autograd_s" else one.get(key)
        if seconds is None:
            continue
        on_many = cost["threads"][many].get(key)
        rows.append([name, f"{seconds:.4f}", f"{on_many:.4f}" if on_many else "not timed",
                     f"{seconds / one['price_s']:.2f}",
                     f"{seconds / plain:.1f}" if plain else ""])  # fmt: skip
    columns = ["computation", "s, 1 thread", f"s, {many} threads", "/ survival price",
               "/ plain price"]  # fmt: skip
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
        ["autograd tape", f"{cost['autograd_tape_bytes'] / 2**20:.1f} MiB", ""],
    ]
    return table(rows, ["", "this run", "reference"])


def measure(sizes: config.Sizes, anchor_paths: int = 20_000) -> dict:
    """``results.json``'s ``adjoint``: ``time_adjoint`` at a quarter of the anchor's paths."""
    return {"adjoint": time_adjoint(max(anchor_paths // 4, 16))}


def lines(result: dict) -> list[str]:
    """The adjoint's section of ``bench/results.md``."""
    return adjoint_lines(result["adjoint"]) if "adjoint" in result else []
