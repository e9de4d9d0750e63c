"""The data pipeline: the streaming dataset (Chapter 2), datasets on disk with Dask and
training from them (Chapter 6)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ..core import config


def time_dataset(sizes: config.Sizes, items: int = 5) -> dict[str, float]:
    """Labelling rate of the streaming dataset at the sizes' training batch (Chapter 2)."""
    from ..data.streaming import OptionDataSet, labelling_rate

    dataset = OptionDataSet(items, n_paths=sizes.train_paths, batch=sizes.train_batch, seed=1)
    return {"device": str(dataset.device), "batch": sizes.train_batch,
            "paths": sizes.train_paths} | labelling_rate(dataset)  # fmt: skip


def time_datagen(sizes: config.Sizes, folder: Path, shards: int = 8) -> dict[str, float]:
    """Options generated per second by ``helpers.datagen`` with 1 and 2 Dask CPU workers.

    Wall time of the whole ``generate_dataset`` call, so the cluster's start (processes,
    imports, JIT) is included, as a user pays it. On a GPU machine the cluster is one worker per
    GPU, so the 2-worker figure is not separate there.
    """
    from ..data import generate as datagen

    figures = {"shards": shards, "options_per_shard": sizes.options_per_shard,
               "paths": sizes.shard_paths}  # fmt: skip
    for workers in (1, 2):
        start = time.perf_counter()
        datagen.generate_dataset(folder / f"workers{workers}", shards, sizes.options_per_shard,
                         sizes.shard_paths, seed=11, workers=workers, progress=False)  # fmt: skip
        seconds = time.perf_counter() - start
        figures[f"options_per_second_{workers}"] = shards * sizes.options_per_shard / seconds
    figures["ratio_2_over_1"] = figures["options_per_second_2"] / figures["options_per_second_1"]
    return figures


def time_training_sources(sizes: config.Sizes, folder: Path, steps: int = 20) -> dict:
    """Training samples per second from files (Chapter 6) and from the streaming dataset
    (Chapter 2), same network and batch, one process, data loading included."""
    import torch
    from torch.utils.data import DataLoader

    from ..core.machine import default_device
    from ..data.on_disk import FileOptionDataSet
    from ..data.streaming import OptionDataSet
    from ..networks.mlp import Net
    from ..training.trainer import make_trainer

    device = default_device()
    files = DataLoader(FileOptionDataSet(str(folder / "workers1"), device=device),
                       batch_size=sizes.train_batch, shuffle=True, drop_last=True)  # fmt: skip
    streaming = OptionDataSet(steps, n_paths=sizes.train_paths, batch=sizes.train_batch, seed=9)
    rates = {}
    for name, data in (("files", files), ("streaming", streaming)):
        model = Net(hidden=sizes.hidden).to(device)
        trainer = make_trainer(model, torch.optim.Adam(model.parameters()), device=device)
        trainer.run(data, max_epochs=1, epoch_length=2)  # warm-up: JIT, allocations
        start = time.perf_counter()
        trainer.run(data, max_epochs=1, epoch_length=steps)
        rates[f"{name}_samples_per_second"] = (
            steps * sizes.train_batch / (time.perf_counter() - start)
        )
    rates["files_over_streaming"] = (
        rates["files_samples_per_second"] / rates["streaming_samples_per_second"]
    )
    return {"device": str(device), "batch": sizes.train_batch, "steps": steps} | rates


def measure(sizes: config.Sizes, anchor_paths: int = 20_000) -> dict:
    """``results.json``'s ``dataset``, ``datagen`` and ``training_sources`` (the shards in a
    temporary folder, removed afterwards)."""
    result = {"dataset": time_dataset(sizes)}
    with tempfile.TemporaryDirectory() as folder:
        result["datagen"] = time_datagen(sizes, Path(folder))
        result["training_sources"] = time_training_sources(sizes, Path(folder))
    return result


def lines(result: dict) -> list[str]:
    """The data pipeline's sections of ``bench/results.md``."""
    out: list[str] = []
    if "dataset" in result:
        d = result["dataset"]
        out += [
            "## Streaming dataset (Chapter 2)",
            "",
            f"`OptionDataSet` on {d['device']}, {d['batch']} options x {d['paths']} paths per item:"
            f" {d['items_per_second']:.2f} items/s, {d['options_per_second']:,.0f} options/s,"
            f" {d['path_steps_per_second']:.3g} nominal path-steps/s"
            " (knocked-out paths stop early).",
        ]
    if "datagen" in result:
        g = result["datagen"]
        out += [
            *([""] if out else []),
            "## Datasets on disk with Dask (Chapter 6)",
            "",
            f"{g['shards']} shards x {g['options_per_shard']} options x {g['paths']} paths, whole"
            f" `generate_dataset` call (cluster start included): 1 worker"
            f" {g['options_per_second_1']:,.0f} options/s, 2 workers"
            f" {g['options_per_second_2']:,.0f} options/s; ratio {g['ratio_2_over_1']:.2f}."
            " Each worker runs Numba on cores / workers threads, so on one machine the ratio"
            " shows the Dask overhead; more workers pay off across machines (--scheduler).",
        ]
    if "training_sources" in result:
        t = result["training_sources"]
        out += [
            *([""] if out else []),
            f"Training samples per second on {t['device']}, batch {t['batch']}, {t['steps']} steps,"
            f" data included: from files {t['files_samples_per_second']:,.0f}, streaming"
            f" {t['streaming_samples_per_second']:,.0f}; files / streaming"
            f" {t['files_over_streaming']:.1f}x.",
        ]
    return out
