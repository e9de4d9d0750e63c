"""Training batches read shard by shard from a dataset on disk, with the next shards read in
the background while the model trains on the current one.

Chapter 6's ``FileOptionDataSet`` loads every shard before the first step. A dataset larger
than memory, or one on slow storage, wants the opposite: read one shard, train on it, read the
next. Read in the training loop's own thread, each read is a pause; ``ShardBatches`` with
``prefetch > 0`` runs the reads in a background thread (pyarrow's Parquet reader releases the
GIL), ``prefetch`` shards ahead, so that a read overlaps the training steps of the shard before.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ..core.domain import COLUMNS


def shard_files(path: str | Path, split: str = "train") -> list[Path]:
    """The split's shard files, in manifest order, after ``helpers.data.generate.verify``.

    Raises:
        ValueError: as ``verify``, or an unknown split.
    """
    from .generate import verify

    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    manifest = verify(path)
    return [Path(path) / s["file"] for s in manifest["shards"] if s["split"] == split]


def read_shard(path: Path, latency_s: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """One shard's options ``(n, 6)`` and prices ``(n,)``, float32; ``latency_s`` of waiting
    first, to stand for slower storage (a network file system, an object store)."""
    import pyarrow.parquet as pq

    if latency_s > 0:
        time.sleep(latency_s)
    table = pq.read_table(path, columns=[*COLUMNS, "price"])
    X = np.column_stack([table[c].to_numpy() for c in COLUMNS]).astype(np.float32)
    return X, table["price"].to_numpy().astype(np.float32)


class ShardBatches:
    """An iterable of training batches ``(x, y)`` (tensors ``(batch, 6)`` and ``(batch,)``) over
    one pass of a dataset's shards, shuffled within each shard.

    Args:
        path: a dataset made by ``helpers.datagen`` (its manifest is verified).
        batch: rows per batch, ``>= 1``; a shard's last partial batch is dropped.
        prefetch: shards read ahead in a background thread; ``0`` reads each shard in the
            loop's own thread when it is needed.
        split: ``"train"`` or ``"validation"``.
        latency_s: simulated extra time per shard read, seconds (``read_shard``).
        seed: of the shard order and the shuffles, one pass per ``seed``.

    Raises:
        ValueError: a bad batch size, prefetch depth or latency, or a dataset that fails
            verification.
    """

    def __init__(
        self,
        path: str | Path,
        batch: int,
        *,
        prefetch: int = 2,
        split: str = "train",
        latency_s: float = 0.0,
        seed: int = 0,
    ) -> None:
        if batch < 1:
            raise ValueError(f"batch must be >= 1, got {batch}")
        if prefetch < 0:
            raise ValueError(f"prefetch must be >= 0, got {prefetch}")
        if latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, got {latency_s}")
        self.files = shard_files(path, split)
        self.batch, self.prefetch, self.latency_s, self.seed = batch, prefetch, latency_s, seed
        self.wait_s = 0.0
        """Seconds the last pass spent waiting for shards (reads, or an empty queue)."""

    def _order(self) -> list[Path]:
        rng = np.random.default_rng(self.seed)
        return [self.files[i] for i in rng.permutation(len(self.files))]

    def _shards(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        files = self._order()
        if self.prefetch == 0:
            for path in files:
                start = time.perf_counter()
                shard = read_shard(path, self.latency_s)
                self.wait_s += time.perf_counter() - start
                yield shard
            return
        ready: queue.Queue = queue.Queue(maxsize=self.prefetch)
        stop = threading.Event()

        def reader() -> None:
            try:
                for path in files:
                    item = read_shard(path, self.latency_s)
                    while not stop.is_set():
                        try:
                            ready.put(item, timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    if stop.is_set():
                        return
            except BaseException as err:  # handed to the consumer, raised there
                ready.put(err)
                return
            ready.put(None)

        thread = threading.Thread(target=reader, name="shard-prefetch", daemon=True)
        thread.start()
        try:
            while True:
                start = time.perf_counter()
                item = ready.get()
                self.wait_s += time.perf_counter() - start
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:  # a consumer that stops early must not leave the reader blocked
            stop.set()
            thread.join(timeout=5)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        self.wait_s = 0.0
        rng = np.random.default_rng(self.seed + 1)
        for X, y in self._shards():
            rows = rng.permutation(len(X))
            for start in range(0, len(rows) - self.batch + 1, self.batch):
                take = rows[start : start + self.batch]
                yield torch.from_numpy(X[take]), torch.from_numpy(y[take])
