"""Every way of running the pricer, side by side: accuracy against Monte Carlo, speed, size.

``candidates`` builds the ways Chapter 12 and ``make bench`` compare, each a ``Candidate``:
PyTorch in float32 (the baseline) and under bfloat16 autocast, the deprecated
``torch.ao.quantization.quantize_dynamic``, ONNX Runtime in float32 and in each int8 variant of
``INT8_VARIANTS``, a quantization-aware fine-tuned pricer through the int8 paths, and on a GPU
PyTorch in float16 and bfloat16. ``compare`` measures them on one labelled test set and one set
of batch sizes and returns one row per candidate.
"""

from __future__ import annotations

import copy
import io
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..pricing import price as torch_price
from .onnx_export import export_onnx, network_weight_bytes
from .quantize import quantize_onnx
from .runtime import OnnxPricer

BASELINE = "PyTorch float32"
"""The candidate every change is measured against."""

ORT_LABELS = {
    "float32": "ONNX Runtime float32",
    "dynamic": "ORT int8 dynamic",
    "static": "ORT int8 static",
    "static-float-ends": "ORT int8 static, float ends",
    "blockwise": "ORT int8 blockwise",
}
"""The table's name for each ONNX file (``helpers.inference.export.INT8_VARIANTS`` and float32)."""

TORCH_AO_DEPRECATION = r"torch\.ao\.quantization is deprecated|.*quantized tensor creation"
"""What ``torch.ao.quantization.quantize_dynamic`` warns in PyTorch 2.13: the module is
deprecated in favour of torchao. The course keeps it only as the old baseline, so
``torch_ao_dynamic`` silences exactly these warnings."""


@dataclass(frozen=True)
class Candidate:
    """One way of pricing a batch.

    Attributes:
        name: the table's label.
        price: maps options of shape ``(n, 6)`` (float32, columns ``helpers.core.domain.COLUMNS``)
            to prices of shape ``(n,)``, with the training domain's guard.
        bytes: size of what would be shipped (the ``.onnx`` file, or the state dict as
            ``torch.save`` writes it); ``None`` where nothing new is shipped.
        int8: whether the network's products run on int8 data.
        weight_bytes: bytes of the network's weight matrices in an ONNX file
            (``network_weight_bytes``); ``None`` for the PyTorch ways.
    """

    name: str
    price: Callable[[np.ndarray], np.ndarray]
    bytes: int | None
    int8: bool = False
    weight_bytes: int | None = None


def state_bytes(model: nn.Module) -> int:
    """Bytes of ``torch.save(model.state_dict())``."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def autocast_price(model: nn.Module, dtype: torch.dtype) -> Callable[[np.ndarray], np.ndarray]:
    """``helpers.inference.pricing.price`` under ``torch.autocast`` in ``dtype`` on the model's
    device.

    Autocast runs the network's matrix products in ``dtype``; a ``ResidualPricer``'s closed
    form is float64 and autocast leaves float64 alone.
    """
    device = next(model.parameters()).device.type

    def price(X: np.ndarray) -> np.ndarray:
        with torch.autocast(device, dtype=dtype):
            return torch_price(model, X)

    return price


def torch_ao_dynamic(model: nn.Module) -> nn.Module:
    """The old eager-mode baseline: ``torch.ao.quantization.quantize_dynamic`` of every
    ``nn.Linear`` to int8 (per-tensor weights, activations quantized per call), on a CPU copy.

    Its deprecation warnings (``TORCH_AO_DEPRECATION``) are silenced: the chapter shows it as
    the API the quantization-aware training article uses, not as something to build on.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=TORCH_AO_DEPRECATION)
        return torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(model).float().cpu().eval(), {nn.Linear}, dtype=torch.qint8
        )


