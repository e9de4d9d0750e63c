"""The held-out test set that every pricer in the course is measured on: ``TEST_OPTIONS``
options drawn from the domain with seed ``TEST_SEED``, priced by high-precision Monte Carlo
(``TEST_PATHS`` paths each), shipped as ``data/test_options.csv`` with its standard errors and
``data/test_options.json`` (its recipe; ``python -m helpers.pretrain testset --out data``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..core.domain import COLUMNS, sample_options
from ..core.files import write_atomically, write_json
from ..mc import price_options

TEST_SEED = 987_654_321
"""Seed of the test set's options and Monte Carlo (disjoint from every training seed)."""
TEST_OPTIONS = 512
"""Options in the shipped test set."""
TEST_PATHS = 2_097_152
"""Monte Carlo paths of each test option's price."""
NEAR_ZERO = 1.0
"""Test options whose Monte Carlo price is below this count as 'priced near zero'."""


def make_test_set(out: Path, n_options: int = TEST_OPTIONS, paths: int = TEST_PATHS) -> Path:
    """Writes the held-out test set (CSV with ``COLUMNS``, ``price``, ``stderr``) and its recipe."""
    rng = np.random.default_rng(np.random.SeedSequence([TEST_SEED, 0]))
    X = sample_options(n_options, rng, dtype=np.float32)
    start = time.perf_counter()
    result = price_options(X, paths, seed=TEST_SEED)
    seconds = time.perf_counter() - start
    header = ",".join([*COLUMNS, "price", "stderr"])
    rows = np.column_stack([X.astype(np.float64), result.price, result.stderr])
    lines = [header] + [",".join(f"{v:.9g}" for v in row) for row in rows]
    out.mkdir(parents=True, exist_ok=True)
    write_atomically(out / "test_options.csv", "\n".join(lines) + "\n")
    recipe = {
        "command": "python -m helpers.pretrain testset --out data",
        "options": n_options,
        "paths": paths,
        "seed": TEST_SEED,
        "backend": result.backend,
        "seconds": round(seconds, 1),
        "mean_stderr": float(result.stderr.mean()),
    }
    write_json(out / "test_options.json", recipe)
    return out / "test_options.csv"


def load_test_set(folder: Path | str = "data") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shipped test set: ``(X, price, stderr)`` with shapes ``(n, 6)``, ``(n,)``, ``(n,)``."""
    table = np.loadtxt(Path(folder) / "test_options.csv", delimiter=",", skiprows=1)
    return table[:, :6], table[:, 6], table[:, 7]
