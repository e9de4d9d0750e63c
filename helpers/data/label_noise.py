"""What the Monte Carlo noise of a dataset's labels does to the MAE measured against them
(Chapter 6): the floor that a pricer which knew every exact price would still score.

A label is a Monte Carlo price ``y = P + e``, its error ``e`` about normal with standard
deviation the label's standard error ``s`` (the shards store it, column ``stderr``). A pricer
that returns ``P`` exactly misses the label by ``|e|``, whose mean is ``s * sqrt(2 / pi)``; and
no pricer whose error is independent of the label's noise does better on average, since for a
symmetric ``e`` the mean of ``|c + e|``, convex and even in ``c``, is smallest at ``c = 0``.
So over a split the MAE has a floor, ``sqrt(2 / pi) * mean(s)``, set by the labels' paths and
not by the network.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .generate import verify

SPLITS = ("train", "validation")


class NoiseFloor(NamedTuple):
    """The MAE that the labels' noise alone gives, and how precisely a split measures it.

    Attributes:
        mae: ``sqrt(2 / pi) * mean(stderr)``: the expected MAE of the exact prices against the
            labels, in currency units.
        se: the standard error of the realised mean ``|e|`` over the split's rows about
            ``mae``: ``sqrt(sum(stderr**2) * (1 - 2 / pi)) / n``.
        mean_stderr: the labels' mean standard error.
        rows: the number of labels.
    """

    mae: float
    se: float
    mean_stderr: float
    rows: int


def load_stderr(path: str | Path, split: str = "validation") -> np.ndarray:
    """The standard errors of one split's labels, after checking the dataset's manifest.

    Args:
        path: a dataset folder made by ``helpers.datagen`` (with ``manifest.json``).
        split: ``"train"`` or ``"validation"``.

    Returns:
        A float64 array of shape ``(n,)``, one standard error per option, in currency units,
        rows in the order of ``helpers.data.generate.load_split``.

    Raises:
        ValueError: an unknown split, or a dataset that fails ``verify``.
    """
    import pyarrow.parquet as pq

    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    manifest = verify(path)
    tables = [
        pq.read_table(Path(path) / s["file"], columns=["stderr"])
        for s in manifest["shards"]
        if s["split"] == split
    ]
    return np.concatenate([t["stderr"].to_numpy() for t in tables]).astype(np.float64)


def noise_floor(stderr: np.ndarray) -> NoiseFloor:
    """The floor that labels with these standard errors put under an MAE measured on them.

    Example:
        >>> round(noise_floor(np.full(100, 2.0)).mae, 4)  # 2 * sqrt(2 / pi)
        1.5958

    Args:
        stderr: shape ``(n,)``, each label's Monte Carlo standard error, ``>= 0``.

    Raises:
        ValueError: an empty array, or a negative or non-finite standard error.
    """
    stderr = np.asarray(stderr, dtype=np.float64).ravel()
    if stderr.size == 0:
        raise ValueError("stderr must hold at least one standard error")
    if not np.all(np.isfinite(stderr)) or np.any(stderr < 0):
        raise ValueError("stderr must be finite and >= 0")
    n = stderr.size
    return NoiseFloor(
        mae=math.sqrt(2 / math.pi) * float(stderr.mean()),
        se=math.sqrt(float(np.sum(stderr**2)) * (1 - 2 / math.pi)) / n,
        mean_stderr=float(stderr.mean()),
        rows=n,
    )
