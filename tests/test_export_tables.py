"""Chapter 12's tables (``helpers.inference.export.tables``): one row per way of pricing, in
``compare``'s order, with its accuracy and its speed at each batch size."""

from __future__ import annotations

import pytest

from helpers.inference.export import tables


def _rows() -> list[dict]:
    return [
        {"name": "PyTorch float32", "mae": 0.0062, "mae_change": 0.0, "vs_float32": 0.0,
         "max_error": 0.12, "article_error": -0.021, "per_second": {1: 1_800.0, 1_000: 1.7e5},
         "bytes": 803_906},
        {"name": "PyTorch bfloat16 autocast", "mae": 0.0077, "mae_change": 0.23,
         "vs_float32": 0.002, "max_error": 0.118, "article_error": None,
         "per_second": {1: 1_300.0, 1_000: 2.1e5}, "bytes": None},
    ]  # fmt: skip


def test_accuracy_rows_keep_compares_order_and_mark_an_article_error_not_measured():
    rows = tables.accuracy_rows(_rows())
    assert [r[0] for r in rows] == ["PyTorch float32", "PyTorch bfloat16 autocast"]
    assert rows[0][1:] == [0.0062, "0%", 0.0, 0.12, "-0.021"]
    assert rows[1][-1] == ""
    text = tables.accuracy_table(_rows()).data
    assert "| PyTorch bfloat16 autocast | 0.0077 | +23% | 0.0020 | 0.118 |  |" in text


def test_speed_rows_show_each_batch_and_the_shipped_size():
    rows = tables.speed_rows(_rows(), (1, 1_000))
    assert rows[0] == ["PyTorch float32", 1_800.0, 1.7e5, "804"]
    assert rows[1][-1] == ""
    text = tables.speed_table(_rows(), (1, 1_000)).data
    assert text.splitlines()[0] == "| way (options/s) | batch 1 | batch 1,000 | file kB |"
    assert "| PyTorch float32 | 1,800 | 170,000 | 804 |" in text


def test_speed_rows_refuse_a_batch_that_was_not_timed():
    with pytest.raises(ValueError, match="batch sizes \\[5\\]"):
        tables.speed_rows(_rows(), (1, 5))
