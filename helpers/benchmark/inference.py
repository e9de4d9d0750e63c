"""Inference against Monte Carlo at equal accuracy, prices and Greeks (Chapter 7)."""

from __future__ import annotations

import json

import numpy as np

from ..core import config
from ..data.test_set import load_test_set
from ..mc import price_options
from ..mc.bumps import bump_and_revalue_batch
from .common import best_seconds


def network_rates(model, X: np.ndarray, batches: tuple[int, ...]) -> dict[str, float]:
    """Options per second of the network on batches of each size in ``batches``.

    Each batch is drawn with replacement from ``X`` (shape ``(n, 6)``, seed 0) and put on the
    model's device first, so transfers are not timed; a batch is timed best of 3 after a warm-up
    (best of 1 from 100,000 options), the device synchronised before the clock stops on CUDA.

    Returns:
        ``{str(batch): options per second}`` in the order of ``batches``.
    """
    import torch

    device = next(model.parameters()).device
    rng = np.random.default_rng(0)
    rates = {}
    for batch in batches:
        x = torch.as_tensor(X[rng.integers(0, len(X), batch)], dtype=torch.float32, device=device)

        def run(x: torch.Tensor = x) -> None:
            with torch.no_grad():
                model(x)
            if device.type == "cuda":
                torch.cuda.synchronize()

        rates[str(batch)] = batch / best_seconds(run, 3 if batch < 100_000 else 1)
    return rates


def equal_accuracy_paths(model) -> tuple[float, int]:
    """The network's mean absolute error on the shipped test set, and the Monte Carlo paths per
    option whose standard error equals it: ``(payoff standard deviation / MAE)^2``, at least
    16, the payoff's standard deviation taken from the test set's own labels.

    Returns:
        ``(mae, paths)``: the MAE in currency units and the matching paths per option.
    """
    from ..core.config import DATA_DIR
    from ..inference import pricing

    X, mc_price, mc_stderr = load_test_set(DATA_DIR)
    mae = float(np.abs(pricing.price(model, X) - mc_price).mean())
    test_paths = json.loads((DATA_DIR / "test_options.json").read_text())["paths"]
    payoff_std = float(np.sqrt(np.mean(mc_stderr**2 * test_paths)))
    return mae, max(16, int((payoff_std / mae) ** 2))


def time_inference(
    sizes: config.Sizes,
    batches: tuple[int, ...] = (1, 1_000, 1_000_000),
    *,
    mc_options: int | None = None,
    greeks_options: int | None = None,
) -> dict:
    """The shipped network against Monte Carlo at equal accuracy (Chapter 7).

    Monte Carlo gets the number of paths whose standard error equals the network's test MAE
    (``equal_accuracy_paths``); both price the same options from the test set. The network runs on
    ``helpers.core.machine.default_device()``, timed by ``network_rates``; Monte Carlo once after a
    small warm-up call that compiles its kernel.

    Monte Carlo prices the first ``mc_options`` test options (default
    ``sizes.inference_mc_options``). Bump-and-revalue Greeks are timed for real:
    ``bump_and_revalue_batch`` (13 rows per option) of the first ``greeks_options`` test options
    (default ``sizes.inference_greeks_options``), priced in one ``price_options`` call at the
    matched paths.

    Returns:
        A JSON-ready dictionary: ``device``, ``mae``, ``matched_paths``, the network's options per
        second by batch, Monte Carlo's, the speed-up (the network's fastest batch, recorded as
        ``speedup_batch``, against Monte Carlo), and the Greeks rates of both.
    """
    from ..core.config import DATA_DIR
    from ..core.machine import default_device
    from ..inference import sensitivities as greeks
    from ..networks.loading import load_pretrained

    device = default_device()
    model = load_pretrained(device)
    X = load_test_set(DATA_DIR)[0]
    mae, matched_paths = equal_accuracy_paths(model)
    result = {"device": str(device), "mae": mae, "matched_paths": matched_paths,
              "network_options_per_second": network_rates(model, X, batches)}  # fmt: skip
    if mc_options is None:
        mc_options = sizes.inference_mc_options
    if greeks_options is None:
        greeks_options = sizes.inference_greeks_options
    sample = X[:mc_options]
    price_options(sample[:1], 16, seed=3, backend=sizes.backend)  # compiles, loads the kernel
    mc_seconds = best_seconds(
        lambda: price_options(sample, matched_paths, seed=3, backend=sizes.backend), 1, False
    )
    result["mc_options_per_second"] = len(sample) / mc_seconds
    rates = result["network_options_per_second"]
    fastest = max(rates, key=rates.get)
    result["speedup_batch"] = int(fastest)
    result["speedup_at_equal_accuracy"] = rates[fastest] / result["mc_options_per_second"]
    greeks_seconds = best_seconds(lambda: greeks.greeks(model, X), 3)
    result["network_greeks_options_per_second"] = len(X) / greeks_seconds
    bumped = bump_and_revalue_batch(X[:greeks_options])
    bump_seconds = best_seconds(
        lambda: price_options(bumped, matched_paths, seed=3, backend=sizes.backend), 1, False
    )
    result["mc_greeks_options"] = greeks_options
    result["mc_greeks_options_per_second"] = greeks_options / bump_seconds
    return result


def measure(sizes: config.Sizes, anchor_paths: int = 20_000) -> dict:
    """``results.json``'s ``inference`` (batches of 1, 1,000 and 1,000,000)."""
    return {"inference": time_inference(sizes)}


def lines(result: dict) -> list[str]:
    """Inference's section of ``bench/results.md``."""
    if "inference" not in result:
        return []
    i = result["inference"]
    rates = ", ".join(f"batch {b}: {r:,.0f}" for b, r in i["network_options_per_second"].items())
    return [
        "## Inference against Monte Carlo at equal accuracy (Chapter 7)",
        "",
        f"Network (test MAE {i['mae']:.4f}) on {i.get('device', 'cpu')}, options priced per"
        f" second: {rates}. Monte Carlo at the matching {i['matched_paths']:,} paths per"
        f" option: {i['mc_options_per_second']:,.1f} options/s. Speed-up"
        f" {i['speedup_at_equal_accuracy']:,.0f}x (the article, after Ferguson and Green"
        " (2018), says a network values derivatives about a million times faster than"
        " traditional models).",
        "",
        f"Greeks (all first derivatives and gamma): network"
        f" {i['network_greeks_options_per_second']:,.0f} options/s; bump-and-revalue Monte"
        f" Carlo, 13 prices per option at the matched paths, measured on"
        f" {i.get('mc_greeks_options', 'a few')} options in one call:"
        f" {i['mc_greeks_options_per_second']:,.2f} options/s.",
    ]
