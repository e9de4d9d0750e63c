"""Chapter 3's table: what this run's training measured, beside the article's figures, each
column naming its machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import config, machine, report

if TYPE_CHECKING:
    import torch
    from IPython.display import Markdown

ARTICLE_TRAINING = {
    "hidden": "1,024 (prose: 512)",
    "iterations": "10,000 x 100 epochs",
    "step": "about 12 ms",
}
"""The article's training as it reports it (Dong, 2020): the hidden width of its code (its prose
says 512), its iterations per epoch and epochs, and the mean update step on an NVIDIA V100."""


def measured_table(
    *,
    sizes: config.Sizes,
    device: torch.device | str,
    n_parameters: int,
    iterations: int,
    step_seconds: float,
    last_loss: float,
    best_mae: float,
) -> Markdown:
    """'What we measured': this run's training beside the article's.

    Args:
        sizes: this run's sizes (``helpers.core.config.sizes()``).
        device: where the network trained (``cuda``: labels by the CuPy kernel; else Numba).
        n_parameters: the network's parameter count.
        iterations: update steps taken.
        step_seconds: the mean update step of the last epoch (Ignite's ``Timer``), seconds.
        last_loss: the mean training loss of the last 10 iterations (price units squared).
        best_mae: the best validation mean absolute error (price units).

    Returns:
        A Markdown table with columns "", "this run" and "the article".
    """
    import torch

    labels = "CuPy kernel" if torch.device(device).type == "cuda" else "Numba"
    gpu = config.GPU_SIZES
    rows = [
        ["machine", machine.machine_line(), "NVIDIA V100"],
        [
            "backend",
            f"PyTorch {torch.__version__} on `{device}`, float32; labels: {labels}",
            "PyTorch, CuPy",
        ],
        [
            "batch, paths per option",
            f"{sizes.train_batch:,}, {sizes.train_paths:,}",
            f"{gpu.train_batch:,}, {gpu.train_paths:,}",
        ],
        [
            "hidden width, parameters",
            f"{sizes.hidden}, {n_parameters:,}",
            ARTICLE_TRAINING["hidden"],
        ],
        ["iterations", f"{iterations:,}", ARTICLE_TRAINING["iterations"]],
        [
            "mean update step (last epoch)",
            f"{1000 * step_seconds:.1f} ms",
            ARTICLE_TRAINING["step"],
        ],
        ["final loss (mean of last 10)", f"{last_loss:.2f}", "not reported"],
        ["best validation MAE", f"{best_mae:.3f}", "not reported"],
    ]
    return report.table(rows, ["", "this run", "the article"])
