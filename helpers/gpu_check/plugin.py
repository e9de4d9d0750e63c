"""A pytest plugin for ``make gpu-check``'s test step (``-p helpers.gpu_check.plugin``).

On the GPU machine several libraries are missing (Ignite, Dask, QuantLib, FastAPI, ...). A test
module that cannot be imported for that reason, or a test (or its fixture) that raises
``ModuleNotFoundError`` for it, is reported as skipped with ``needs <library>`` instead of as an
error, so that the gpu-marked tests that can run do, and the step fails only on real failures.
An import that fails inside this repository's own packages, or inside a library that is
installed, stays an error.
"""

from __future__ import annotations

import re

import pytest

from .steps import missing_library

NO_MODULE = re.compile(r"No module named '([\w.]+)'")
"""How Python words a ``ModuleNotFoundError``; a failed collection keeps only this text."""


def _skipped(report, path: str, line: int, library: str) -> None:
    """Turns a failed ``report`` into a skip whose reason names ``library``."""
    report.outcome = "skipped"
    report.longrepr = (path, line, f"Skipped: needs {library}")


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A test module that fails to import because a library is missing: skipped."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and isinstance(collector, pytest.Module):
        found = NO_MODULE.search(str(report.longrepr))
        library = missing_library(found.group(1)) if found else None
        if library is not None:
            _skipped(report, str(collector.path), 0, library)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test whose setup, call or teardown raises ``ModuleNotFoundError`` for a library that
    is not installed: skipped."""
    outcome = yield
    report = outcome.get_result()
    if call.excinfo is None or not report.failed:
        return
    if not call.excinfo.errisinstance(ModuleNotFoundError):
        return
    library = missing_library(call.excinfo.value.name)
    if library is not None:
        path, line, _ = item.location
        _skipped(report, path, (line or 0) + 1, library)
