"""Runs the steps of ``make gpu-check`` one after another and writes what they measured.

Each step gets its own wall-time cap (``Step.cap_s``, at most what is left of the whole
check's ``--timeout-s``), enforced with ``SIGALRM``: a step past its cap is interrupted at the
next Python instruction and reported as timed out, and the next step runs. A step that raises
an ``ImportError`` of a library this machine lacks is reported as ``skipped: needs <library>``.
One step's failure never stops the others. The exit status is 1 when a step failed (a
gpu-marked test failed, or a step raised an unexpected error) or timed out, else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib.metadata
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from . import steps as steps_module
from .steps import STEPS, Context, Failed, Skip, Step, StepTimeout, context, missing_library

DEFAULT_OUT = Path("bench/gpu.md")
"""Where a real run writes its report; the dry run never writes there."""

DRY_RUN_OUT = Path("_build/gpu-dry-run.md")
"""Where the dry run writes by default (git-ignored, removed by ``make clean``)."""

TOTAL_BUDGET_S = 240.0
"""The whole real run's default cap, seconds: four minutes, so that two runs fit in the ten
minutes of GPU time a check gets (a cold start compiles the CUDA kernels first)."""

DRY_BUDGET_S = 180.0
"""The dry run's default cap, seconds (a cold Numba cache on two cores costs about a minute)."""

MIN_STEP_S = 5.0
"""A step is not started with less than this many seconds of the budget left."""

NO_GPU = "No CUDA GPU here: make gpu-check has nothing to measure"
"""What ``make gpu-check`` prints, exiting 0, on a machine without a CUDA GPU."""

OPTIONAL_MODULES = (
    "ignite",
    "dask",
    "dask_cuda",
    "QuantLib",
    "fastapi",
    "onnx",
    "onnxscript",
    "torchao",
    "onnxruntime",
    "cupy",
    "numba_cuda",
)
"""Libraries a step or a gpu-marked test may need; the report lists the ones missing here."""


