"""What a reader sees of the chapters: shown code fits the book's code column, and the cells
that only guard a claim are hidden from the page (they still run under nbval and make book)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("*.ipynb"))
CODE_COLUMN = 88
"""Characters of a code line the book shows at 1280 px without a sideways scroll bar."""
HIDDEN = {"remove-input", "remove-cell", "hide-input", "hide-cell"}


def notebook_cells(path: Path) -> list[dict]:
    """The cells of a stored notebook."""
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def shown_code_cells(path: Path) -> list[tuple[int, str]]:
    """``(index, source)`` of every code cell whose input the book shows."""
    cells = notebook_cells(path)
    return [
        (k, "".join(c["source"]))
        for k, c in enumerate(cells)
        if c["cell_type"] == "code" and not HIDDEN & set(c["metadata"].get("tags", []))
    ]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_shown_code_fits_the_books_code_column(path):
    wide = [
        f"cell {k}, {len(line)} characters: {line[:60]}..."
        for k, source in shown_code_cells(path)
        for line in source.splitlines()
        if len(line) > CODE_COLUMN
    ]
    assert not wide, "\n".join(wide)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_in_the_prose_fits_the_books_code_column(path):
    """Fenced code blocks in Markdown cells (exercises' solutions, for one) are held to the
    same width as code cells."""
    cells = notebook_cells(path)
    wide = []
    for k, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        fenced = False
        for line in "".join(cell["source"]).splitlines():
            if line.lstrip().startswith("```"):
                fenced = not fenced
            elif fenced and len(line) > CODE_COLUMN:
                wide.append(f"cell {k}, {len(line)} characters: {line[:60]}...")
    assert not wide, "\n".join(wide)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_no_shown_cell_asserts(path):
    """Asserts that guard a claim go in a cell of their own tagged ``remove-input``: the cell
    still runs under nbval and make book, and the page shows what teaches."""
    asserting = []
    for k, source in shown_code_cells(path):
        if source.lstrip().startswith("%"):
            continue  # a cell magic's body is not Python for this cell
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assert):
                asserting.append(f"cell {k}: {ast.get_source_segment(source, node)[:60]}")
    assert not asserting, "\n".join(asserting)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_notebooks_are_stored_without_outputs(path):
    cells = notebook_cells(path)
    code = [(k, c) for k, c in enumerate(cells) if c["cell_type"] == "code"]
    stored = [k for k, c in code if c.get("outputs") or c.get("execution_count")]
    assert not stored, f"cells with outputs: {stored}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption(path):
    """A cell that draws with ``helpers.plotting`` or embeds a Plotly figure carries
    ``mystnb.figure.caption`` metadata: the book shows it under the figure."""
    cells = notebook_cells(path)
    uncaptioned = [
        k
        for k, c in enumerate(cells)
        if c["cell_type"] == "code"
        and any(call in "".join(c["source"]) for call in ("plotting.", "plotly_html("))
        and not c["metadata"].get("mystnb", {}).get("figure", {}).get("caption")
    ]
    assert not uncaptioned, f"figure cells without a caption: {uncaptioned}"
