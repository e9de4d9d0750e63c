"""Chapter 13's tables (``helpers.inference.service.tables`` and
``helpers.training.pipeline_tables``): one row per load point, endpoint, engine, timed pass,
trial or executor, with the ratios the chapter's prose reads from them."""

from __future__ import annotations

import math

import pytest

from helpers.inference.service import tables
from helpers.training import pipeline_tables
from helpers.training.sweep import SweepResult


def _point(endpoint="price", window=0, concurrency=64, rate=1_000.0, engine="torch") -> dict:
    return {"endpoint": endpoint, "window_ms": window, "concurrency": concurrency,
            "requests_per_s": rate, "p50_ms": 20.0, "p99_ms": 30.0, "engine": engine,
            "statuses": {"200": 400}}  # fmt: skip


def test_load_rows_keep_the_sweeps_order_and_count_statuses():
    rows = tables.load_rows([_point(), _point(window=2, rate=3_000.0)])
    assert rows[0] == ["price", 0, 64, 1_000.0, 20.0, 30.0, "200: 400"]
    assert rows[1][1] == 2 and len(rows[1]) == len(tables.LOAD_COLUMNS)
    assert (
        "| price | 2 | 64 | 3,000 | 20.0 | 30.0 | 200: 400 |"
        in tables.load_table([_point(window=2, rate=3_000.0)]).data
    )


def test_verdict_rows_name_the_window_only_when_the_target_is_met():
    met = {"endpoint": "price", "best_window_ms": 5, "gain": 6.2, "best_p99_ms": 22.0,
           "window_within_p99_ms": 2, "met": True}  # fmt: skip
    missed = met | {"endpoint": "greeks", "met": False}
    rows = tables.verdict_rows([met, missed])
    assert rows[0] == ["/price", 5, 6.2, 22.0, 2, "met"]
    assert rows[1][-2:] == ["none", "missed"]
    assert "| /greeks | 5 | 6.2 | 22.0 | none | missed |" in tables.verdict_table([missed]).data


def test_engine_rows_divide_by_the_same_engines_unbatched_throughput():
    rows = tables.engine_rows(
        [_point(rate=1_000.0), _point(window=2, rate=3_000.0),
         _point(rate=2_000.0, engine="onnx"), _point(window=2, rate=3_000.0, engine="onnx")]
    )  # fmt: skip
    assert [r[-1] for r in rows] == [1.0, 3.0, 1.0, 1.5]
    with pytest.raises(ValueError, match="onnx"):
        tables.engine_rows([_point(), _point(window=2, engine="onnx")])
    assert "x no batching" in tables.engine_table([_point()]).data


def test_prefetch_rows_follow_time_training():
    timed = {"prefetch": 2, "steps": 72, "seconds": 1.5, "wait_s": 0.05, "step_ms": 20.8}
    assert pipeline_tables.prefetch_rows([timed]) == [[2, 72, 1.5, 0.05, 20.8]]
    assert "| 2 | 72 | 1.50 | 0.05 | 20.8 |" in pipeline_tables.prefetch_table([timed]).data


def _sweep(seconds: float, executor: str = "serial") -> SweepResult:
    rows = [
        {"hidden": 32, "activation": "elu", "lr": 1e-3, "validation_mae": 0.5},
        {"hidden": 64, "activation": "gelu", "lr": 1e-3, "validation_mae": math.nan,
         "error": "ValueError: unknown activation"},
    ]  # fmt: skip
    return SweepResult(rows, executor, 2, 1, seconds)


def test_sweep_rows_show_a_failed_trial_with_its_error():
    rows = pipeline_tables.sweep_rows(_sweep(4.0))
    assert rows[0] == [32, "elu", 1e-3, 0.5, ""]
    assert rows[1][-1].startswith("ValueError") and math.isnan(rows[1][3])
    assert "| 32 | elu | 0.001 | 0.5000 |  |" in pipeline_tables.sweep_table(_sweep(4.0)).data


def test_executor_rows_compare_each_sweep_with_the_serial_one():
    sweeps = {"serial": _sweep(4.0), "process": _sweep(2.5, "process")}
    rows = pipeline_tables.executor_rows(sweeps)
    assert rows == [["serial", 2, 4.0, 1.0], ["process", 2, 2.5, 1.6]]
    with pytest.raises(ValueError, match="baseline"):
        pipeline_tables.executor_rows({"process": _sweep(2.5)})
    assert "| process | 2 | 2.5 | 1.60 |" in pipeline_tables.executor_table(sweeps).data
