"""helpers.training.differential_tables: Chapter 9's tables of derivative labels and of what
they bought in the recorded experiments."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from helpers.core.config import DATA_DIR
from helpers.training import ablation, differential_tables
from helpers.training.differential import LabelledOptions


def run(name: str, test_mae: float, **changes) -> dict:
    """A recorded result as ``ablation.run`` writes it (``lr`` a list, as JSON gives it back)."""
    settings = dataclasses.asdict(dataclasses.replace(ablation.BASE, name=name, **changes))
    return settings | {"lr": list(settings["lr"]), "test_mae": test_mae,
                       "test_mae_above_1": 2 * test_mae}  # fmt: skip


def test_labels_table_has_a_row_per_option_and_refuses_labels_without_derivatives():
    X = np.array([[100.0, 80.0, 110.0, 0.2, 0.1, 0.05], [90.0, 50.0, 95.0, 0.3, 0.0, 0.02]])
    labels = LabelledOptions(X.astype(np.float32), np.array([5.0, 7.0]), np.ones((2, 6)))
    lines = differential_tables.labels_table(labels).data.splitlines()
    assert lines[0] == "| K / B / S0 | price | dP/dK | dP/dB | dP/dS0 | dP/dsigma |"
    assert lines[2].startswith("| 100.0 / 80.0 / 110.0 | 5.0000 | 1.0000 |") and len(lines) == 4
    with pytest.raises(ValueError, match="derivatives"):
        differential_tables.labels_table(LabelledOptions(X, np.zeros(2)))


def test_seed_runs_are_the_base_recipe_whatever_the_seed_and_name():
    results = [
        run(ablation.BASE.name, 0.2),
        run("plain", 0.3, weight=0.0),
        run("base again", 0.4, seed=1),
        run("closed form", 0.1, kind=differential_tables.CLOSED_FORM_KIND),
    ]
    del results[0]["seed"]  # a run recorded without its seed: the default
    assert [r["test_mae"] for r in differential_tables.seed_runs(results)] == [0.2, 0.4]
    with pytest.raises(ValueError, match="need two or more"):
        differential_tables.seed_runs(results[:2])


def test_ablation_table_leaves_out_the_closed_form_and_compares_with_the_first_row():
    results = [
        run(ablation.BASE.name, 0.2),
        run("plain", 0.3, weight=0.0),
        run("closed form", 0.1, kind=differential_tables.CLOSED_FORM_KIND),
    ]
    lines = differential_tables.ablation_table(results).data.splitlines()
    assert len(lines) == 4 and "closed form" not in "".join(lines)
    assert lines[3] == "| plain | 0.3000 | 0.6000 | 1.50x |"


def test_prices_against_derivatives_pairs_runs_by_size(tmp_path):
    def write_curve(file: str, maes: dict[tuple[float, int], float]) -> None:
        results = [{"weight": w, "options": n, "test_mae": m} for (w, n), m in maes.items()]
        (tmp_path / file).write_text(json.dumps({"results": results}))

    # written out of order: the pairs come back by increasing size
    write_curve("curves.json", {(0.0, 4096): 0.3, (1.0, 1024): 0.1, (0.0, 1024): 0.2,
                                (1.0, 4096): 0.4})  # fmt: skip
    write_curve("residual_curves.json", {(0.0, 1024): 0.03, (1.0, 1024): 0.09})
    for key, folder in differential_tables.FULL_SIZE.items():
        (tmp_path / folder).mkdir(parents=True)
        mae = 0.04 if key == "prices" else 0.07
        (tmp_path / folder / "pricer.json").write_text(
            json.dumps({"evaluation": {"test_mae": mae}})
        )
    pairs = differential_tables.prices_against_derivatives(tmp_path)
    assert pairs["network alone, 6,000 steps"] == {"prices": [0.2, 0.3], "derivatives": [0.1, 0.4]}
    assert pairs[differential_tables.FULL_SIZE_SETTING] == {"prices": [0.04],
                                                            "derivatives": [0.07]}  # fmt: skip
    lines = differential_tables.pairs_table(pairs).data.splitlines()
    assert lines[2] == (
        "| network alone, 6,000 steps | 2 | 0.2000 to 0.3000 | 0.1000 to 0.4000 | 1 of 2 |"
    )
    assert lines[4].endswith("| 1 | 0.0400 | 0.0700 | 0 of 1 |")
    write_curve("curves.json", {(0.0, 1024): 0.2, (1.0, 4096): 0.1})
    with pytest.raises(ValueError, match="differ in their sizes"):
        differential_tables.prices_against_derivatives(tmp_path)


def test_the_shipped_records_hold_every_pair_and_the_base_recipe_three_times():
    pairs = differential_tables.prices_against_derivatives(DATA_DIR)
    assert [len(p["prices"]) for p in pairs.values()] == [len(ablation.CURVE_OPTIONS)] * 2 + [1]
    runs = differential_tables.read_results(DATA_DIR / "ablation.json")
    assert len(differential_tables.seed_runs(runs)) == 3
    assert runs[0]["name"] == ablation.BASE.name
