"""The package's public face: every name in README.md's table is importable from ``helpers``,
the table and ``helpers.__all__`` agree, the names resolve lazily (``import helpers`` loads
neither torch nor Numba), no public name is also a module at the top of ``helpers``, and the
command lines keep their names."""

from __future__ import annotations

import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import helpers

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_names() -> list[str]:
    """The first column of the README's table of public names (section "The package")."""
    section = README.read_text(encoding="utf-8").split("## The package", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(r"^\| `(\w+)` \|", section, flags=re.MULTILINE)


def test_the_readme_table_lists_exactly_the_public_names():
    names = readme_names()
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(helpers.__all__)


@pytest.mark.parametrize("name", readme_names())
def test_every_public_name_imports_from_helpers(name):
    namespace: dict = {}
    exec(f"from helpers import {name}", namespace)
    assert namespace[name] is getattr(helpers, name)


def test_an_unknown_name_is_an_attribute_error_that_names_it():
    with pytest.raises(AttributeError, match="no_such_name"):
        helpers.no_such_name  # noqa: B018


def test_no_public_name_is_also_a_module_at_the_top():
    modules = {m.name for m in pkgutil.iter_modules(helpers.__path__)}
    assert not modules & set(helpers.__all__)


def test_import_helpers_loads_neither_torch_nor_numba():
    code = "import sys, helpers; print(sorted({'torch', 'numba'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "command", ["datagen", "pretrain", "export", "serve", "loadtest", "benchmark",
                "gpu_check", "localvol.market"],
)  # fmt: skip
def test_the_command_lines_keep_their_names(command):
    assert importlib.util.find_spec(f"helpers.{command}") is not None
    out = subprocess.run([sys.executable, "-m", f"helpers.{command}", "--help"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert "usage:" in out.stdout
