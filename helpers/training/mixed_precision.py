"""Chapter 4's measurements around mixed precision: ``torch.amp.GradScaler``'s schedule, apex's
fused optimizers timed where apex is installed, and the table that sets this run's full and
mixed precision steps beside the article's.

The training itself is ``helpers.training.trainer`` (``make_trainer(..., precision="mixed")``,
``compare_precisions``); this module only reads and reports it.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable

import torch
from IPython.display import Markdown
from torch import nn

from ..core import report
from ..core.machine import machine_line
from . import trainer

ARTICLE_STEP_MS = {"float32": 12.0, "mixed": 8.0}
"""The article's mean update step on its V100 in milliseconds (Dong 2020): about 12 ms in
float32, about 8 ms with apex ``amp`` at ``opt_level="O1"``; batch 4,800, hidden width 1,024."""

APEX_FUSED = ("FusedAdam", "FusedLAMB")
"""apex's fused optimizers that Chapter 4 times where apex and a CUDA GPU are present."""


def grad_scaler_defaults() -> dict[str, float]:
    """The dynamic loss-scale schedule of ``torch.amp.GradScaler``, read from the installed
    PyTorch rather than restated.

    Example:
        >>> grad_scaler_defaults()["init_scale"] == 2.0**16
        True

    Returns:
        ``{"init_scale", "growth_factor", "backoff_factor", "growth_interval"}``: the starting
        scale, the factor it grows by after ``growth_interval`` steps in a row without an inf
        or NaN gradient, and the factor it shrinks by at a step with one (a step the scaler
        skips).
    """
    parameters = inspect.signature(torch.amp.GradScaler.__init__).parameters
    names = ("init_scale", "growth_factor", "backoff_factor", "growth_interval")
    return {name: parameters[name].default for name in names}


def apex_fused_optimizers() -> dict[str, type]:
    """apex's fused optimizers by name (``APEX_FUSED``), or ``{}`` where apex does not import.

    NVIDIA's apex is built from its sources against the installed PyTorch and CUDA (the
    ``apex`` on PyPI is an unrelated package), so it is optional; its fused optimizers run on
    CUDA only.
    """
    try:
        from apex import optimizers
    except ImportError:
        return {}
    return {name: getattr(optimizers, name) for name in APEX_FUSED if hasattr(optimizers, name)}


def optimizer_step_time(
    initial: nn.Module,
    make_optimizer: Callable[..., torch.optim.Optimizer],
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    *,
    device: torch.device | str,
    lr_start: float,
    lr_end: float,
    precision: str = "mixed",
) -> float:
    """The mean update step, in seconds, of one epoch over ``batches`` training a copy of
    ``initial`` with the optimizer ``make_optimizer(parameters, lr=lr_start)`` builds.

    The run is ``trainer.setup_training`` with its cosine schedule and Ignite ``Timer``, as in
    ``trainer.compare_precisions``, without its warm-up or interleaving: use it to set one
    optimizer beside another on the same batches.

    Example:
        >>> import torch
        >>> from helpers.networks.mlp import Net
        >>> batches = [(torch.rand(8, 6), torch.rand(8))] * 2
        >>> seconds = optimizer_step_time(Net(hidden=8), torch.optim.Adam, batches,
        ...                               device="cpu", lr_start=1e-3, lr_end=1e-4)
        >>> seconds > 0
        True

    Args:
        initial: the network to copy (left untouched).
        make_optimizer: an optimizer class, or any callable ``(parameters, lr=...)``.
        batches: ``(X, Y)`` batches of shapes ``(b, 6)`` and ``(b,)``, made beforehand.
        device, lr_start, lr_end, precision: as in ``trainer.setup_training``.

    Raises:
        ValueError: no batches, or an unknown precision.
    """
    if not batches:
        raise ValueError("batches must hold at least one (X, Y) batch")
    model = copy.deepcopy(initial).to(device)
    run = trainer.setup_training(
        model,
        make_optimizer(model.parameters(), lr=lr_start),
        device=device,
        precision=precision,
        lr_start=lr_start,
        lr_end=lr_end,
        cycle_size=max(len(batches), 2),
        progress=False,
    )
    run.trainer.run(batches, max_epochs=1)
    return run.timer.value()


def _mean_last(losses: list[float], n: int = 5) -> float:
    tail = losses[-n:]
    return sum(tail) / len(tail)


def precision_table(
    full: trainer.Training,
    mixed: trainer.Training,
    *,
    device: torch.device | str,
    batch: int,
    hidden: int,
    warmup: int,
) -> Markdown:
    """Chapter 4's "What we measured": this run's full and mixed precision steps beside the
    article's (``ARTICLE_STEP_MS``, on its V100), machine named on both sides: this run's
    in full (``helpers.core.machine.machine_line``: CPU, cores, vector and matrix
    instructions, GPU).

    Args:
        full, mixed: the ``"float32"`` and ``"mixed"`` runs of ``trainer.compare_precisions``.
        device: where they ran.
        batch: options per batch; hidden: the network's hidden width.
        warmup: the untimed warm-up steps per precision.

    Returns:
        A Markdown table (``helpers.core.report.table``) with columns ``""``, ``"this run"``,
        ``"article"``.
    """
    device = torch.device(device)
    where = machine_line()  # its vector instructions say whether bfloat16 can pay on a CPU
    half = str(trainer.autocast_dtype(device)).replace("torch.", "")
    full_ms, mixed_ms = 1000 * full.timer.value(), 1000 * mixed.timer.value()
    article_full, article_mixed = ARTICLE_STEP_MS["float32"], ARTICLE_STEP_MS["mixed"]
    steps = len(full.losses)
    rows = [
        ["machine", where, "NVIDIA V100"],
        ["backend", f"PyTorch {torch.__version__} `torch.amp` on `{device}`",
         "PyTorch, apex `amp` O1"],
        ["steps timed per precision", f"{steps}, interleaved, after {warmup} warm-up",
         "not reported"],
        ["batch, hidden width", f"{batch:,}, {hidden:,}", "4,800, 1,024"],
        ["full precision step", f"{full_ms:.2f} ms", f"about {article_full:.0f} ms"],
        ["mixed precision step", f"{mixed_ms:.2f} ms ({half})",
         f"about {article_mixed:.0f} ms (float16, apex O1)"],
        ["ratio mixed / full", f"{mixed_ms / full_ms:.2f}", f"{article_mixed / article_full:.2f}"],
        ["final loss, full / mixed",
         f"{_mean_last(full.losses):.2f} / {_mean_last(mixed.losses):.2f}", "not reported"],
    ]  # fmt: skip
    return report.table(rows, ["", "this run", "article"])
