"""Tables for the chapters: one helper, so that no notebook builds Markdown by hand."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from IPython.display import Markdown


def table(
    rows: Sequence[Sequence[object]],
    columns: Sequence[str],
    formats: Mapping[str, str] | None = None,
) -> Markdown:
    """A Markdown table that Jupyter and the built book render.

    Example:
        >>> table([["a", 1.23456]], ["name", "value"], {"value": "{:.2f}"}).data
        '| name | value |\\n|---|---|\\n| a | 1.23 |'

    Args:
        rows: one sequence of cells per row, as many cells as ``columns``.
        columns: the header.
        formats: ``str.format`` patterns by column name; other cells are shown with ``str``.
            A cell that is ``None`` or a float NaN (no value: a failed run, a column with no
            target) is shown as a dash, whatever its column's format.

    Raises:
        ValueError: a row whose length differs from the header's.
    """
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for k, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"row {k} has {len(row)} cells, the header {len(columns)}")
        cells = [
            NO_VALUE if _missing(v) else formats.get(c, "{}").format(v)
            for c, v in zip(columns, row, strict=True)
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))


NO_VALUE = "\u2014"
"""How a table shows a cell with no value (an em dash)."""


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
