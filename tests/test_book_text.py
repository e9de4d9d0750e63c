"""The book reads as one book: no internal words where a reader looks, every chapter ends with a
Summary and then Exercises in one format, cites its sources, links the chapters it mentions,
shows short cells, writes solutions that run on their own, and names the article's two example
options instead of writing them out."""

from __future__ import annotations

import ast
import builtins
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
FRONT_PAGES = ["intro.md", "notation.md", "gpu.md", "execution.md", "references.md"]
MAX_SHOWN_LINES = 25


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    return "".join(cell["source"])


def shown(cell: dict) -> bool:
    """A code cell whose input the reader sees (hidden-by-default input still counts)."""
    tags = cell.get("metadata", {}).get("tags", [])
    return cell["cell_type"] == "code" and not {"remove-input", "remove-cell"} & set(tags)


def markdown(path: Path) -> str:
    return "\n\n".join(source(c) for c in cells(path) if c["cell_type"] == "markdown")


def reader_texts() -> list[tuple[str, str]]:
    """(name, text) of everything a reader or a user reads: the chapters (prose and code), the
    front and back pages, the READMEs, the bench's report, the package's docstrings and help."""
    texts = [(p.name, "\n".join(source(c) for c in cells(p))) for p in CHAPTERS]
    for name in [
        *FRONT_PAGES,
        "README.md",
        "data/README.md",
        "Makefile",
        "pyproject.toml",
        "environment.yml",
    ]:
        if (ROOT / name).exists():
            texts.append((name, (ROOT / name).read_text(encoding="utf-8")))
    for path in sorted((ROOT / "bench").glob("*.md")) + sorted((ROOT / "helpers").rglob("*.py")):
        texts.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    return texts


INTERNAL_WORDS = re.compile(
    r"seed documents?|\bthe seed (?:was|would|is|says|said)\b|\bthe seed's\b|\bseeds?/"
    r"|\bissues? \d+\b|\bthe issue's (?:target|goal)s?\b|\bsteerers?\b",
    re.IGNORECASE,
)


def test_no_internal_words_where_a_reader_looks():
    found = [
        f"{name}: {m.group(0)!r}"
        for name, text in reader_texts()
        for m in INTERNAL_WORDS.finditer(text)
    ]
    assert not found, "internal words a reader cannot decode:\n" + "\n".join(found)


def h2_headings(path: Path) -> list[str]:
    return re.findall(r"^## (.+?)\s*$", markdown(path), flags=re.MULTILINE)


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_ends_with_a_summary_then_exercises(path):
    assert h2_headings(path)[-2:] == ["Summary", "Exercises"]
    summary = markdown(path).split("\n## Summary", 1)[1].split("\n## Exercises", 1)[0]
    points = re.findall(r"^- ", summary, flags=re.MULTILINE)
    assert 3 <= len(points) <= 5, f"the Summary has {len(points)} points"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercises_have_one_format(path):
    text = markdown(path).split("\n## Exercises", 1)[1]
    numbers = [int(n) for n in re.findall(r"^### Exercise (\d+): \S", text, flags=re.MULTILINE)]
    assert numbers == list(range(1, len(numbers) + 1)) and numbers, numbers
    solutions = re.findall(
        r"^:::\{admonition\} Solution to Exercise (\d+)\n:class: dropdown$",
        text,
        flags=re.MULTILINE,
    )
    assert [int(n) for n in solutions] == numbers


def bib_keys() -> set[str]:
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    return set(re.findall(r"^@\w+\{([^,\s]+),", bib, flags=re.MULTILINE))


CITE = re.compile(r"\{cite(?::\w+)?\}`([^`]+)`")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_cites_its_sources(path):
    keys = [k.strip() for m in CITE.finditer(markdown(path)) for k in m.group(1).split(",")]
    assert keys, "no {cite} in this chapter"
    assert set(keys) <= bib_keys(), set(keys) - bib_keys()


def test_every_bibliography_entry_has_an_address():
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    for entry in re.split(r"\n(?=@)", bib)[1:]:
        key = re.match(r"@\w+\{([^,]+),", entry).group(1)
        has_address = re.search(r"^\s*(doi|url)\s*=", entry, flags=re.MULTILINE)
        assert has_address or "No address known" in entry, key  # said so, with the reason


ROLE = re.compile(r"\{(?:ref|doc|numref)\}`[^`]*`|\[[^\]]*\]\([^)]*\)")


@pytest.mark.parametrize("path", CHAPTERS + [ROOT / p for p in FRONT_PAGES], ids=lambda p: p.stem)
def test_mentions_of_other_chapters_are_links(path):
    text = markdown(path) if path.suffix == ".ipynb" else path.read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)  # code in solutions
    plain = re.findall(r"\bCh(?:apters?|\.) \d+", ROLE.sub("", text))
    assert not plain, f"chapter mentions that are not links: {plain}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_shown_cells_are_short(path):
    long = [
        (i, len(source(c).splitlines()))
        for i, c in enumerate(cells(path))
        if shown(c)
        and not source(c).startswith("%%writefile")
        and len(source(c).splitlines()) > MAX_SHOWN_LINES
    ]
    assert not long, f"shown cells over {MAX_SHOWN_LINES} lines (cell, lines): {long}"


def solution_blocks(path: Path) -> list[str]:
    text = markdown(path).split("\n## Exercises", 1)[-1]
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def free_names(code: str) -> set[str]:
    """Names a block reads that it neither defines, imports nor gets from the builtins."""
    tree = ast.parse(code)
    bound = set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
            bound.add(node.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return loaded - bound


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_exercise_solutions_run_on_their_own(path):
    for block in solution_blocks(path):
        assert not free_names(block), f"{free_names(block)} undefined in:\n{block}"


LITERAL_EXAMPLES = re.compile(
    r"110(?:\.0*)?,\s*100(?:\.0*)?,\s*120(?:\.0*)?,\s*0\.35|21\.22405|0\.8480416|18\.714\b"
)


def test_the_two_example_options_are_named_constants():
    from helpers.core import domain

    mc, network = domain.ARTICLE_MC_EXAMPLE, domain.ARTICLE_NETWORK_EXAMPLE
    assert mc.shape == (2, 6) and len(network) == 6
    assert tuple(mc[0]) != tuple(network)  # mu = 0.15 against mu = 0.10
    assert len(domain.ARTICLE_MC_PRICES) == 2 and domain.ARTICLE_NETWORK_PRICE > 0


def test_the_example_options_are_used_by_name():
    code = [
        (p.name, "\n".join(source(c) for c in cells(p) if c["cell_type"] == "code"))
        for p in CHAPTERS
    ]
    code += [
        (str(p.relative_to(ROOT)), p.read_text(encoding="utf-8"))
        for p in (ROOT / "helpers").rglob("*.py")
        if p.name != "domain.py"
    ]
    found = [
        f"{name}: {m.group(0)}" for name, text in code for m in LITERAL_EXAMPLES.finditer(text)
    ]
    assert not found, "write ARTICLE_MC_EXAMPLE / ARTICLE_NETWORK_EXAMPLE:\n" + "\n".join(found)
