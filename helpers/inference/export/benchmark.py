"""Chapter 12's table at the benchmark's sizes, for ``make bench`` (``helpers.benchmark``)."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import torch

from ...core.config import DATA_DIR
from ...core.domain import ARTICLE_NETWORK_EXAMPLE, sobol_options
from ...core.machine import int8_dot_product
from ...data.test_set import load_test_set
from ...networks.loading import load_pretrained
from ..pricing import price
from .comparison import (
    GOAL_MAE_CHANGE,
    GOAL_SPEEDUP,
    candidates,
    compare,
    signed_percent,
    verdicts,
)
from .engines import engine_candidates
from .qat import qat_finetune

BENCH_BATCHES = (1, 1_000, 1_000_000)
"""Batch sizes of the benchmark's table: one option, a desk's batch, a risk run."""

BENCH_QAT_OPTIONS = 65_536
"""Options of the benchmark's quantization-aware fine-tuning (one epoch)."""


def time_quantized(batches: tuple[int, ...] = BENCH_BATCHES) -> dict:
    """Every way of running the shipped pricer (``candidates``, and ``engine_candidates``: the
    engines that run here), measured by ``compare`` on
    the shipped test set, with the verdicts on the claims of the quantization-aware training
    article (int8 4x smaller, 2 to 3x faster, QAT losing under 2%) and the course's target.

    Returns:
        A JSON-ready dict: ``rows`` (``compare``'s), ``verdicts``, ``batches``, ``threads``,
        ``int8_dot_product``, ``qat_options`` and ``seconds``.
    """
    start = time.perf_counter()
    model = load_pretrained()
    X, y, _ = load_test_set(DATA_DIR)
    meta = json.loads((DATA_DIR / "pricer.json").read_text())
    article = (ARTICLE_NETWORK_EXAMPLE, meta["evaluation"]["article_point"]["monte_carlo"])
    X_qat = sobol_options(BENCH_QAT_OPTIONS, seed=1)
    tuned = qat_finetune(model, X_qat, price(model, X_qat))
    with tempfile.TemporaryDirectory() as folder:
        found = candidates(model, Path(folder), qat_model=tuned)
        more, missing = engine_candidates(model, X[:256])
        rows = compare(
            found + more, X, y, batches=batches, article=article, repeats=5, min_seconds=0.25
        )
    for row in rows:  # JSON keys are strings
        row["per_second"] = {str(b): v for b, v in row["per_second"].items()}
        row["speedup"] = {str(b): v for b, v in row["speedup"].items()}
    return {
        "batches": list(batches),
        "threads": torch.get_num_threads(),
        "int8_dot_product": int8_dot_product(),
        "qat_options": BENCH_QAT_OPTIONS,
        "engines_missing": missing,
        "rows": rows,
        "verdicts": verdicts(_numeric(rows), 1_000),
        "seconds": time.perf_counter() - start,
    }


def _numeric(rows: list[dict]) -> list[dict]:
    """``rows`` with integer batch keys again (as ``verdicts`` wants them)."""
    return [
        row
        | {
            "per_second": {int(b): v for b, v in row["per_second"].items()},
            "speedup": {int(b): v for b, v in row["speedup"].items()},
        }
        for row in rows
    ]


def quantized_lines(q: dict) -> list[str]:
    """``time_quantized``'s result as Markdown lines: the table, then the verdicts."""
    batches = q["batches"]
    vnni = "with" if q["int8_dot_product"] else "without"
    lines = [
        "## Quantized and exported inference (Chapter 12)",
        "",
        f"The shipped pricer on the 512 test options; {q['threads']} threads for PyTorch and"
        f" ONNX Runtime alike, a CPU {vnni} an int8 dot-product instruction (VNNI); QAT"
        f" fine-tuned on {q['qat_options']:,} options, one epoch. Options/s are the best of"
        " 5 timed runs of at least 0.25 s each (one run at batches above 100,000); both"
        " frameworks price batches above 16,384 options in slices of 16,384; the change is"
        f" the test MAE's against PyTorch float32's. Measured in {q['seconds']:.0f} s.",
        "",
        "| way | test MAE | change | max error | article error | "
        + " | ".join(f"options/s, batch {b:,}" for b in batches)
        + " | file bytes |",
        "|---|---|---|---|---|" + "---|" * len(batches) + "---|",
    ]
    for r in q["rows"]:
        size = "" if r["bytes"] is None else f"{r['bytes']:,}"
        article = "" if r["article_error"] is None else f"{r['article_error']:+.3f}"
        speeds = " | ".join(
            f"{r['per_second'][str(b)]:,.0f} ({r['speedup'][str(b)]:.2f}x)" for b in batches
        )
        lines.append(
            f"| {r['name']} | {r['mae']:.4f} | {signed_percent(r['mae_change'])}"
            f" | {r['max_error']:.3f} | {article} | {speeds} | {size} |"
        )
    if q.get("engines_missing"):
        lines += ["", "Left out on this machine: " + "; ".join(q["engines_missing"]) + "."]
    lines += [
        "",
        f"The course's target: {GOAL_SPEEDUP:g}x PyTorch float32's options/s at a batch of"
        f" 1,000 with a test MAE at most {GOAL_MAE_CHANGE:.0%} above float32's.",
        "",
        "The quantization-aware training article's claims and the course's target, against"
        " this run:",
        "",
        "| claim | measured here | verdict |",
        "|---|---|---|",
        *(f"| {claim} | {measured} | {verdict} |" for claim, measured, verdict in q["verdicts"]),
    ]
    return lines


def measure(sizes: object = None, anchor_paths: int = 20_000) -> dict:
    """``make bench``'s topic ``quantized`` (``helpers.benchmark.runner``): ``results.json``'s
    ``quantized``."""
    return {"quantized": time_quantized()}


def lines(result: dict) -> list[str]:
    """Quantized inference's section of ``bench/results.md``."""
    return quantized_lines(result["quantized"]) if "quantized" in result else []
