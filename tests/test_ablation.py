"""helpers.training.ablation: Chapter 9's experiment suites and how the learning curves are read."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from helpers.training import ablation


def test_each_ablation_row_changes_the_base_recipe_and_names_are_unique():
    suite = ablation.ablation_suite()
    assert suite[0] == ablation.BASE
    names = [e.name for e in suite]
    assert len(set(names)) == len(names)
    fields = [f.name for f in dataclasses.fields(ablation.Experiment) if f.name != "name"]
    for e in suite[1:]:
        assert any(getattr(e, f) != getattr(ablation.BASE, f) for f in fields), e.name


def test_learning_curves_spend_one_path_budget_over_a_16x_span_or_more():
    suite = ablation.curve_suite()
    assert {e.options * e.paths for e in suite} == {ablation.PATH_BUDGET}
    sizes = sorted({e.options for e in suite})
    assert len(sizes) >= 4 and sizes[-1] / sizes[0] >= 16
    assert {e.weight for e in suite} == {0.0, 1.0}


def test_residual_curves_are_the_same_curves_with_the_closed_form_underneath():
    homogeneous, residual = ablation.curve_suite(), ablation.SUITES["residual-curves"]()
    assert [dataclasses.replace(e, kind="homogeneous") for e in residual] == homogeneous
    assert {e.kind for e in residual} == {"residual"}


def test_options_needed_interpolates_in_log_log_and_never_extrapolates():
    runs = [
        {"weight": 0.0, "options": 1_000, "test_mae": 0.2},
        {"weight": 0.0, "options": 4_000, "test_mae": 0.1},
        {"weight": 1.0, "options": 1_000, "test_mae": 0.1},
        {"weight": 1.0, "options": 4_000, "test_mae": 0.025},
    ]
    needed = ablation.options_needed(runs, targets=(0.05, 0.01))
    # differential: MAE falls 4x over a 4x size, so MAE 0.05 (half of 0.1) needs 2x = 2,000
    assert needed["0.05"]["differential"] == pytest.approx(2_000)
    assert needed["0.05"]["plain"] is None and needed["0.01"]["differential"] is None


def test_training_options_refuse_an_unknown_sampling():
    assert ablation.training_options(8, "sobol").shape == (8, 6)
    assert np.isfinite(ablation.training_options(8, "uniform")).all()
    with pytest.raises(ValueError, match="unknown sampling"):
        ablation.training_options(8, "halton")


def test_a_tiny_experiment_runs_and_reports_its_test_error(tmp_path):
    tiny = dataclasses.replace(ablation.BASE, name="tiny", options=256, paths=8, steps=8,
                               batch=64, hidden=8, layers=2)  # fmt: skip
    test = ablation.test_options()
    result = ablation.run(tiny, test.subset(slice(0, 32)), cache=tmp_path)
    assert result["name"] == "tiny" and result["epochs"] == 2
    assert np.isfinite(result["test_mae"]) and result["mae_by_step"][-1][0] == 8
    assert list(tmp_path.glob("*.npz"))  # the labels were cached for the next experiment
