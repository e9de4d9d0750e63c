"""Chapter 2's table: what this run measured of the streaming dataset, beside the article's
figures, each column naming its machine."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core import config, machine, report

if TYPE_CHECKING:
    import torch
    from IPython.display import Markdown

ARTICLE_ITEMS = 11
"""Items the article's dataset yields for ``max_len=10`` (its stopping test is one late)."""


def measured_table(
    sizes: config.Sizes,
    device: torch.device | str,
    items_in_example: int,
    items_per_second: float,
    options_per_second: float,
) -> Markdown:
    """'What we measured': the streaming dataset on this run's machine beside the article's.

    The article's column takes its sizes from ``config.GPU_SIZES`` (the article's: 100,000 paths
    per option in the 10-item example, training items of 4,800 options x 1,024 paths).

    Args:
        sizes: this run's sizes (``helpers.core.config.sizes()``).
        device: where the dataset's tensors live.
        items_in_example: items one pass over the 10-item example yielded.
        items_per_second, options_per_second: the labelling rate at this run's training sizes
            (``helpers.data.streaming.labelling_rate``).

    Returns:
        A Markdown table with columns "", "this run" and "the article".
    """
    gpu = config.GPU_SIZES

    def item(s: config.Sizes) -> str:
        return f"{s.train_batch:,} options x {s.train_paths:,} paths"

    def path_steps(s: config.Sizes) -> str:
        return f"{s.train_batch * s.train_paths * 365:,}"

    rows = [
        ["machine", machine.machine_line(), "NVIDIA V100"],
        ["dataset device", f"`{device}`", "`cuda`"],
        ["items in the 10-item example", items_in_example, f"{ARTICLE_ITEMS} (off by one)"],
        [
            "paths per option in the example",
            f"{sizes.dataset_paths:,}",
            f"{gpu.dataset_paths:,}",
        ],
        ["training item", item(sizes), item(gpu)],
        ["path-steps per training item", path_steps(sizes), path_steps(gpu)],
        [
            "labelling rate",
            f"{items_per_second:.2f} items/s, {options_per_second:,.0f} options/s",
            "not reported",
        ],
    ]
    return report.table(rows, ["", "this run", "the article"])
