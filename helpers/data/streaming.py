"""Streaming Monte Carlo data for PyTorch: every item is a fresh batch of options and their prices.

``OptionDataSet`` wraps ``helpers.mc`` as a ``torch.utils.data.IterableDataset``, as the article
wraps its CuPy kernel: each item draws ``batch`` option parameter sets from the article's domain
(``helpers.core.domain``), prices them by Monte Carlo, and yields ``(X, Y)`` float32 tensors. On a
GPU the parameters, drawn by NumPy on the host, are copied to the device once; the prices are
computed there and both reach PyTorch through DLPack without a further copy. On a CPU they reach
it through ``torch.from_numpy``, without a copy.

Seeding: item ``k`` of epoch ``e`` on distributed rank ``q`` draws everything from
``numpy.random.SeedSequence([seed, e, q, k])``. Items are dealt round-robin to DataLoader workers,
so every worker and every rank draws different parameters and different normals, and the stream
is the same whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from ..core.domain import sample_options
from ..core.machine import default_device
from ..mc import price_options
from ..mc.checks import check_count, check_maturity, check_seed


def to_torch(array) -> torch.Tensor:
    """Hands a NumPy or CuPy array to PyTorch without copying it.

    NumPy arrays go through ``torch.from_numpy``; CuPy arrays through DLPack
    (``torch.from_dlpack``). The tensor and the array share memory: ``data_pointer`` of both
    is the same address.
    """
    if isinstance(array, np.ndarray):
        return torch.from_numpy(array)
    return torch.from_dlpack(array)


def data_pointer(array) -> int:
    """The address of an array's first element: NumPy, CuPy or a torch tensor."""
    if isinstance(array, torch.Tensor):
        return array.data_ptr()
    if isinstance(array, np.ndarray):
        return array.ctypes.data
    return array.data.ptr  # CuPy


def _distributed_rank() -> int:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def stream_labels(batches) -> torch.Tensor:
    """All the labels of one pass over ``batches``, concatenated in the order they come.

    Two streams are the same when these tensors are equal, which is how Chapter 2 compares a
    dataset with itself, with another rank's and with its own pass through DataLoader workers.

    Example:
        >>> ds = OptionDataSet(max_len=2, n_paths=64, batch=3, seed=15, device="cpu")
        >>> tuple(stream_labels(ds).shape)
        (6,)

    Args:
        batches: an iterable of ``(X, Y)`` pairs: an ``OptionDataSet``, or a DataLoader over one
            with ``batch_size=None``.

    Returns:
        A 1-D tensor: every ``Y`` of the pass, on the device the batches were on.
    """
    return torch.cat([y.reshape(-1) for _, y in batches])