@dataclass
class StepResult:
    """What one step did.

    Attributes:
        step: the step.
        status: ``"ok"``, ``"skipped"``, ``"failed"`` or ``"timed out"``.
        reason: why it was skipped, failed or timed out (empty when ``ok``).
        seconds: its wall time, seconds.
        lines: its figures, Markdown lines.
    """

    step: Step
    status: str
    reason: str = ""
    seconds: float = 0.0
    lines: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``ok``, or the status with its reason (``skipped: needs pytorch-ignite``)."""
        return self.status if not self.reason else f"{self.status}: {self.reason}"


@contextlib.contextmanager
def time_cap(seconds: float) -> Iterator[None]:
    """Raises ``StepTimeout`` in the block once ``seconds`` of wall time have passed.

    Uses ``SIGALRM``, so the exception comes at the next Python instruction (a CUDA call in
    flight finishes first); where there is no ``SIGALRM`` or this is not the main thread, the
    block runs uncapped.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def interrupt(signum, frame) -> None:
        raise StepTimeout(f"ran past its cap of {seconds:.3g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _release_memory() -> None:
    """Frees what a step left on the GPU (CuPy's pool, torch's cache), so the next finds it."""
    gc.collect()
    for release in (_free_cupy, _free_torch):
        with contextlib.suppress(Exception):  # best effort: a library may be missing
            release()


def _free_cupy() -> None:
    if "cupy" in sys.modules:
        import cupy

        cupy.get_default_memory_pool().free_all_blocks()


def _free_torch() -> None:
    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()


def run_step(step: Step, ctx: Context, cap_s: float) -> StepResult:
    """Runs one step under its cap and turns what it raises into a ``StepResult``."""
    start = time.perf_counter()
    result = StepResult(step, "ok")
    try:
        with time_cap(cap_s):
            result.lines = step.run(ctx, cap_s)
    except Skip as skip:
        result.status, result.reason = "skipped", str(skip)
    except StepTimeout as timeout:
        result.status, result.reason, result.lines = "timed out", str(timeout), timeout.lines
    except Failed as failed:
        result.status, result.reason, result.lines = "failed", str(failed), failed.lines
    except ImportError as error:
        library = missing_library(error.name)
        if library is None:
            result.status, result.reason = "failed", _describe(error)
            result.lines = _traceback_lines(error)
        else:
            result.status, result.reason = "skipped", f"needs {library}"
    except Exception as error:  # one step's error must not stop the others
        result.status, result.reason = "failed", _describe(error)
        result.lines = _traceback_lines(error)
    result.seconds = time.perf_counter() - start
    _release_memory()
    return result


def _describe(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text[:300]}"


def _traceback_lines(error: BaseException) -> list[str]:
    lines = traceback.format_exception(type(error), error, error.__traceback__)
    return ["```", *"".join(lines).rstrip().splitlines()[-30:], "```"]


def run_steps(ctx: Context, budget_s: float, steps: Sequence[Step] = STEPS) -> list[StepResult]:
    """Every step in order, each capped at ``min(cap, what is left of budget_s)``; a step with
    less than ``MIN_STEP_S`` left is skipped. Prints one line per step as it ends."""
    deadline = time.perf_counter() + budget_s
    results = []
    for step in steps:
        left = deadline - time.perf_counter()
        if left < MIN_STEP_S:
            result = StepResult(step, "skipped", f"the check's {budget_s:.0f} s were spent")
        else:
            cap = min(steps_module.DRY_CAP_S if ctx.dry_run else step.cap_s, left)
            print(f"gpu-check: {step.name} (at most {cap:.3g} s) ...", flush=True)
            result = run_step(step, ctx, cap)
        print(f"gpu-check: {step.name}: {result.verdict} ({result.seconds:.1f} s)", flush=True)
        results.append(result)
    return results


def gpu_present() -> bool:
    """Whether CuPy or torch sees a CUDA device (nothing else is imported or started)."""
    from ..mc import cupy_backend

    if cupy_backend.is_usable():
        return True
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _cuda_version(number: int) -> str:
    """CUDA's integer version (``13000``) as ``13.0``."""
    return f"{number // 1000}.{number % 1000 // 10}"


def _gpu_rows() -> list[tuple[str, str]]:
    """The device, its driver and CUDA versions, from nvidia-smi, CuPy and torch."""
    rows = []
    with contextlib.suppress(Exception):
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        rows.append(
            (
                "device",
                f"{props['name'].decode()}, {props['totalGlobalMem'] / 2**30:.1f}"
                f" GiB, {props['multiProcessorCount']} multiprocessors, compute"
                f" capability {props['major']}.{props['minor']}",
            )
        )
        runtime = cupy.cuda.runtime
        driver, toolkit = runtime.driverGetVersion(), runtime.runtimeGetVersion()
        rows.append(
            ("CUDA (CuPy)", f"driver API {_cuda_version(driver)}, runtime {_cuda_version(toolkit)}")
        )
    with contextlib.suppress(Exception):
        import torch

        if torch.cuda.is_available():
            if not rows:
                rows.append(("device", torch.cuda.get_device_name(0)))
            rows.append(("CUDA (torch)", str(torch.version.cuda)))
    if shutil.which("nvidia-smi"):
        with contextlib.suppress(Exception):
            query = ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"]
            done = subprocess.run(query, capture_output=True, text=True, timeout=20, check=True)
            rows.append(("driver", done.stdout.strip().splitlines()[0]))
    return rows


def describe(dry_run: bool) -> list[tuple[str, str]]:
    """The machine as ``(what, value)`` rows: the device (``cpu (dry run)`` in the dry run),
    driver and CUDA versions, the CPU, the libraries' versions and the ones missing here."""
    from ..core import machine

    rows = [("device", "cpu (dry run)")] if dry_run else _gpu_rows()
    if not any(name == "device" for name, _ in rows):
        rows.insert(0, ("device", "unknown (neither CuPy nor torch named it)"))
    with contextlib.suppress(Exception):
        machine = machine.describe_machine()
        rows.append(("CPU", f"{machine['cpu']}, {machine['cores']} cores"))
    versions = [f"Python {platform.python_version()}"]
    for name in (
        "numpy",
        "cupy",
        "torch",
        "numba",
        "numba-cuda",
        "onnxruntime",
        "pytest",
        "pytorch-ignite",
    ):
        found = _version(name)
        if name == "cupy":  # the wheel's name carries the CUDA version: cupy-cuda13x
            module = sys.modules.get("cupy")
            found = getattr(module, "__version__", None) or _cupy_distribution()
        if found:
            versions.append(f"{name} {found}")
    rows.append(("versions", ", ".join(versions)))
    missing = sorted({missing_library(m) or "" for m in OPTIONAL_MODULES} - {""})
    rows.append(("missing here", ", ".join(missing) if missing else "none of the optional ones"))
    return rows


def _cupy_distribution() -> str | None:
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().startswith("cupy"):
            return f"{dist.version} ({name})"
    return None


def to_markdown(
    results: Sequence[StepResult],
    machine: Sequence[tuple[str, str]],
    *,
    dry_run: bool,
    date: str,
    seconds: float,
    budget_s: float,
) -> str:
    """The report: the date, the machine, a table of the steps and each step's figures."""
    command = "`make gpu-check" + (" DRY_RUN=1`" if dry_run else "`")
    lines = [
        "# GPU check" + (" (dry run on the CPU)" if dry_run else ""),
        "",
        f"Measured {date} (UTC) by {command} (`python -m helpers.gpu_check"
        + (" --dry-run`)" if dry_run else "`)")
        + f": {len(results)} steps in {seconds:.0f} s of a {budget_s:.0f} s budget.",
    ]
    if dry_run:
        lines += [
            "",
            "Dry run: the same steps on the CPU at tiny sizes (numba for CuPy, torch"
            " on the CPU). No figure here is a GPU's.",
        ]
    lines += ["", "| machine | |", "|---|---|", *(f"| {k} | {v} |" for k, v in machine)]
    lines += ["", "| step | what | result | seconds |", "|---|---|---|---|"]
    lines += [
        f"| {r.step.name} | {r.step.title} | {r.verdict} | {r.seconds:.1f} |" for r in results
    ]
    for r in results:
        lines += ["", f"## {r.step.name}: {r.step.title}", "", f"{r.verdict} ({r.seconds:.1f} s)"]
        if r.lines:
            lines += ["", *r.lines]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m helpers.gpu_check [--dry-run] [--out FILE] [--timeout-s N]``.

    Returns:
        The exit status: 0 when every step passed or was skipped (and without a GPU, where it
        prints ``NO_GPU`` and writes nothing), 1 when a step failed or timed out.
    """
    parser = argparse.ArgumentParser(
        prog="python -m helpers.gpu_check",
        description="Measure the course's GPU code on this machine's CUDA GPU (make gpu-check).",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="the same steps on the CPU at tiny sizes (no GPU needed)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"the report (default {DEFAULT_OUT}; dry run {DRY_RUN_OUT})",
    )
    parser.add_argument(
        "--timeout-s",
        type=float,
        default=None,
        help=f"the whole check's cap in seconds (default {TOTAL_BUDGET_S:.0f};"
        f" dry run {DRY_BUDGET_S:.0f})",
    )
    args = parser.parse_args(argv)
    out = args.out or (DRY_RUN_OUT if args.dry_run else DEFAULT_OUT)
    if args.dry_run and out.resolve() == (steps_module.ROOT / DEFAULT_OUT).resolve():
        parser.error(f"the dry run does not write {DEFAULT_OUT}: it holds a GPU's figures")
    budget = args.timeout_s or (DRY_BUDGET_S if args.dry_run else TOTAL_BUDGET_S)
    if budget <= 0:
        parser.error(f"--timeout-s must be positive, got {budget}")
    if not args.dry_run and not gpu_present():
        print(NO_GPU)
        return 0
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    start = time.perf_counter()
    results = run_steps(context(args.dry_run), budget)
    seconds = time.perf_counter() - start
    text = to_markdown(
        results,
        describe(args.dry_run),
        dry_run=args.dry_run,
        date=date,
        seconds=seconds,
        budget_s=budget,
    )
    from ..core.files import write_atomically

    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, text)
    print(text)
    print(f"gpu-check: wrote {out}")
    bad = [r.step.name for r in results if r.status in ("failed", "timed out")]
    if bad:
        print(f"gpu-check: failed or timed out: {', '.join(bad)}", file=sys.stderr)
    return 1 if bad else 0