def _quiet_price(model: nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    def price(X: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=TORCH_AO_DEPRECATION)
            return torch_price(model, X)

    return price


def candidates(
    model: nn.Module,
    folder: str | Path,
    *,
    qat_model: nn.Module | None = None,
    threads: int | None = None,
    gpu: bool | None = None,
) -> list[Candidate]:
    """The ways of running ``model`` that Chapter 12 compares, ``BASELINE`` first.

    Writes the ONNX files into ``folder``: ``pricer.onnx``, ``pricer.<variant>.onnx`` for each
    int8 variant and, with ``qat_model``, ``qat.onnx`` and ``qat.<variant>.onnx`` for the
    ``static-float-ends`` and ``blockwise`` variants (the two whose layers QAT fine-tunes).

    Args:
        model: a float pricer on the CPU (``helpers.networks.loading.load_pretrained()``).
        folder: where the ONNX files go; created.
        qat_model: the same pricer after ``qat_finetune``, or ``None`` to leave QAT out.
        threads: ONNX Runtime's intra-op threads; default ``torch.get_num_threads()``, so that
            both frameworks use the same cores.
        gpu: add PyTorch float32, float16 and bfloat16 on CUDA; default: when CUDA is there.

    Returns:
        A list of ``Candidate``.
    """
    folder = Path(folder)
    threads = threads if threads is not None else torch.get_num_threads()
    model = model.float().cpu().eval()
    out = [
        Candidate(BASELINE, lambda X: torch_price(model, X), state_bytes(model)),
        Candidate("PyTorch bfloat16 autocast", autocast_price(model, torch.bfloat16), None),
    ]
    old = torch_ao_dynamic(model)
    out.append(Candidate("torch.ao int8 dynamic", _quiet_price(old), state_bytes(old), True))
    float_path = export_onnx(model, folder / "pricer.onnx")
    for variant, label in ORT_LABELS.items():
        path = float_path
        if variant != "float32":
            path = quantize_onnx(float_path, folder / f"pricer.{variant}.onnx", variant)
        out.append(_ort_candidate(label, path, threads))
    if qat_model is not None:
        qat_path = export_onnx(qat_model, folder / "qat.onnx")
        for variant in ("static-float-ends", "blockwise"):
            path = quantize_onnx(qat_path, folder / f"qat.{variant}.onnx", variant)
            out.append(_ort_candidate("QAT, " + ORT_LABELS[variant], path, threads))
    if gpu if gpu is not None else torch.cuda.is_available():
        out += device_candidates(model, "cuda")
    return out


def device_candidates(model: nn.Module, device: str = "cuda") -> list[Candidate]:
    """PyTorch in float32, then under float16 and bfloat16 autocast, on a copy of ``model`` on
    ``device``: the GPU rows of ``candidates`` (named ``PyTorch float32 CUDA`` and so on), with
    no ONNX file, so that ``make gpu-check`` measures them where ONNX is missing.

    Args:
        model: a float pricer (left where it is).
        device: ``"cuda"``, or ``"cpu"`` for ``make gpu-check``'s dry run.

    Returns:
        Three ``Candidate``: float32 first (``compare``'s baseline), then float16 and bfloat16.
    """
    label = "CUDA" if torch.device(device).type == "cuda" else str(device).upper()
    moved = copy.deepcopy(model).float().eval().to(device)
    out = [Candidate(f"PyTorch float32 {label}", lambda X: torch_price(moved, X), None)]
    for dtype in (torch.float16, torch.bfloat16):
        name = f"PyTorch {str(dtype).replace('torch.', '')} {label} autocast"
        out.append(Candidate(name, autocast_price(moved, dtype), None))
    return out


def _ort_candidate(name: str, path: Path, threads: int) -> Candidate:
    pricer = OnnxPricer(path, threads=threads)
    size, weights = path.stat().st_size, network_weight_bytes(path)
    return Candidate(name, pricer.price, size, pricer.quantized, weights)


def options_per_second(
    price: Callable[[np.ndarray], object],
    X: np.ndarray,
    *,
    repeats: int = 3,
    min_seconds: float = 0.05,
) -> float:
    """Throughput of a pricing function on one batch, after one untimed warm-up call.

    Each of ``repeats`` measurements calls ``price(X)`` until ``min_seconds`` have passed (at
    least once), so that a batch of one option is timed over many calls; the best measurement
    counts. A GPU candidate's ``price`` returns NumPy, so each call includes its transfers.

    Args:
        price: maps a batch of shape ``(n, 6)`` to prices.
        X: the batch, shape ``(n, 6)``.
        repeats: measurements, ``>= 1``; min_seconds: least time per measurement, ``>= 0``.

    Returns:
        Options per second (wall clock).

    Raises:
        ValueError: ``repeats`` below 1, a negative ``min_seconds`` or an empty batch.
    """
    if repeats < 1 or min_seconds < 0 or len(X) == 0:
        raise ValueError(
            f"repeats must be >= 1, min_seconds >= 0 and X non-empty, got repeats={repeats}, "
            f"min_seconds={min_seconds}, {len(X)} rows"
        )
    price(X)
    return max(_rate_once(price, X, min_seconds) for _ in range(repeats))


def _rate_once(price: Callable[[np.ndarray], object], X: np.ndarray, min_seconds: float) -> float:
    """Options per second of one measurement: calls until ``min_seconds`` have passed."""
    calls, start = 0, time.perf_counter()
    while True:
        price(X)
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return calls * len(X) / elapsed


def batch_of(X: np.ndarray, n: int) -> np.ndarray:
    """``n`` options made by repeating the rows of ``X`` (float32, C-contiguous)."""
    return np.ascontiguousarray(np.resize(np.asarray(X, dtype=np.float32), (n, X.shape[1])))


def compare(
    found: Sequence[Candidate],
    X: np.ndarray,
    y: np.ndarray,
    *,
    batches: Sequence[int] = (1, 1_000, 1_000_000),
    article: tuple[Sequence[float], float] | None = None,
    repeats: int = 3,
    min_seconds: float = 0.05,
) -> list[dict]:
    """Measures each candidate on one labelled test set.

    Accuracy: each candidate prices the whole test set in one call. Speed: options per second
    on batches of each size in ``batches``, made by repeating the test options: after a
    warm-up call of each, ``repeats`` rounds (one for batches above 100,000 options) in which
    each candidate is measured once (calls for at least ``min_seconds``); the best round
    counts. Round robin spreads the machine's slow spells over all candidates.

    Args:
        found: the candidates (``candidates``); the first is the baseline.
        X: test options, shape ``(n, 6)``; y: their Monte Carlo prices, shape ``(n,)``.
        batches: batch sizes to time, each ``>= 1``.
        article: ``(point, monte_carlo_price)`` to report each candidate's error there.
        repeats, min_seconds: see ``options_per_second``.

    Returns:
        One dict per candidate: ``name``, ``mae`` and ``max_error`` against ``y``,
        ``mae_change`` (relative to the first candidate's MAE), ``vs_float32`` (mean absolute
        difference from the first candidate's prices), ``article_error`` (or ``None``),
        ``per_second`` (``{batch: options/s}``), ``speedup`` (``{batch: ratio to the first
        candidate}``), ``bytes``, ``weight_bytes`` and ``int8``.

    Raises:
        ValueError: no candidates, shapes that do not match, or a batch size below 1.
    """
    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y, dtype=np.float64)
    if not found:
        raise ValueError("compare needs at least one candidate")
    if X.ndim != 2 or X.shape[1] != 6 or y.shape != (len(X),) or len(X) == 0:
        raise ValueError(f"X must be (n, 6) and y (n,), n >= 1: got {X.shape} and {y.shape}")
    if any(int(b) < 1 for b in batches):
        raise ValueError(f"batch sizes must be >= 1, got {list(batches)}")
    rows, base = [], None
    for candidate in found:
        prices = np.asarray(candidate.price(X), dtype=np.float64)
        base = prices if base is None else base
        errors = np.abs(prices - y)
        point_error = None
        if article is not None:
            point, reference = article
            point_error = float(candidate.price(np.asarray([point], np.float32))[0]) - reference
        rows.append(
            {
                "name": candidate.name,
                "mae": float(errors.mean()),
                "max_error": float(errors.max()),
                "vs_float32": float(np.abs(prices - base).mean()),
                "article_error": point_error,
                "per_second": {},
                "bytes": candidate.bytes,
                "weight_bytes": candidate.weight_bytes,
                "int8": candidate.int8,
            }
        )
    for b in (int(b) for b in batches):
        batch = batch_of(X, b)
        for candidate, row in zip(found, rows, strict=True):
            candidate.price(batch)  # warm-up
            row["per_second"][b] = 0.0
        # round robin: each candidate measured once per round, so that a slow spell of the
        # machine falls on all of them alike; the best of the rounds counts
        for _ in range(repeats if b <= 100_000 else 1):
            for candidate, row in zip(found, rows, strict=True):
                rate = _rate_once(candidate.price, batch, min_seconds)
                row["per_second"][b] = max(row["per_second"][b], rate)
    base_mae = rows[0]["mae"]
    for row in rows:
        if base_mae > 0:
            row["mae_change"] = row["mae"] / base_mae - 1.0
        else:  # an exact baseline: any error is an infinite relative change
            row["mae_change"] = 0.0 if row["mae"] == 0 else float("inf")
        row["speedup"] = {b: row["per_second"][b] / rows[0]["per_second"][b] for b in batches}
    return rows


