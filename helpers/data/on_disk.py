"""A dataset on disk (Chapter 6) for PyTorch: options and prices from the shards that
``python -m helpers.datagen`` wrote, checked against their manifest, shared among ranks."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from ..core.validate import check_device, check_integer
from .generate import load_split


class FileOptionDataSet(Dataset):
    """Options and prices from a dataset on disk (``python -m helpers.datagen``), one rank's
    share.

    It checks the manifest (a missing or changed shard is a ``ValueError`` naming it), loads the
    split's shards into ``device`` memory once, and gives rank ``r`` of ``world_size`` the rows
    ``r, r + world_size, r + 2 world_size, ...``, as the article's file dataset does: the ranks
    share the rows without overlap, and together cover them all.

    Example:
        >>> ds = FileOptionDataSet("datasets/chapter6", rank=1, world_size=2)  # doctest: +SKIP
        >>> x, y = ds[0]  # row 1 of the training split

    Args:
        path: the dataset folder (with ``manifest.json``).
        rank: this process's rank, in ``[0, world_size)``.
        world_size: number of processes sharing the rows.
        split: ``"train"`` or ``"validation"``.
        device: where the tensors live (default: CPU).

    Shape:
        ``ds[i]`` is ``(x, y)``: float32 ``(6,)`` inputs and a float32 scalar price.

    Raises:
        ValueError: a bad rank or world size, or a dataset that fails verification.
    """

    def __init__(
        self,
        path: str,
        rank: int = 0,
        world_size: int = 1,
        split: str = "train",
        device: torch.device | str | None = None,
    ) -> None:
        world_size = check_integer("world_size", world_size, low=1)
        rank = check_integer("rank", rank, low=0, high=world_size - 1)
        device = check_device(device) if device is not None else torch.device("cpu")
        X, Y = load_split(path, split)
        self.X = torch.from_numpy(X[rank::world_size]).to(device)
        self.Y = torch.from_numpy(Y[rank::world_size]).to(device)
        self.rank, self.world_size, self.split = rank, world_size, split

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.X[index], self.Y[index]
