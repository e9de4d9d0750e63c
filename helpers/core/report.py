"""Tables for the chapters: one helper, so that no notebook builds Markdown by hand."""

from __future__ import annotations

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

    Raises:
        ValueError: a row whose length differs from the header's.
    """
    formats = formats or {}
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for k, row in enumerate(rows):
        if len(row) != len(columns):
            raise ValueError(f"row {k} has {len(row)} cells, the header {len(columns)}")
        cells = [formats.get(c, "{}").format(v) for c, v in zip(columns, row, strict=True)]
        lines.append("| " + " | ".join(cells) + " |")
    return Markdown("\n".join(lines))