GOAL_SPEEDUP = 2.0
"""The course's target for the fastest CPU path at a batch of 1,000: this many times PyTorch
float32's options per second ..."""
GOAL_MAE_CHANGE = 0.10
"""... with a test MAE at most this much (relative) above float32's."""


def _named(rows: Sequence[dict], name: str) -> dict | None:
    return next((r for r in rows if r["name"] == name), None)


def fastest_accurate(rows: Sequence[dict], batch: int = 1_000) -> dict:
    """The CPU candidate with the most options per second at ``batch`` among those whose test
    MAE is at most ``GOAL_MAE_CHANGE`` above the baseline's (the baseline qualifies)."""
    cpu = [r for r in rows if "CUDA" not in r["name"] and r["mae_change"] <= GOAL_MAE_CHANGE]
    return max(cpu, key=lambda r: r["per_second"][batch])


def signed_percent(x: float, digits: int = 0) -> str:
    """``x`` as a signed percentage, ``"0%"`` where it rounds to zero (never ``"-0%"``)."""
    text = f"{x:+.{digits}%}"
    return "0%" if float(text[:-1]) == 0 else text


def verdicts(
    rows: Sequence[dict], batch: int = 1_000, *, baseline_per_second: float | None = None
) -> list[list[str]]:
    """The quantization-aware training article's claims and the course's target against
    ``compare``'s rows.

    Needs the rows of ``PyTorch float32``, ``ONNX Runtime float32``, the ORT int8 variants and
    (for the QAT claim) the QAT rows; timings at ``batch``.

    Args:
        rows: ``compare``'s rows; the first is PyTorch float32.
        batch: the batch size the course's target is judged at.
        baseline_per_second: another timing of PyTorch float32 at ``batch`` (e.g. on one
            thread); the target is judged against the faster of it and the first row, so that
            a baseline slowed by a passing load cannot make the target look met.

    Returns:
        Rows ``[claim, measured here, verdict]`` of plain text.
    """
    onnx_float = _named(rows, ORT_LABELS["float32"])
    ptq = [r for r in rows if r["name"].startswith("ORT int8")]
    qat = [r for r in rows if r["name"].startswith("QAT")]
    out = []
    if onnx_float is not None and ptq:
        files = [onnx_float["bytes"] / r["bytes"] for r in ptq]
        weights = [onnx_float["weight_bytes"] / r["weight_bytes"] for r in ptq]
        out.append(
            [
                "int8 makes the model 4x smaller",
                f"network weights {min(weights):.1f}x to {max(weights):.1f}x smaller, "
                f"ONNX files {min(files):.1f}x to {max(files):.1f}x",
                "holds for the weights (1 byte for 4); the files also hold the closed "
                "form's graph, the biases and the scales, which stay float",
            ]
        )
    if ptq:
        fastest = max(ptq, key=lambda r: r["speedup"][batch])
        large = [b for b in fastest["per_second"] if b >= batch]
        ratios = []
        for b in large:
            text = f"{fastest['speedup'][b]:.1f}x PyTorch"
            if onnx_float is not None:
                vs_ort = fastest["per_second"][b] / onnx_float["per_second"][b]
                text += f" and {vs_ort:.1f}x ONNX Runtime float32"
            ratios.append(f"{text} at a batch of {b:,}")
        holds = fastest["speedup"][batch] >= 2.0
        out.append(
            [
                "int8 inference is 2 to 3x faster",
                f"fastest int8 ({fastest['name']}): " + "; ".join(ratios),
                ("holds" if holds else "falls short")
                + f" at a batch of {batch:,} on this CPU; that variant's test MAE is "
                f"{signed_percent(fastest['mae_change'])} against float32's",
            ]
        )
        best_ptq = min(ptq, key=lambda r: r["mae_change"])
        worst_ptq = max(ptq, key=lambda r: r["mae_change"])
        measured = (
            f"PTQ {signed_percent(best_ptq['mae_change'])} ({best_ptq['name']}) to "
            f"{signed_percent(worst_ptq['mae_change'])} ({worst_ptq['name']})"
        )
        verdict = "no QAT row measured"
        if qat:
            measured += "; QAT " + ", ".join(
                f"{signed_percent(r['mae_change'])} ({r['name'].removeprefix('QAT, ')})"
                for r in qat
            )
            gains = []
            for r in qat:
                twin = _named(rows, r["name"].removeprefix("QAT, "))
                if twin is not None:
                    gains.append(twin["mae"] - r["mae"])
            better = [g for g in gains if g > 0]
            verdict = (
                f"QAT beat PTQ on {len(better)} of {len(gains)} variants; the per-tensor "
                "variants lose far more than 10% either way"
            )
        out.append(["QAT loses under 2%, PTQ 5 to 10%", measured, verdict])
    best = fastest_accurate(rows, batch)
    base = rows[0]["per_second"][batch]
    if baseline_per_second is not None:
        base = max(base, float(baseline_per_second))
    speedup = best["per_second"][batch] / base
    out.append(
        [
            f"the course's target: {GOAL_SPEEDUP:g}x PyTorch float32 at a batch of {batch:,}, "
            f"test MAE at most {GOAL_MAE_CHANGE:.0%} above float32's",
            f"{best['name']}: {speedup:.2f}x PyTorch's best ({base:,.0f} options/s), "
            f"MAE {signed_percent(best['mae_change'], 1)}",
            "met" if speedup >= GOAL_SPEEDUP else "missed",
        ]
    )
    return out


def spot_ladder(point: Sequence[float], spots: Sequence[float]) -> np.ndarray:
    """Options equal to ``point`` (``[K, B, S0, sigma, mu, r]``) but for the spot, one per entry
    of ``spots``: shape ``(len(spots), 6)``, float32."""
    X = np.repeat(np.asarray(point, dtype=np.float32)[None, :], len(spots), axis=0)
    X[:, 2] = np.asarray(spots, dtype=np.float32)
    return X


def finite_difference_delta(
    price: Callable[[np.ndarray], np.ndarray], X: np.ndarray, bump: float
) -> np.ndarray:
    """Central finite-difference delta of a pricing function, ``(P(S0 + h) - P(S0 - h)) / 2h``
    with ``h = bump`` (currency units), for each option of ``X`` (shape ``(n, 6)``).

    Raises:
        ValueError: a bump that is not positive.
    """
    if not bump > 0:
        raise ValueError(f"bump must be > 0, got {bump}")
    up, down = np.array(X, dtype=np.float32), np.array(X, dtype=np.float32)
    up[:, 2] += bump
    down[:, 2] -= bump
    up_prices = np.asarray(price(up), np.float64)
    return (up_prices - np.asarray(price(down), np.float64)) / (2 * bump)
