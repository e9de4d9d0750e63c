"""How good a pricer is: its errors on the shipped test set (``helpers.data.test_set``) and
its price and Greeks at the article's network example (``ARTICLE_NETWORK_EXAMPLE``) against
Monte Carlo, with the course's targets for each; ``python -m helpers.pretrain evaluate`` records
them in ``data/pricer.json``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.domain import ARTICLE_NETWORK_EXAMPLE
from ..core.files import write_json
from ..data.test_set import NEAR_ZERO, load_test_set
from ..mc import price_options
from ..networks.loading import load_pretrained
from .pricing import price
from .sensitivities import greeks

ARTICLE_PATHS = 2_048_000
"""Monte Carlo paths for the article's network example, as in the article."""
ARTICLE_SEED = 99
ARTICLE_TARGET = 0.03
"""The network should price the article's network example within this of Monte Carlo."""
MAE_TARGET = 0.05
"""The shipped network's mean absolute error on the test set should be at most this."""
ACCURATE_MAE = 0.03
"""Chapters 9 and 10's goal, a pricer as accurate as the article's: test MAE at most this ..."""
ACCURATE_MAE_ABOVE = 0.04
"""... at most this on the test options worth at least ``NEAR_ZERO``, the article's network example
within ``ARTICLE_TARGET``, and its Greeks there within ``GREEK_TARGETS``."""
GREEK_TARGETS = {"delta": 0.01, "gamma": 0.002, "vega": 0.5}
"""The network's Greeks at the article's network example should be within these of Monte Carlo's."""
GREEKS_PATHS = 4_194_304
"""Paths of the adjoint Monte Carlo Greeks at the article's network example (survival estimator)."""
GREEKS_SEED = 7
MC_COLUMN = {"delta": "S0", "gamma": "gamma", "vega": "sigma"}
"""Where each of the network's Greeks is in ``price_options(..., greeks=True).greeks``."""


def evaluation(model, folder: Path | str = "data", *, backend: str = "numba") -> dict:
    """The model's accuracy on the shipped test set and at the article's network example.

    Args:
        model: the pricing network (``helpers.networks.mlp.Net``).
        folder: where ``test_options.csv`` is.
        backend: the Monte Carlo backend for the article's network example (``ARTICLE_PATHS`` paths,
            seed ``ARTICLE_SEED``).

    Returns:
        A JSON-ready dictionary: test MAE, RMSE and max error; the noise floor (mean standard
        error of the labels); the share of test options priced below ``NEAR_ZERO`` and the MAE
        on each side of it; the article's network example priced by the network and by Monte
        Carlo, the gap and its target; the Greeks there (``article_point_greeks``).
    """
    X, mc_price, mc_stderr = load_test_set(folder)
    error = price(model, X).astype(np.float64) - mc_price
    near = mc_price < NEAR_ZERO
    net = float(price(model, [ARTICLE_NETWORK_EXAMPLE])[0])
    mc = price_options([ARTICLE_NETWORK_EXAMPLE], ARTICLE_PATHS, seed=ARTICLE_SEED, backend=backend)
    gap = net - float(mc.price[0])
    mae = float(np.abs(error).mean())
    greeks = article_point_greeks(model, reference_greeks(backend=backend))
    return {
        "test_options": len(X),
        "test_mae": round(mae, 6),
        "test_rmse": round(float(np.sqrt((error**2).mean())), 6),
        "test_max_error": round(float(np.abs(error).max()), 6),
        "noise_floor_mean_stderr": round(float(mc_stderr.mean()), 6),
        "mae_target": MAE_TARGET,
        "mae_target_met": mae <= MAE_TARGET,
        "near_zero_price": NEAR_ZERO,
        "fraction_priced_near_zero": round(float(near.mean()), 6),
        "mae_priced_near_zero": round(float(np.abs(error[near]).mean()), 6),
        "mae_priced_above": round(float(np.abs(error[~near]).mean()), 6),
        "article_point": {
            "inputs": list(ARTICLE_NETWORK_EXAMPLE),
            "network": round(net, 6),
            "monte_carlo": round(float(mc.price[0]), 6),
            "monte_carlo_stderr": round(float(mc.stderr[0]), 6),
            "paths": ARTICLE_PATHS,
            "seed": ARTICLE_SEED,
            "backend": mc.backend,
            "gap": round(gap, 6),
            "target": ARTICLE_TARGET,
            "target_met": abs(gap) <= ARTICLE_TARGET,
        },
        "article_point_greeks": greeks,
    }


def reference_greeks(paths: int = GREEKS_PATHS, *, backend: str = "numba"):
    """The survival estimator's adjoint Monte Carlo Greeks at the article's network example
    (``paths`` paths, seed ``GREEKS_SEED``, gamma included): an ``MCResult`` of one option."""
    point = np.array([ARTICLE_NETWORK_EXAMPLE])
    return price_options(point, paths, seed=GREEKS_SEED, backend=backend, greeks=True)


def article_point_greeks(model, reference=None) -> dict:
    """Delta, gamma and vega at the article's network example: the network's by autograd against
    ``reference`` (default: ``reference_greeks()``).

    Returns:
        ``{greek: {"network", "monte_carlo", "monte_carlo_stderr", "gap", "target",
        "target_met"}}`` for ``GREEK_TARGETS``, plus ``"paths"``.
    """
    mc = reference if reference is not None else reference_greeks()
    net = greeks(model, np.array([ARTICLE_NETWORK_EXAMPLE]))
    out: dict = {"paths": int(mc.n_paths)}
    for name, target in GREEK_TARGETS.items():
        column = MC_COLUMN[name]
        value, se = float(mc.greeks[column][0]), float(mc.greeks_stderr[column][0])
        gap = float(net[name][0]) - value
        out[name] = {"network": round(float(net[name][0]), 6), "monte_carlo": round(value, 6),
                     "monte_carlo_stderr": round(se, 6), "gap": round(gap, 6),
                     "target": target, "target_met": abs(gap) <= target}  # fmt: skip
    return out


def record_evaluation(folder: Path | str = "data", test: Path | str | None = None) -> dict:
    """Evaluates the model in ``folder`` (``evaluation``, on the test set in ``test``, default
    ``folder``) and records the figures in its ``pricer.json`` under ``"evaluation"``. The
    weights are not touched."""
    folder = Path(folder)
    test = Path(test) if test is not None else folder
    command = f"python -m helpers.pretrain evaluate --out {folder}"
    command += f" --test {test}" if test != folder else ""
    figures = {"command": command} | evaluation(load_pretrained(folder=folder), test)
    meta = json.loads((folder / "pricer.json").read_text())
    meta["evaluation"] = figures
    write_json(folder / "pricer.json", meta)
    return figures
