"""Training labels: with their derivatives and the differential training step (Chapter 9), and
priced with control variates (Chapter 10)."""

from __future__ import annotations

import time

import numpy as np

from ..core import config
from .common import best_seconds


def time_differential(n_options: int = 1_024, n_paths: int = 128, steps: int = 20) -> dict:
    """The labels' costs, in one run: with and without their adjoint derivatives, and a training
    step of the shipped architecture with and without the derivative term (Chapter 9); the plain
    estimator against its control-variate version (Chapter 10).

    Labels: ``n_options`` options from the domain, ``n_paths`` paths each, the survival
    estimator's price alone against price and six sensitivities (``gamma=False``), and the plain
    estimator against its control-variate version (rates and the ratio of mean standard
    errors), all threads.
    Training: ``data/pricer.json``'s architecture (or the recipe's default) at batch 1,024 on
    one thread, the mean of ``steps`` steps after two warm-up steps. With ``data/curves.json``
    the options each method needs for a test MAE of 0.05 (``options_needed``) are added.
    """
    import json

    import torch

    from ..core.config import DATA_DIR
    from ..core.domain import sample_options
    from ..mc import price_options
    from ..networks.loading import make_pricer
    from ..training.differential import differential_loss, label_scales

    X = sample_options(n_options, np.random.default_rng(9))
    price_options(X[:4], 8, seed=1, method="survival")  # compile both kernels
    price_options(X[:4], 8, seed=1, method="survival", greeks=True, gamma=False)
    price_s = best_seconds(lambda: price_options(X, n_paths, seed=2, method="survival"), 2)
    greeks_s = best_seconds(lambda: price_options(X, n_paths, seed=2, method="survival",
                                                   greeks=True, gamma=False), 2)  # fmt: skip
    plain, control = (price_options(X, n_paths, seed=2, method=m) for m in ("plain", "control"))
    plain_s = best_seconds(lambda: price_options(X, n_paths, seed=2, method="plain"), 2)
    control_s = best_seconds(lambda: price_options(X, n_paths, seed=2, method="control"), 2)
    meta = DATA_DIR / "pricer.json"
    architecture = {"kind": "homogeneous", "hidden": 256, "layers": 4, "activation": "elu"}
    if meta.exists():
        architecture = json.loads(meta.read_text())["architecture"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        x = torch.as_tensor(sample_options(1_024, np.random.default_rng(3)))
        price, greeks = torch.rand(1_024) * 50, torch.randn(1_024, 6)
        scales = label_scales(price, greeks)
        step_ms = {}
        for name, weight in (("plain", 0.0), ("differential", 1.0)):
            torch.manual_seed(0)
            model = make_pricer(**architecture)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)

            def step(model=model, optimizer=optimizer, weight=weight) -> None:
                optimizer.zero_grad(set_to_none=True)
                differential_loss(model, x, price, greeks, weight, scales)[0].backward()
                optimizer.step()

            for _ in range(2):
                step()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            step_ms[name] = 1000 * (time.perf_counter() - start) / steps
    finally:
        torch.set_num_threads(threads)
    result = {
        "options": n_options,
        "paths": n_paths,
        "labels_price_options_per_s": n_options / price_s,
        "labels_with_greeks_options_per_s": n_options / greeks_s,
        "labels_plain_options_per_s": n_options / plain_s,
        "labels_control_options_per_s": n_options / control_s,
        "control_stderr_ratio": float(plain.stderr.mean() / control.stderr.mean()),
        "architecture": architecture,
        "batch": 1_024,
        "plain_step_ms": step_ms["plain"],
        "differential_step_ms": step_ms["differential"],
    }
    from ..training.ablation import options_needed

    for key, file in (("options_needed", "curves.json"),
                      ("options_needed_residual", "residual_curves.json")):  # fmt: skip
        if (DATA_DIR / file).exists():
            runs = json.loads((DATA_DIR / file).read_text())["results"]
            result[key] = options_needed(runs)
    return result


def differential_lines(d: dict) -> list[str]:
    """``time_differential``'s figures as a Markdown section."""
    with_greeks = d["labels_with_greeks_options_per_s"]
    lines = [
        f"## Derivative labels (Chapter 9): labels of {d['options']} options x"
        f" {d['paths']} paths, survival estimator; training steps at batch {d['batch']}",
        "",
        "| what | plain | differential | differential / plain |",
        "|---|---|---|---|",
        f"| labels, options/s | {d['labels_price_options_per_s']:,.0f} | {with_greeks:,.0f}"
        f" | cost x{d['labels_price_options_per_s'] / with_greeks:.2f} (R) |",
        f"| training step, ms (1 thread) | {d['plain_step_ms']:.1f}"
        f" | {d['differential_step_ms']:.1f}"
        f" | x{d['differential_step_ms'] / d['plain_step_ms']:.2f} |",
    ]

    from ..training.ablation import CURVE_OPTIONS

    def shown(n):
        if n is None:
            return "not reached"
        return f"{n:,.0f}" + (" or fewer" if n == min(CURVE_OPTIONS) else "")

    for key, network in (("options_needed", ""), ("options_needed_residual", ", closed form")):
        for target, needed in d.get(key, {}).items():
            plain, differential = needed.get("plain"), needed.get("differential")
            lines.append(f"| options for test MAE {target}{network}"
                         f" (Chapter 10's learning curves)"
                         f" | {shown(plain)} | {shown(differential)} | |")  # fmt: skip
    if "control_stderr_ratio" in d:
        ratio = d["control_stderr_ratio"]
        lines += [
            "",
            f'Control variates (Chapter 10): price labels with `method="control"`, same'
            f" options and paths: {d['labels_control_options_per_s']:,.0f} options/s against"
            f" {d['labels_plain_options_per_s']:,.0f} for the plain estimator (cost"
            f" x{d['labels_plain_options_per_s'] / d['labels_control_options_per_s']:.2f}),"
            f" mean standard error {ratio:.1f} times smaller. For one option that would be"
            f" worth {ratio**2:,.0f} times the paths; over many options the mean variance"
            " falls less, as Chapter 10 measures.",
        ]
    return lines


def measure(sizes: config.Sizes, anchor_paths: int = 20_000) -> dict:
    """``results.json``'s ``differential``."""
    return {"differential": time_differential()}


def lines(result: dict) -> list[str]:
    """Differential training's section of ``bench/results.md``."""
    return differential_lines(result["differential"]) if "differential" in result else []
