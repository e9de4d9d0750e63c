"""helpers.core.kernel_cache: kernels compile once per source, and a changed source never runs stale
machine code."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.core import kernel_cache

PACKAGE = kernel_cache.PACKAGE_DIR  # helpers/

PROBE = """
import json
import helpers
from helpers.mc import kernel_parts
value = kernel_parts.block_philox(32, 8)
stats = kernel_parts.block_philox.stats
print(json.dumps({"value": value, "hits": sum(stats.cache_hits.values()),
                  "misses": sum(stats.cache_misses.values()), "file": helpers.__file__,
                  "cache": stats.cache_path}))
"""
"""Prices nothing: runs a kernel that inlines Philox from another file (``philox.py``) and
reports its value and where Numba found its machine code."""


@pytest.fixture
def helpers_copy(tmp_path) -> Path:
    """A copy of the package under ``tmp_path/src``, without compiled files."""
    shutil.copytree(PACKAGE, tmp_path / "src" / "helpers",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return tmp_path / "src"


def run_probe(src: Path, cache_root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src), "NUMBA_CACHE_DIR": str(cache_root)}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=src, env=env, check=True,
                         capture_output=True, text=True, timeout=300)  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_numba_kernel_lives_in_a_hashed_package():
    # The cache folder's name hashes KERNEL_PACKAGES only: a kernel elsewhere would escape it.
    jitted = re.compile(r"\bnjit\b|\bcuda\.jit\b|numba\.jit\b|register_jitable")
    outside = [
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] not in kernel_cache.KERNEL_PACKAGES
        and jitted.search(path.read_text())
    ]
    assert outside == []


def test_cache_folder_changes_with_a_kernel_source_and_only_then(helpers_copy):
    copy = helpers_copy / "helpers"
    same = kernel_cache.sources_hash(copy)
    assert same == kernel_cache.sources_hash(PACKAGE)
    report = copy / "core" / "report.py"
    report.write_text(report.read_text() + "\n# not a kernel\n")
    assert kernel_cache.sources_hash(copy) == same
    normals = copy / "mc" / "normals.py"
    normals.write_text(normals.read_text() + "\n# a comment is a change too\n")
    assert kernel_cache.sources_hash(copy) != same


def test_cache_dir_keeps_the_users_root_and_a_parents_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    first = kernel_cache.cache_dir()
    assert first.parent == tmp_path and first.name.startswith(kernel_cache.PREFIX)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(first))  # what a child process inherits
    assert kernel_cache.cache_dir() == first
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert kernel_cache.cache_dir().parent == tmp_path / "xdg" / "gpu-exotics-course"


def test_a_second_process_loads_the_kernel_and_a_changed_helper_recompiles_it(
    helpers_copy, tmp_path
):
    cache_root = tmp_path / "numba-cache"
    first = run_probe(helpers_copy, cache_root)
    assert Path(first["file"]).is_relative_to(helpers_copy)  # the copy runs, not the original
    assert first["misses"] >= 1 and first["hits"] == 0
    second = run_probe(helpers_copy, cache_root)
    assert second["hits"] >= 1 and second["misses"] == 0  # compiled once, loaded after
    assert second["value"] == first["value"]
    # Change a constant of Philox (philox.py), which kernel_parts.py inlines: Numba alone would
    # not notice, since kernel_parts.py itself is unchanged. The folder's hash does.
    philox = helpers_copy / "helpers" / "mc" / "philox.py"
    source = philox.read_text()
    assert "_W0 = np.uint64(0x9E3779B9)" in source
    philox.write_text(source.replace("0x9E3779B9", "0x9E3779BB"))
    changed = run_probe(helpers_copy, cache_root)
    assert changed["misses"] >= 1 and changed["hits"] == 0
    assert changed["cache"] != first["cache"]
    assert changed["value"] != first["value"]  # the new constant ran, not stale machine code
