"""Chapter 13's tables of the service under load: the load points, the verdicts on the
course's target, and the two engines side by side.

Each reads the rows of :func:`helpers.inference.service.measure.window_sweep` (or the dicts of
:func:`helpers.inference.service.benchmark.verdict`) and returns a Markdown table built by
``helpers.core.report.table``.
"""

from __future__ import annotations

from collections.abc import Sequence

from IPython.display import Markdown

from ...core.report import table

LOAD_COLUMNS = (
    "endpoint",
    "window ms",
    "in flight",
    "requests/s",
    "p50 ms",
    "p99 ms",
    "statuses",
)
"""The columns of :func:`load_table`."""


def _ms(value: float | None) -> float:
    """A latency, NaN where a load point had no answer to measure (``LoadResult``'s ``None``)."""
    return float("nan") if value is None else value


def load_rows(rows: Sequence[dict]) -> list[list[object]]:
    """One row per load point: the endpoint, the batching window (milliseconds, 0: no
    batching), the requests in flight, the throughput (answered requests per second), the
    median and 99th-percentile latencies (milliseconds) and the count of each HTTP status.

    Args:
        rows: ``window_sweep``'s rows.

    Returns:
        Rows in the order of :data:`LOAD_COLUMNS`.
    """
    return [
        [
            r["endpoint"],
            r["window_ms"],
            r["concurrency"],
            r["requests_per_s"],
            _ms(r["p50_ms"]),
            _ms(r["p99_ms"]),
            ", ".join(f"{k}: {v}" for k, v in r["statuses"].items()),
        ]
        for r in rows
    ]


def load_table(rows: Sequence[dict]) -> Markdown:
    """:func:`load_rows` as a table."""
    return table(
        load_rows(rows),
        LOAD_COLUMNS,
        {"requests/s": "{:,.0f}", "p50 ms": "{:.1f}", "p99 ms": "{:.1f}"},
    )


VERDICT_COLUMNS = (
    "endpoint",
    "fastest window ms",
    "x no batching",
    "its p99 ms",
    "window meeting the target",
    "target",
)
"""The columns of :func:`verdict_table`."""


def verdict_rows(verdicts: Sequence[dict]) -> list[list[object]]:
    """One row per endpoint: the window of the highest throughput, its gain over no batching
    and its p99 latency (milliseconds), the window that meets the course's target (or
    ``"none"``) and whether the target was ``"met"`` or ``"missed"``.

    Args:
        verdicts: ``benchmark.verdict``'s dicts, one per endpoint.
    """
    return [
        [
            f"/{v['endpoint']}",
            v["best_window_ms"],
            v["gain"],
            v["best_p99_ms"],
            v["window_within_p99_ms"] if v["met"] else "none",
            "met" if v["met"] else "missed",
        ]
        for v in verdicts
    ]


def verdict_table(verdicts: Sequence[dict]) -> Markdown:
    """:func:`verdict_rows` as a table."""
    return table(
        verdict_rows(verdicts),
        VERDICT_COLUMNS,
        {"x no batching": "{:.1f}", "its p99 ms": "{:.1f}"},
    )


def engine_rows(rows: Sequence[dict]) -> list[list[object]]:
    """One row per engine and window: the engine, the window (milliseconds), the throughput,
    the median and 99th-percentile latencies, and the throughput over the same engine's
    without batching (window 0).

    Args:
        rows: ``window_sweep``'s rows, each engine measured at window 0 among others.

    Raises:
        ValueError: an engine without a row at window 0.
    """
    alone = {r["engine"]: r["requests_per_s"] for r in rows if r["window_ms"] == 0}
    missing = sorted({r["engine"] for r in rows} - set(alone))
    if missing:
        raise ValueError(f"engines {missing} have no row without batching (window_ms 0)")
    return [
        [
            r["engine"],
            r["window_ms"],
            r["requests_per_s"],
            r["p50_ms"],
            r["p99_ms"],
            r["requests_per_s"] / alone[r["engine"]],
        ]
        for r in rows
    ]


def engine_table(rows: Sequence[dict]) -> Markdown:
    """:func:`engine_rows` as a table."""
    return table(
        engine_rows(rows),
        ["engine", "window ms", "requests/s", "p50 ms", "p99 ms", "x no batching"],
        {
            "requests/s": "{:,.0f}",
            "p50 ms": "{:.1f}",
            "p99 ms": "{:.1f}",
            "x no batching": "{:.1f}",
        },
    )