class OptionDataSet(IterableDataset):
    """An iterable of ``max_len`` Monte Carlo-labelled batches of random options.

    Example:
        >>> ds = OptionDataSet(max_len=2, n_paths=256, batch=4, seed=15)
        >>> [tuple(x.shape) + tuple(y.shape) for x, y in ds]
        [(4, 6, 4), (4, 6, 4)]

    Args:
        max_len: items per epoch (per rank), ``>= 1``; ``len(ds) == max_len``.
        n_paths: Monte Carlo paths per option, ``>= 1``.
        batch: options per item, ``>= 1``.
        seed: integer in ``[0, 2**64)``; the same seed reproduces the same stream.
        device: where the tensors live; ``None`` picks ``default_device()``. ``cuda`` prices with
            the CuPy kernel and hands over by DLPack; ``cpu`` prices with Numba.
        n_steps: time steps per path (365: daily over a year).
        T: maturity in years.
        rank: the distributed rank whose stream to draw; ``None`` reads it from
            ``torch.distributed`` when a process group is initialised, else 0. It is read in the
            main process (at construction, at ``set_epoch`` and when iterated there) and kept
            in ``self.rank``, so DataLoader workers started by spawn or forkserver, which have no
            process group, still draw their rank's stream.

    Shape:
        Each item is ``(X, Y)``: ``X`` float32 ``(batch, 6)`` with columns
        ``helpers.core.domain.COLUMNS``, ``Y`` float32 ``(batch,)`` Monte Carlo prices.

    Raises:
        ValueError: a size, the seed or ``T`` out of range, or ``device`` is CUDA without CuPy.
    """

    def __init__(
        self,
        max_len: int,
        n_paths: int,
        batch: int,
        seed: int = 0,
        device: torch.device | str | None = None,
        *,
        n_steps: int = 365,
        T: float = 1.0,
        rank: int | None = None,
    ) -> None:
        super().__init__()
        self.max_len = check_count("max_len", max_len)
        self.n_paths = check_count("n_paths", n_paths)
        self.batch = check_count("batch", batch)
        self.seed = check_seed(seed)
        self.n_steps = check_count("n_steps", n_steps)
        self.T = check_maturity(T)
        self.device = torch.device(device) if device is not None else default_device()
        if self.device.type == "cuda":
            from ..mc import cupy_backend

            if not cupy_backend.is_usable():
                raise ValueError("device 'cuda' needs CuPy and a CUDA GPU; use device='cpu'")
        elif self.device.type != "cpu":
            raise ValueError(f"device must be 'cpu' or 'cuda', got {self.device}")
        self._rank_argument = rank
        self.rank = self._resolve_rank()
        self.epoch = 0

    def __len__(self) -> int:
        return self.max_len

    def _resolve_rank(self) -> int:
        """The rank given, else the process group's (0 without one)."""
        if self._rank_argument is not None:
            return int(self._rank_argument)
        return _distributed_rank()

    def set_epoch(self, epoch: int) -> None:
        """Selects the epoch's stream: without it every pass yields the same items.

        Called in the main process (the trainer does it at every epoch start), it also reads
        the rank again, for a dataset built before the process group was joined.
        """
        self.epoch = int(epoch)
        self.rank = self._resolve_rank()

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        worker = get_worker_info()
        if worker is None:  # the main process; a worker keeps the rank it was handed
            self.rank = self._resolve_rank()
        first, step = (worker.id, worker.num_workers) if worker is not None else (0, 1)
        for k in range(first, self.max_len, step):
            yield self.item(k)

    def item_seeds(self, k: int) -> tuple[int, int]:
        """The seeds of item ``k``: one for its option parameters, one for its Monte Carlo."""
        sequence = np.random.SeedSequence([self.seed, self.epoch, self.rank, k])
        params_seed, mc_seed = sequence.generate_state(2, dtype=np.uint64)
        return int(params_seed), int(mc_seed)

    def item(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Item ``k`` of the current epoch and rank, as ``(X, Y)`` tensors on ``self.device``."""
        params_seed, mc_seed = self.item_seeds(k)
        X = sample_options(self.batch, np.random.default_rng(params_seed), dtype=np.float32)
        if self.device.type == "cuda":
            return self._price_on_gpu(X, mc_seed)
        result = price_options(
            X, self.n_paths, n_steps=self.n_steps, T=self.T, seed=mc_seed, backend="numba"
        )
        return to_torch(X), to_torch(result.price.astype(np.float32))

    def _price_on_gpu(self, X: np.ndarray, mc_seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        import cupy

        from ..mc import cupy_backend

        with cupy.cuda.Device(self.device.index or 0):
            d_X = cupy.asarray(X)
            price, _ = cupy_backend.price_on_device(
                d_X, self.n_paths, self.n_steps, self.T, mc_seed
            )
            d_Y = price.astype(cupy.float32)
        return to_torch(d_X), to_torch(d_Y)


def labelling_rate(dataset: OptionDataSet) -> dict[str, float]:
    """Times one pass over ``dataset`` after a warm-up item (compilation is not timed).

    Returns:
        ``{"items_per_second", "options_per_second", "path_steps_per_second"}``.
    """
    import time

    dataset.item(0)  # warm-up: compiles the kernel
    start = time.perf_counter()
    n_items = sum(1 for _ in dataset)
    if dataset.device.type == "cuda":
        torch.cuda.synchronize(dataset.device)
    items = n_items / (time.perf_counter() - start)
    options = items * dataset.batch
    return {
        "items_per_second": items,
        "options_per_second": options,
        "path_steps_per_second": options * dataset.n_paths * dataset.n_steps,
    }
