"""Chapter 12's tables: every way of running the pricer, by accuracy and by speed.

Both read the rows of :func:`helpers.inference.export.comparison.compare` and return a
Markdown table built by ``helpers.core.report.table``.
"""

from __future__ import annotations

from collections.abc import Sequence

from IPython.display import Markdown

from ...core.report import table
from .comparison import signed_percent

ACCURACY_COLUMNS = ("way", "test MAE", "change", "vs float32", "max error", "article")
"""The columns of :func:`accuracy_table`."""


def accuracy_rows(rows: Sequence[dict]) -> list[list[object]]:
    """One row per way of pricing: its name, its test MAE against Monte Carlo, the MAE's change
    relative to the baseline's, the mean distance from the baseline's prices, the largest error
    and the error at the article's network example.

    Args:
        rows: ``compare``'s rows (keys ``name``, ``mae``, ``mae_change``, ``vs_float32``,
            ``max_error``, ``article_error``); prices and errors in currency units.

    Returns:
        Rows in the order of :data:`ACCURACY_COLUMNS`; the change as text (``signed_percent``,
        never ``"-0%"``) and the article's error as text with its
        sign, empty where none was measured (``None``).
    """
    return [
        [
            r["name"],
            r["mae"],
            signed_percent(r["mae_change"]),
            r["vs_float32"],
            r["max_error"],
            "" if r["article_error"] is None else f"{r['article_error']:+.3f}",
        ]
        for r in rows
    ]


def accuracy_table(rows: Sequence[dict]) -> Markdown:
    """:func:`accuracy_rows` as a table."""
    return table(
        accuracy_rows(rows),
        ACCURACY_COLUMNS,
        {
            "test MAE": "{:.4f}",
            "vs float32": "{:.4f}",
            "max error": "{:.3f}",
        },
    )


def speed_rows(rows: Sequence[dict], batches: Sequence[int]) -> list[list[object]]:
    """One row per way of pricing: options per second at each batch size, and the size of what
    would be shipped in kilobytes (empty where nothing new is shipped).

    Args:
        rows: ``compare``'s rows (keys ``name``, ``per_second`` by batch size, ``bytes``).
        batches: the batch sizes to show, each a key of every row's ``per_second``.

    Returns:
        Rows ``[name, options/s at each batch..., kB as text]``.

    Raises:
        ValueError: a batch size that a row was not timed at.
    """
    out = []
    for r in rows:
        missing = [b for b in batches if b not in r["per_second"]]
        if missing:
            raise ValueError(f"{r['name']} was not timed at batch sizes {missing}")
        size = "" if r["bytes"] is None else f"{r['bytes'] / 1e3:,.0f}"
        out.append([r["name"], *(r["per_second"][b] for b in batches), size])
    return out


def speed_table(rows: Sequence[dict], batches: Sequence[int]) -> Markdown:
    """:func:`speed_rows` as a table, options per second by batch size."""
    speed = [f"batch {b:,}" for b in batches]
    return table(
        speed_rows(rows, batches),
        ["way (options/s)", *speed, "file kB"],
        {name: "{:,.0f}" for name in speed},
    )


def engines_sentence(rows: list[dict], batches: Sequence[int], where: str) -> str | None:
    """Chapter 12's sentence on the engines of ``helpers.inference.export.engines``, from
    ``compare``'s rows (speed-ups keyed by batch as int), or ``None`` if one is missing.

    Args:
        rows: ``compare``'s rows; batches: their batch sizes (1, 1,000 and a largest).
        where: how the sentence starts (``"In this run"``, or the bench run it quotes).
    """
    from .engines import COMPILE_NAME, OPENVINO_NAMES

    named = {r["name"]: r for r in rows}
    if not all(n in named for n in (COMPILE_NAME, *OPENVINO_NAMES)):
        return None
    compiled = named[COMPILE_NAME]["speedup"]
    ov_float, ov_int8 = (named[n] for n in OPENVINO_NAMES)
    top = max(batches)
    return (
        f"{where}, torch.compile priced {compiled[1]:.2f} times PyTorch's options a second at"
        f" a batch of one and {compiled[1_000]:.2f} times at 1,000; OpenVINO float32"
        f" {ov_float['speedup'][1_000]:.2f} and {ov_float['speedup'][top]:.2f} times at 1,000"
        f" and {top:,}, and its int8 {ov_int8['speedup'][1_000]:.2f} and"
        f" {ov_int8['speedup'][top]:.2f} times, with a test MAE {ov_int8['mae_change']:+.0%}"
        " against float32's"
    )
