"""helpers.inference.shipped_pricer: the tables of Chapter 10, on the shipped records and on
small made-up ones whose answers are known."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from helpers.core.config import DATA_DIR
from helpers.core.domain import ARTICLE_NETWORK_PRICE
from helpers.inference import evaluation
from helpers.inference import shipped_pricer as sp
from helpers.mc.result import MCResult


def rows_of(markdown) -> list[list[str]]:
    """The body rows of a ``report.table``, cell by cell."""
    lines = markdown.data.splitlines()[2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_barrier_bands_split_by_barrier_over_spot_and_put_a_zero_spot_last():
    X = np.array([[100, 10, 100, 0.2, 0.1, 0.05],  # B / S0 = 0.1
                  [100, 60, 100, 0.2, 0.1, 0.05],  # 0.6: the middle band
                  [100, 95, 100, 0.2, 0.1, 0.05],  # 0.95
                  [100, 50, 0.0, 0.2, 0.1, 0.05]])  # fmt: skip
    bands = sp.barrier_bands(X)
    assert list(bands) == [*sp.BARRIER_BANDS, "all"]
    assert [int(np.flatnonzero(m)[0]) for m in list(bands.values())[:3]] == [0, 1, 2]
    assert bands["0.9 and above"].tolist() == [False, False, True, True]
    assert sum(bands[b].sum() for b in sp.BARRIER_BANDS) == len(X) == bands["all"].sum()


def test_band_table_reports_count_mean_and_median_per_band():
    bands = {"low": np.array([True, True, False]), "all": np.ones(3, dtype=bool)}
    rows = rows_of(sp.band_table(np.array([0.1, 0.3, 2.0]), bands))
    assert rows == [["low", "2", "0.2000", "0.2000"], ["all", "3", "0.8000", "0.3000"]]


def test_closed_form_table_puts_the_base_recipe_first_and_the_closed_form_second():
    results = sp.read_results(DATA_DIR / "ablation.json")
    rows = rows_of(sp.closed_form_table(results, closed_form_mae=results[0]["test_mae"] / 2))
    assert rows[0][0].startswith(results[0]["name"]) and rows[0][2] == "1.00x"
    assert rows[1][0] == "the closed form alone, no network" and rows[1][2] == "0.50x"
    assert len(rows) == 2 + sum(r["kind"] == "residual" for r in results)


def _labels(errors: np.ndarray, stderr: float) -> MCResult:
    return MCResult(price=10.0 + errors, stderr=np.full(errors.size, stderr), n_paths=128,
                    n_steps=365, backend="numpy")  # fmt: skip


def test_label_quality_of_normal_errors_with_the_right_standard_errors():
    rng = np.random.default_rng(0)
    reference = np.full(20_000, 10.0)
    results = [_labels(0.5 * rng.standard_normal(reference.size), 0.5) for _ in range(4)]
    q = sp.label_quality(results, reference, np.zeros_like(reference))
    assert q.typical_z == pytest.approx(1.0, abs=0.02)
    assert q.beyond_3 == pytest.approx(0.0027, abs=0.001)
    assert q.mean_stderr == pytest.approx(0.5) and q.mean_variance == pytest.approx(0.25)
    assert q.label_mae == pytest.approx(0.5 * math.sqrt(2 / math.pi), rel=0.02)
    assert abs(q.mean_error) < 4 * q.mean_error_se


def test_label_quality_leaves_labels_without_a_standard_error_out_of_z_only():
    reference = np.array([1.0, 2.0])
    exact = MCResult(price=np.array([1.0, 2.5]), stderr=np.array([0.0, 0.5]), n_paths=8,
                     n_steps=365, backend="numpy")  # fmt: skip
    q = sp.label_quality([exact], reference, np.zeros(2))
    assert q.typical_z == pytest.approx(1.0 / 0.6745)  # the one z is 0.5 / 0.5
    assert q.label_mae == pytest.approx(0.25) and q.mean_stderr == pytest.approx(0.25)


def test_label_quality_refuses_results_of_another_size():
    with pytest.raises(ValueError, match="results"):
        sp.label_quality([_labels(np.zeros(3), 0.1)], np.zeros(4), np.zeros(4))
    with pytest.raises(ValueError, match="results"):
        sp.label_quality([], np.zeros(4), np.zeros(4))


def test_quality_table_has_a_row_per_estimator():
    q = sp.LabelQuality(0.5, 0.25, 0.4, 1.0, 0.01, -0.001, 0.002)
    rows = rows_of(sp.quality_table({"plain": q, "control": q}, paths=128))
    assert [r[0] for r in rows] == ["plain", "control"]
    assert rows[0][1:5] == ["0.5000", "0.4000", "1.00", "1.0%"]
    assert rows[0][5] == "-0.0010 ± 0.0020"


def test_learning_curves_split_plain_from_differential_by_the_weight():
    runs = {
        "": [{"weight": 0.0, "options": 8, "test_mae": 0.2},
             {"weight": 1.0, "options": 8, "test_mae": 0.1}],
        "closed form, ": [{"weight": 0.0, "options": 8, "test_mae": 0.01}],
    }  # fmt: skip
    assert sp.curve_points(runs) == {
        "plain": ([8], [0.2]),
        "differential": ([8], [0.1]),
        "closed form, plain": ([8], [0.01]),
    }


def test_options_needed_table_says_or_fewer_and_not_reached():
    runs = {
        "": [
            {"weight": w, "options": n, "test_mae": m}
            for w, n, m in ((0.0, 1_000, 0.04), (0.0, 4_000, 0.02),
                            (1.0, 1_000, 0.2), (1.0, 4_000, 0.1))
        ]
    }  # fmt: skip
    rows = rows_of(sp.options_needed_table(runs, targets=(0.05, 0.03)))
    assert rows[0][0] == "plain" and rows[0][1] == "1,000 or fewer"
    assert rows[0][2] not in ("not reached", "1,000 or fewer")  # interpolated
    assert rows[1] == ["differential", "not reached", "not reached"]


def test_the_shipped_curves_are_read_by_prefix():
    runs = sp.read_curves(DATA_DIR)
    assert list(runs) == list(sp.CURVE_FILES) and all(runs.values())


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    return sp.read_records(sp.full_size_folders(DATA_DIR))


def test_every_full_size_pricer_has_its_record_and_the_shipped_one_is_data(records):
    assert list(records) == list(sp.FULL_SIZE)
    shipped = json.loads((DATA_DIR / "pricer.json").read_text())
    assert records["shipped"]["sha256"] == shipped["sha256"]
    assert all("evaluation" in r for r in records.values())


def test_read_records_names_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="make experiments"):
        sp.read_records({"nowhere": tmp_path / "missing"})


def test_recipe_table_names_each_ingredient(records):
    rows = {r[0]: r for r in rows_of(sp.recipe_table(records))}
    assert rows["shipped"][1] == "closed form + homogeneous + 3 inputs"
    assert rows["shipped"][2] == "control variates, 128 paths, + 131,072 in the corner"
    assert rows["no extra inputs"][1] == "closed form + homogeneous"
    assert rows["with derivatives"][3] == "prices, derivatives"
    assert rows["article's recipe"][1:4] == ["article's Net", "plain, 256 paths", "prices"]
    assert rows["shipped"][5] == "cpu, 1 thread"


def test_fitted_to_and_training_machine_read_the_record():
    assert sp.fitted_to({"command": "x --weight 0.0 --batch 8"}) == "prices"
    assert sp.fitted_to({"command": "x --weight 1 --batch 8"}) == "prices, derivatives"
    assert sp.fitted_to({"command": "x --batch 8"}) == "prices"
    assert sp.training_machine({"device": "cpu", "threads": 2}) == "cpu, 2 threads"
    assert sp.training_machine({"device": "cuda"}) == "cuda, threads not recorded"


def test_recorded_note_counts_the_pricers_on_each_machine(records):
    note = sp.recorded_note(records)
    assert "cpu, 1 thread (6 pricers)" in note and "pricer.json" in note


def test_corner_counts_add_the_corner_datasets_training_shards():
    record = {
        "data": {"shards": 5, "val_shards": 1, "options_per_shard": 100},
        "oversample_data": {"shards": 3, "val_shards": 1, "options_per_shard": 100},
    }
    counts = sp.corner_counts(record, corner_share=0.05)
    assert counts["training_options"] == 400 and counts["corner_added"] == 200
    assert counts["expected_in_corner"] == 20
    assert counts["share_after"] == pytest.approx(220 / 600)
    assert counts["more_steps"] == pytest.approx(0.5)


def test_example_gaps_are_over_their_targets(records):
    e = records["shipped"]["evaluation"]
    gaps = sp.example_gaps(e)
    assert list(gaps) == ["price", *evaluation.GREEK_TARGETS]
    assert gaps["price"] == pytest.approx(e["article_point"]["gap"] / evaluation.ARTICLE_TARGET)
    assert all(abs(g) <= 1 for g in gaps.values())  # the shipped pricer meets every target


def test_accuracy_corner_greeks_and_measured_tables_have_a_row_each(records):
    assert len(rows_of(sp.accuracy_table(records))) == len(records) + 1  # and the targets
    errors = {n: np.array([0.1, 0.3]) for n in ("a", "b")}
    rows = rows_of(sp.corner_table(errors, np.array([True, False])))
    assert rows[0] == ["a", "0.2000", "0.1000", "0.3000"]
    greeks = {g: {"network": 1.0, "monte_carlo": 0.5, "monte_carlo_stderr": 0.1}
              for g in evaluation.GREEK_TARGETS}  # fmt: skip
    rows = rows_of(sp.greeks_table({"shipped": greeks}, greeks))
    assert rows[0][1] == "0.5000 ± 0.1000" and rows[1][1] == "1.0000"
    machine = {"cpu": "some CPU", "cores": "2"}
    rows = rows_of(sp.measured_table(records, machine, se_ratio=16.6))
    point = records["shipped"]["evaluation"]["article_point"]
    assert rows[2][2] == f"{ARTICLE_NETWORK_PRICE - point['monte_carlo']:+.4f}"
    assert rows[-1][1] == "16.6"
