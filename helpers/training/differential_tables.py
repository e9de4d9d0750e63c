"""Chapter 9's tables: derivative labels, and what they bought in the recorded experiments.

``labels_table`` shows a few options' price and derivative labels. The rest read what ``make
experiments`` recorded in ``data/``: the ablation (``data/ablation.json``, written by
``helpers.training.ablation``), read against the spread of its base recipe over training seeds
(``seed_runs``), and every pair of recorded runs that differ in the derivative term alone
(``prices_against_derivatives``): the learning curves of the network alone and of a closed form
plus the network (``data/curves.json``, ``data/residual_curves.json``), and the two full-size
networks trained with and without it (``data/full_size/prices_only``, ``.../differential``).

Every function here reads or tabulates; none trains or prices. The tables are
``helpers.core.report.table`` Markdown.

Example:
    >>> pairs = prices_against_derivatives("data")
    >>> sorted(pairs)[0]
    'closed form + network, 6,000 steps'
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from IPython.display import Markdown

from ..core import report
from ..core.domain import COLUMNS
from .ablation import BASE, Experiment
from .differential import LabelledOptions

CLOSED_FORM_KIND = "residual"
"""The ``kind`` of the recorded runs whose network corrects a closed form (Chapter 10's)."""

CURVE_FILES = {
    "network alone, 6,000 steps": "curves.json",
    "closed form + network, 6,000 steps": "residual_curves.json",
}
"""The learning curves (``ablation.curve_suite``) by the setting they measure; files in
``data/``."""

FULL_SIZE = {"prices": "full_size/prices_only", "derivatives": "full_size/differential"}
"""The two full-size networks that differ in the derivative term alone, folders in ``data/``."""

FULL_SIZE_SETTING = "network alone, full size"
"""``prices_against_derivatives``' name for the full-size pair."""


def labels_table(labels: LabelledOptions) -> Markdown:
    """One row per option: its strike, barrier and spot in one column, its price label and
    four of its six derivative labels (dP/dK, dP/dB, dP/dS0, dP/dsigma; the drift's and the
    rate's are left out so that the table fits a page's width).

    Args:
        labels: options with derivative labels (``differential.label_options``).

    Raises:
        ValueError: ``labels`` without derivative labels.
    """
    if labels.greeks is None:
        raise ValueError("labels.greeks is None: label the options with their derivatives")
    shown = ("K", "B", "S0", "sigma")
    headers = ["K / B / S0", "price", *(f"dP/d{c}" for c in shown)]
    where = [COLUMNS.index(c) for c in shown]
    rows = [
        [f"{x[0]:.1f} / {x[1]:.1f} / {x[2]:.1f}", p, *(g[i] for i in where)]
        for x, p, g in zip(labels.X, labels.price, labels.greeks, strict=True)
    ]
    return report.table(rows, headers, {h: "{:.4f}" for h in headers[1:]})


def read_results(path: Path | str) -> list[dict]:
    """The experiments a suite recorded: the ``results`` of ``ablation.run_suite``'s JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))["results"]


def network_alone(results: Sequence[dict]) -> list[dict]:
    """The recorded runs without a closed form underneath (``kind`` not ``CLOSED_FORM_KIND``)."""
    return [r for r in results if r["kind"] != CLOSED_FORM_KIND]


def seed_runs(results: Sequence[dict], recipe: Experiment = BASE) -> list[dict]:
    """The runs of ``recipe`` itself, whatever their training seed and name.

    A run matches when every setting of ``recipe`` but ``name`` and ``seed`` is the same
    (a run recorded without a ``seed`` used the default, 0).

    Raises:
        ValueError: fewer than two such runs: no spread to measure.
    """
    settings = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in dataclasses.asdict(recipe).items()
        if k not in ("name", "seed")
    }
    runs = [r for r in results if all(r.get(k) == v for k, v in settings.items())]
    if len(runs) < 2:
        raise ValueError(f"{len(runs)} run(s) of the recipe {recipe.name!r}: need two or more")
    return runs


def ablation_table(results: Sequence[dict]) -> Markdown:
    """The ablation of the network alone: one row per recipe, its test MAE, its MAE on test
    options priced at least 1, and its test MAE over the first row's (the base).

    Args:
        results: ``read_results`` of ``data/ablation.json``; the rows with a closed form
            underneath are left out (``network_alone``).
    """
    rows = network_alone(results)
    base = rows[0]["test_mae"]
    return report.table(
        [[r["name"], r["test_mae"], r["test_mae_above_1"], r["test_mae"] / base] for r in rows],
        ["recipe", "test MAE", "MAE, price >= 1", "vs base"],
        {"test MAE": "{:.4f}", "MAE, price >= 1": "{:.4f}", "vs base": "{:.2f}x"},
    )


def read_record(folder: Path | str) -> dict:
    """A trained pricer's record, ``folder/pricer.json``: its ``command``, ``architecture``,
    ``training_seconds`` and, under ``evaluation``, its figures on the test set
    (``python -m helpers.pretrain evaluate``: ``test_mae``, ``article_point`` and more)."""
    return json.loads((Path(folder) / "pricer.json").read_text(encoding="utf-8"))


def prices_against_derivatives(data_dir: Path | str) -> dict[str, dict[str, list[float]]]:
    """The recorded test MAEs of every pair of runs that differ in the derivative term alone.

    Args:
        data_dir: the folder of ``CURVE_FILES`` and ``FULL_SIZE``'s folders (``data/``).

    Returns:
        ``{setting: {"prices": [...], "derivatives": [...]}}``: for each of ``CURVE_FILES``,
        one test MAE per training-set size, the sizes in increasing order and the same in both
        lists (weight 0 against a positive weight); for ``FULL_SIZE_SETTING``, one each.

    Raises:
        ValueError: a learning curve whose plain and differential runs have different sizes.
    """
    data_dir = Path(data_dir)
    pairs: dict[str, dict[str, list[float]]] = {}
    for setting, file in CURVE_FILES.items():
        by_size: dict[str, dict[int, float]] = {"prices": {}, "derivatives": {}}
        for r in read_results(data_dir / file):
            by_size["derivatives" if r["weight"] > 0 else "prices"][r["options"]] = r["test_mae"]
        if by_size["prices"].keys() != by_size["derivatives"].keys():
            raise ValueError(f"{file}: the plain and differential runs differ in their sizes")
        pairs[setting] = {k: [v[n] for n in sorted(v)] for k, v in by_size.items()}
    pairs[FULL_SIZE_SETTING] = {
        k: [read_record(data_dir / folder)["evaluation"]["test_mae"]]
        for k, folder in FULL_SIZE.items()
    }
    return pairs


def _spread(values: Sequence[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.4f}" if low == high else f"{low:.4f} to {high:.4f}"


def pairs_table(pairs: Mapping[str, Mapping[str, Sequence[float]]]) -> Markdown:
    """``prices_against_derivatives`` as a table: per setting, the test MAEs on prices only and
    on prices and derivatives (their range where there are several), and in how many of the
    pairs the derivatives gave the lower test MAE."""
    rows = []
    for setting, pair in pairs.items():
        prices, derivatives = pair["prices"], pair["derivatives"]
        wins = sum(d < p for p, d in zip(prices, derivatives, strict=True))
        rows.append([setting, len(prices), _spread(prices), _spread(derivatives),
                     f"{wins} of {len(prices)}"])  # fmt: skip
    return report.table(
        rows,
        ["recorded runs", "pairs", "prices only", "prices and derivatives", "derivatives lower"],
    )
