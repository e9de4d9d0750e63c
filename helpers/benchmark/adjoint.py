"""Adjoint Greeks through the Monte Carlo (Chapter 8): their cost ratio R against the price."""

from __future__ import annotations

import os
import time

import numpy as np

from ..core import config
from ..core.domain import ARTICLE_MC_EXAMPLE
from ..mc import price_options
from ..mc.bumps import bump_and_revalue_batch
from .common import best_seconds

ADJOINT_TARGET = 2.5
"""The adjoint's cost ratio R = time(price and six Greeks) / time(price) should stay below it."""


def time_adjoint(n_paths: int = 5_000, n_steps: int = 365, repeats: int = 5) -> dict:
    """The adjoint Greeks' cost on ``ARTICLE_MC_EXAMPLE`` with the survival estimator (Chapter 8).

    Times, best of ``repeats`` interleaved runs after a warm-up, on one thread and on every
    core: the price alone; the price and its six first-order Greeks (one forward and one reverse
    sweep per path); the same with gamma (two more sweeps per path); and bump-and-revalue, 13
    prices of the same estimator at the same paths per price (``bump_and_revalue_batch``, in one
    batch). Then, on one thread, torch autograd through the same estimator
    (``helpers.mc.autograd``) and the
    bytes of its tape, against the hand adjoint's tape (``TAPE_COLUMNS`` float64 per step of
    each path in flight).

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
            }
            for measure in runs.values():
                measure()  # warm-up: compilation
            best = dict.fromkeys(runs, np.inf)
            for _ in range(repeats):
                for name, measure in runs.items():
                    best[name] = min(best[name], best_seconds(measure, 1, warm_up=False))
            price, greeks, gamma, bump = (best[k] for k in ("price", "greeks", "gamma", "bump"))
            result["threads"][str(threads)] = {
                "price_s": price,
                "greeks_s": greeks,
                "greeks_and_gamma_s": gamma,
                "bump_and_revalue_s": bump,
                "R": greeks / price,
                "R_with_gamma": gamma / price,
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
        " | bump-and-revalue (13 prices) s | bump-and-revalue / adjoint |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for threads, t in a["threads"].items():
        lines.append(
            f"| {threads} | {t['price_s']:.4f} | {t['greeks_s']:.4f} | {t['R']:.2f}"
            f" | {t['greeks_and_gamma_s']:.4f} | {t['R_with_gamma']:.2f}"
            f" | {t['bump_and_revalue_s']:.4f} | {t['bump_and_revalue_s'] / t['greeks_s']:.1f} |"
        )
    one = a["threads"]["1"]
    ratios = [t["R"] for t in a["threads"].values()]
    verdict = "met" if max(ratios) <= ADJOINT_TARGET else "MISSED"
    slower = a["autograd_s"] / one["greeks_s"]
    lines += [
        "",
        f"Target: R = time(price + 6 Greeks) / time(price) at most {ADJOINT_TARGET}:"
        f" {', '.join(f'{r:.2f}' for r in ratios)}, {verdict}"
        " (NAG's GPU adjoint: 522 ms / 367 ms = 1.4). Torch autograd through the same"
        f" estimator on one thread: {a['autograd_s']:.3f} s, {slower:.0f}x the hand adjoint;"
        f" its tape {a['autograd_tape_bytes'] / 2**20:,.1f} MiB against the hand adjoint's"
        f" {a['adjoint_tape_bytes_per_thread'] / 2**10:,.1f} KiB per thread.",
    ]
    return lines


def measure(sizes: config.Sizes, anchor_paths: int = 20_000) -> dict:
    """``results.json``'s ``adjoint``: ``time_adjoint`` at a quarter of the anchor's paths."""
    return {"adjoint": time_adjoint(max(anchor_paths // 4, 16))}


def lines(result: dict) -> list[str]:
    """The adjoint's section of ``bench/results.md``."""
    return adjoint_lines(result["adjoint"]) if "adjoint" in result else []
