"""helpers.core.report: the chapters' one table helper."""

import pytest

from helpers.core import report


def test_table_formats_by_column_and_renders_markdown():
    md = report.table([["delta", 0.123456, 3], ["gamma", 0.01, 4]], ["greek", "value", "n"],
                      {"value": "{:.3f}"})  # fmt: skip
    assert md.data.splitlines() == [
        "| greek | value | n |",
        "|---|---|---|",
        "| delta | 0.123 | 3 |",
        "| gamma | 0.010 | 4 |",
    ]


def test_table_refuses_a_row_of_the_wrong_length():
    with pytest.raises(ValueError, match="row 1 has 1 cells, the header 2"):
        report.table([["a", 1], ["b"]], ["name", "value"])


def test_a_cell_with_no_value_is_a_dash_whatever_its_format():
    md = report.table([["a", None, float("nan"), 1.5]], ["n", "x", "y", "z"], {"y": "{:.2f}"})
    assert md.data.splitlines()[-1] == "| a | \u2014 | \u2014 | 1.5 |"
