"""Chapter 13's tables of the training pipeline: shards read ahead, and a sweep on several
processes.

Each reads what :func:`helpers.training.shard_training.time_training` or
:func:`helpers.training.sweep.run_sweep` returned and gives a Markdown table built by
``helpers.core.report.table``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from IPython.display import Markdown

from ..core.report import table
from .sweep import SweepResult


def prefetch_rows(timed: Sequence[Mapping[str, float]]) -> list[list[object]]:
    """One row per timed pass: shards read ahead, steps, wall seconds, of them seconds spent
    waiting for shards, and milliseconds per step (waiting included).

    Args:
        timed: ``time_training``'s dicts.
    """
    return [[t["prefetch"], t["steps"], t["seconds"], t["wait_s"], t["step_ms"]] for t in timed]


def prefetch_table(timed: Sequence[Mapping[str, float]]) -> Markdown:
    """:func:`prefetch_rows` as a table."""
    return table(
        prefetch_rows(timed),
        ["shards ahead", "steps", "seconds", "of which waiting", "ms per step"],
        {"seconds": "{:.2f}", "of which waiting": "{:.2f}", "ms per step": "{:.1f}"},
    )


def sweep_rows(result: SweepResult) -> list[list[object]]:
    """One row per trial, in the sweep's order (best validation MAE first, failures last):
    width, activation, learning rate, validation MAE (currency units; ``nan`` for a failed
    trial, shown as a dash) and the error of a failed trial (empty otherwise)."""
    return [
        [
            r["hidden"],
            r["activation"],
            r["lr"],
            r.get("validation_mae", float("nan")),
            r.get("error", ""),
        ]
        for r in result.rows
    ]


def sweep_table(result: SweepResult) -> Markdown:
    """:func:`sweep_rows` as a table."""
    return table(
        sweep_rows(result),
        ["width", "activation", "lr", "validation MAE", "error"],
        {"lr": "{:g}", "validation MAE": "{:.4f}"},
    )


def executor_rows(sweeps: Mapping[str, SweepResult], baseline: str = "serial") -> list[list]:
    """One row per executor: its name, workers, wall seconds of the whole sweep and its speed
    over ``baseline``'s (wall seconds of the baseline over its own).

    Raises:
        ValueError: ``baseline`` is not among ``sweeps``.
    """
    if baseline not in sweeps:
        raise ValueError(f"baseline {baseline!r} is not among the sweeps {list(sweeps)}")
    base = sweeps[baseline].seconds
    return [[name, s.workers, s.seconds, base / s.seconds] for name, s in sweeps.items()]


def executor_table(sweeps: Mapping[str, SweepResult], baseline: str = "serial") -> Markdown:
    """:func:`executor_rows` as a table."""
    return table(
        executor_rows(sweeps, baseline),
        ["executor", "workers", "wall seconds", f"x {baseline}"],
        {"wall seconds": "{:.1f}", f"x {baseline}": "{:.2f}"},
    )
