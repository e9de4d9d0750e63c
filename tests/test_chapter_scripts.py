"""The chapters' ``%%writefile`` scripts (Chapters 5 and 6) read as a person writes them: laid
out by hand, with ``# fmt: off`` right under the magic so that formatters leave them so, and
comments on lines of their own rather than after a bracket that only a formatter would open.

(Ruff skips cells that start with a cell magic such as ``%%writefile``; ``# fmt: off`` also
keeps a formatter off the script itself, once written to ``chapters/work/``.)"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "chapters").glob("[0-9][0-9]_*.ipynb"))


def scripts() -> list[tuple[str, str]]:
    """``(name, body)`` of every ``%%writefile`` cell: the file it writes, what it writes."""
    found = []
    for path in CHAPTERS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            source = "".join(cell["source"])
            if cell["cell_type"] == "code" and source.startswith("%%writefile"):
                magic, body = source.split("\n", 1)
                found.append((f"{path.stem}:{magic.split()[-1]}", body))
    return found


SCRIPTS = scripts()


def test_the_chapters_write_their_scripts():
    assert len(SCRIPTS) >= 2


@pytest.mark.parametrize("name, body", SCRIPTS, ids=[n for n, _ in SCRIPTS])
def test_formatters_are_kept_off_the_script(name, body):
    assert body.splitlines()[0] == "# fmt: off"


@pytest.mark.parametrize("name, body", SCRIPTS, ids=[n for n, _ in SCRIPTS])
def test_the_script_is_python(name, body):
    ast.parse(body)


@pytest.mark.parametrize("name, body", SCRIPTS, ids=[n for n, _ in SCRIPTS])
def test_no_comment_trails_a_formatters_closing_bracket(name, body):
    # the mark of a formatter that wrapped a short line to keep its trailing comment:
    # "ctx = (\n    distributed.init()\n)  # ..."
    wrapped = re.findall(r"^[)\]}]+\s+#.*$", body, flags=re.MULTILINE)
    single = re.findall(r"\(\n\s+[^,\n]+\n\)", body)
    assert not wrapped and not single, wrapped + single
