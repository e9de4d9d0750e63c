"""A training step in full and in mixed precision (Chapter 4)."""

from __future__ import annotations

from ..core import config


def time_precisions(sizes: config.Sizes, steps: int = 20) -> dict[str, float]:
    """Mean training step in full and mixed precision, same batches, one run (Chapter 4)."""
    import torch

    from ..core.machine import default_device
    from ..data.streaming import OptionDataSet
    from ..networks.mlp import Net
    from ..training.trainer import autocast_dtype, compare_precisions

    device = default_device()
    batches = list(OptionDataSet(steps, n_paths=16, batch=sizes.train_batch, seed=4))
    torch.manual_seed(0)
    runs = compare_precisions(Net(hidden=sizes.hidden), batches, device=device,
                              lr_start=sizes.lr_start, lr_end=sizes.lr_end)  # fmt: skip
    full, mixed = runs["float32"].timer.value(), runs["mixed"].timer.value()
    return {
        "device": str(device),
        "mixed_dtype": str(autocast_dtype(device)).replace("torch.", ""),
        "batch": sizes.train_batch,
        "hidden": sizes.hidden,
        "steps": steps,
        "float32_ms": 1000 * full,
        "mixed_ms": 1000 * mixed,
        "mixed_over_float32": mixed / full,
    }


def measure(sizes: config.Sizes, anchor_paths: int = 20_000) -> dict:
    """``results.json``'s ``training_step``."""
    return {"training_step": time_precisions(sizes)}


def lines(result: dict) -> list[str]:
    """The training step's section of ``bench/results.md``."""
    if "training_step" not in result:
        return []
    t = result["training_step"]
    return [
        "## Training step, full against mixed precision (Chapter 4)",
        "",
        f"`Net(hidden={t['hidden']})`, batch {t['batch']}, {t['steps']} steps on the same"
        f" batches, on {t['device']}: float32 {t['float32_ms']:.2f} ms, mixed"
        f" ({t['mixed_dtype']}) {t['mixed_ms']:.2f} ms; ratio mixed / float32"
        f" {t['mixed_over_float32']:.2f} (article, V100 with apex O1: 12 ms to 8 ms, 0.67).",
    ]
