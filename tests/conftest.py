"""Shared fixtures. Importing helpers first turns on the CUDA simulator where no driver exists."""

from __future__ import annotations

import numpy as np
import pytest

import helpers  # noqa: F401  (sets NUMBA_ENABLE_CUDASIM before numba is imported)
from helpers.mc import cupy_backend

pytest_plugins = ["pytester"]  # tests/test_gpu_check.py runs its pytest plugin in-process


def pytest_collection_modifyitems(config, items):
    if cupy_backend.is_usable():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU and CuPy")
    for item in items:
        if item.get_closest_marker("gpu"):  # the marker, not a test id that says "gpu"
            item.add_marker(skip)


@pytest.fixture
def article_options() -> np.ndarray:
    """The article's two-option example, shape (2, 6)."""
    return np.array(
        [
            [110.0, 100.0, 120.0, 0.35, 0.15, 0.05],
            [120.0, 90.0, 100.0, 0.20, 0.10, 0.05],
        ]
    )


@pytest.fixture
def mixed_options(article_options) -> np.ndarray:
    """The article's options, an Asian (B = 0) and a deep knock-out case, shape (4, 6)."""
    extra = np.array(
        [
            [100.0, 0.0, 100.0, 0.2, 0.05, 0.05],
            [50.0, 45.0, 47.0, 0.3, 0.0, 0.02],
        ]
    )
    return np.vstack([article_options, extra])
