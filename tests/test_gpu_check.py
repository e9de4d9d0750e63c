"""make gpu-check: its dry run on the CPU, the no-GPU exit, its caps and its pytest plugin."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest

from helpers.core import config
from helpers.gpu_check import NO_GPU, STEPS, main, runner, steps
from helpers.gpu_check.steps import Context, Failed, Skip, Step

ROOT = steps.ROOT
NO_CUDA = os.environ | {"CUDA_VISIBLE_DEVICES": ""}  # also a machine with a GPU looks bare


def gpu_check(*args: str, timeout: float) -> subprocess.CompletedProcess:
    """``python -m helpers.gpu_check ARGS`` in a child process, as ``make gpu-check`` runs it."""
    command = [sys.executable, "-m", "helpers.gpu_check", *args]
    return subprocess.run(
        command, cwd=ROOT, env=NO_CUDA, capture_output=True, text=True, timeout=timeout, check=False
    )


def sections(report: str) -> dict[str, list[str]]:
    """The report's step sections: ``{step name: its lines after the heading}``."""
    found: dict[str, list[str]] = {}
    for block in report.split("\n## ")[1:]:
        heading, *body = block.splitlines()
        found[heading.split(":")[0]] = [line for line in body if line.strip()]
    return found


def test_dry_run_reports_every_step_with_figures_or_a_skip_line(tmp_path, capsys):
    out = tmp_path / "gpu.md"
    if runner.gpu_present():  # hide the GPU in a child process: the dry run is the CPU's
        done = gpu_check("--dry-run", "--out", str(out), timeout=240)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    else:  # in this process, so that pytest's coverage of helpers counts its lines
        assert main(["--dry-run", "--out", str(out)]) == 0, capsys.readouterr().err[-3000:]
    report = out.read_text(encoding="utf-8")
    assert "| device | cpu (dry run) |" in report
    assert re.search(r"Measured \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00 \(UTC\)", report)
    found = sections(report)
    assert list(found) == [step.name for step in STEPS]
    for name, lines in found.items():
        verdict = lines[0]
        if verdict.startswith("ok ("):
            assert any(re.search(r"\d", line) for line in lines[1:]), (name, lines)
        else:
            assert verdict.startswith("skipped: "), (name, verdict)
    assert any("tests collected" in line for line in found["gpu-tests"])
    assert "failed" not in report and "timed out" not in report


def test_without_a_gpu_it_says_so_exits_0_and_writes_nothing(tmp_path):
    out = tmp_path / "gpu.md"
    done = gpu_check("--out", str(out), timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip() == NO_GPU
    assert not out.exists()


def test_dry_run_refuses_to_overwrite_the_gpu_figures():
    with pytest.raises(SystemExit) as exit_info:
        main(["--dry-run", "--out", str(ROOT / runner.DEFAULT_OUT)])
    assert exit_info.value.code == 2


def test_missing_library_names_what_to_install_and_never_blames_this_repository(monkeypatch):
    assert steps.missing_library("not_a_library_anywhere.sub") == "not_a_library_anywhere"
    assert steps.missing_library("helpers.no_such_module") is None
    assert steps.missing_library("numpy.no_such_module") is None  # installed: a real error
    assert steps.missing_library(None) is None
    monkeypatch.setattr(steps.importlib.util, "find_spec", lambda name: None)
    assert steps.missing_library("ignite.engine") == "pytorch-ignite"


def test_a_failing_skipping_or_slow_step_does_not_stop_the_others():
    def needs_library(ctx, cap_s):
        raise ModuleNotFoundError("No module named 'not_a_library'", name="not_a_library")

    def raises(ctx, cap_s):
        raise ValueError("a bug")

    def slow(ctx, cap_s):
        time.sleep(30)
        return ["never"]

    def found_a_problem(ctx, cap_s):
        raise Failed("1 test failed", ["`1 failed, 3 passed`"])

    def skips(ctx, cap_s):
        raise Skip("not here")

    def fine(ctx, cap_s):
        return ["42 options/s"]

    ctx = Context(False, config.GPU_SIZES, steps.GPU_SCALE)
    fake = [
        Step(run.__name__, "a fake step", 0.5, run)
        for run in (needs_library, raises, slow, found_a_problem, skips, fine)
    ]
    start = time.perf_counter()
    results = runner.run_steps(ctx, budget_s=60, steps=fake)
    assert time.perf_counter() - start < 10
    assert [r.verdict for r in results] == [
        "skipped: needs not_a_library",
        "failed: ValueError: a bug",
        "timed out: ran past its cap of 0.5 s",
        "failed: 1 test failed",
        "skipped: not here",
        "ok",
    ]
    report = runner.to_markdown(
        results, [("device", "test")], dry_run=False, date="today", seconds=1.0, budget_s=60.0
    )
    assert "42 options/s" in report and "`1 failed, 3 passed`" in report
    assert "ValueError: a bug" in report  # with its traceback


def test_steps_past_the_budget_are_skipped_with_a_line():
    ctx = Context(False, config.GPU_SIZES, steps.GPU_SCALE)
    step = Step("late", "a fake step", 1.0, lambda ctx, cap_s: ["never"])
    (result,) = runner.run_steps(ctx, budget_s=runner.MIN_STEP_S / 2, steps=[step])
    assert result.verdict.startswith("skipped: the check's")


def test_plugin_reports_a_missing_library_as_a_skip_and_a_broken_import_as_a_failure(
    pytester,
):
    pytester.makepyfile(
        test_needs=(
            "import pytest\n\n\n"
            "@pytest.fixture\n"
            "def lib():\n"
            "    import not_a_library_fixture  # noqa\n\n\n"
            "def test_body():\n"
            "    import not_a_library_body  # noqa\n\n\n"
            "def test_fixture(lib):\n"
            "    pass\n\n\n"
            "def test_own_bug():\n"
            "    import helpers.no_such_module  # noqa\n\n\n"
            "def test_passes():\n"
            "    pass\n"
        ),
        test_module_needs="import not_a_library_module  # noqa\n\n\ndef test_x():\n    pass\n",
    )
    # In this process (pytester), so that pytest's coverage of helpers counts the plugin.
    done = pytester.runpytest_inprocess(
        "-ra", "-p", "no:cacheprovider", "-p", "helpers.gpu_check.plugin",
        "--continue-on-collection-errors",
    )  # fmt: skip
    output = done.stdout.str()
    done.assert_outcomes(failed=1, passed=1, skipped=3)
    for name in ("not_a_library_module", "not_a_library_body", "not_a_library_fixture"):
        assert f"needs {name}" in output
    assert "FAILED test_needs.py::test_own_bug" in output
