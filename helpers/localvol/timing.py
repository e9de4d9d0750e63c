"""Chapter 11's benchmark: the basket's price alone against price and whole gradient.

``time_basket`` measures, in one run, the forward sweep (price only), the price with its whole
gradient by the hand adjoint of the Monte Carlo stage and by torch autograd through
checkpointed blocks, the ratio R of each to the forward, and the memory each reverse sweep
needs; ``basket_lines`` writes them as a section of ``bench/results.md`` beside NAG's figures.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

NAG_SECONDS = {"gradient": 0.522, "forward": 0.367, "monte_carlo": 0.0145, "adjoint": 0.155}
"""The figures of du Toit, Lotz and Naumann's report and slides (NAG and RWTH Aachen): an
NVIDIA K20X with a Xeon E5-2670, 10,000 paths, 360 steps, 438 market inputs."""


def input_counts(market) -> dict[str, int]:
    """How many market inputs the gradient covers, by kind: every quote, spot, rate, weight,
    the strike, the expiry and the 45 correlations of 10 pairs (one per pair of pairs)."""
    m = market.n_assets
    counts = {name: int(np.asarray(getattr(market, name)).size)
              for name in ("vols", "strikes", "maturities", "spots", "rf", "weights")}  # fmt: skip
    counts |= {"corr": m * (m - 1) // 2, "rd": 1, "strike": 1, "expiry": 1}
    return counts


def _best(run, repeats: int) -> float:
    run()  # warm-up: compiles the kernels
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def time_basket(n_paths: int = 10_000, n_steps: int = 360, repeats: int = 5) -> dict:
    """Times and memory of the basket's price and gradient at NAG's sizes (all threads)."""
    import numba
    import torch

    from . import adjoint, dupire, load_market, price_basket
    from .basket import BLOCK_STEPS, autograd_tape_bytes

    market = load_market()

    def run(**kwargs):
        return lambda: price_basket(market, n_paths=n_paths, n_steps=n_steps, **kwargs)

    forward = _best(run(gradient=False), repeats)
    hand = _best(run(engine="adjoint"), repeats)
    autograd = _best(run(engine="torch"), max(1, repeats - 1))
    result = price_basket(market, n_paths=n_paths, n_steps=n_steps)
    kept = autograd_tape_bytes(market, n_paths, n_steps)
    one_block = autograd_tape_bytes(market, n_paths, BLOCK_STEPS, checkpointed=False)
    full = autograd_tape_bytes(market, n_paths, n_steps, checkpointed=False)
    m, chunks = market.n_assets, adjoint.CHUNKS
    tape = n_steps * m * adjoint.WIDTH * (4 + 3 * 8)  # z (float32), sigma, slope, position
    intervals = dupire.GRID_POINTS - 1
    table = n_steps * m * intervals * 4 * 8  # one chunk's adjoints of the coefficients
    in_flight = min(chunks, numba.get_num_threads())  # chunks swept at the same time
    gradient = result.gradient
    return {
        "paths": n_paths,
        "steps": n_steps,
        "pairs": m,
        "threads": torch.get_num_threads(),
        "price": result.price,
        "stderr": result.stderr,
        "inputs": input_counts(market),
        "forward_s": forward,
        "adjoint_s": hand,
        "autograd_s": autograd,
        "R_adjoint": hand / forward,
        "R_autograd": autograd / forward,
        "autograd_tape_kept_bytes": kept,
        "autograd_tape_block_bytes": one_block,
        "autograd_tape_unchecked_bytes": full,
        "adjoint_memory_bytes": in_flight * tape + chunks * table,
        "largest_vega": float(np.abs(gradient.vols).max()),
        "sum_of_vegas": float(gradient.vols.sum()),
        "nag_seconds": NAG_SECONDS,
        "floored": result.floored,
        "market": {k: v for k, v in dataclasses.asdict(market).items() if np.ndim(v) == 0},
    }


def comparison_rows(d: dict) -> list[list[str]]:
    """``time_basket``'s figures as table rows ``[what, seconds, R, memory]``, NAG's last."""
    mib = 2**20
    peak = (d["autograd_tape_kept_bytes"] + d["autograd_tape_block_bytes"]) / mib
    unchecked = d["autograd_tape_unchecked_bytes"] / mib
    nag = d["nag_seconds"]
    return [
        ["price only", f"{d['forward_s']:.3f}", "1", ""],
        ["price + gradient, hand adjoint", f"{d['adjoint_s']:.3f}", f"{d['R_adjoint']:.2f}",
         f"{d['adjoint_memory_bytes'] / mib:.0f} MiB of tapes and accumulators"],
        ["price + gradient, torch autograd with checkpoints", f"{d['autograd_s']:.3f}",
         f"{d['R_autograd']:.2f}", f"{peak:.0f} MiB peak tape"],
        ["torch autograd without checkpoints", "", "", f"{unchecked:,.0f} MiB tape"],
        ["NAG: K20X + Xeon E5-2670, adjoint", f"{nag['gradient']:.3f}",
         f"{nag['gradient'] / nag['forward']:.2f}", "268 MB CPU + 420 MB GPU"],
    ]  # fmt: skip


def basket_lines(d: dict) -> list[str]:
    """``time_basket``'s figures as a Markdown section."""
    n_inputs = sum(d["inputs"].values())
    coordinates = d["inputs"]["strikes"] + d["inputs"]["maturities"]
    market_values = n_inputs - coordinates
    return [
        f"## FX basket under local volatility (Chapter 11): {d['pairs']} pairs, {d['paths']:,}"
        f" paths x {d['steps']} steps, {d['threads']} threads",
        "",
        f"Price {d['price']:.6f} ± {d['stderr']:.6f}; the gradient has {n_inputs} entries"
        f" ({', '.join(f'{k} {v}' for k, v in d['inputs'].items())}): {market_values}"
        f" market values (NAG: 438) and the {coordinates} coordinates of the quotes (their"
        " strikes and maturities).",
        "",
        "| what | seconds | R = time / price only | memory of the reverse sweep |",
        "|---|---|---|---|",
        *("| " + " | ".join(row) + " |" for row in comparison_rows(d)),
        "",
        f"The course's targets: R at most 3 (hand adjoint {d['R_adjoint']:.2f}); the whole"
        f" gradient under 1 s on 2 CPU cores ({d['adjoint_s']:.2f} s); finite differences"
        f" would need {n_inputs + 1} pricings.",
    ]


def measure(sizes: object = None, anchor_paths: int = 20_000) -> dict:
    """``make bench``'s topic ``localvol`` (``helpers.benchmark.runner``): ``results.json``'s
    ``localvol``."""
    return {"localvol": time_basket()}


def lines(result: dict) -> list[str]:
    """The local-volatility basket's section of ``bench/results.md``."""
    return basket_lines(result["localvol"]) if "localvol" in result else []
