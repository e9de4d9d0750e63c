"""helpers.domain and helpers.config."""

import numpy as np
import pytest

from helpers import config
from helpers.domain import COLUMNS, DOMAIN_HIGH, sample_options


def test_columns_are_the_articles_order():
    assert COLUMNS == ("K", "B", "S0", "sigma", "mu", "r")


def test_samples_lie_in_the_domain_with_barrier_below_strike():
    X = sample_options(10_000, np.random.default_rng(0))
    assert X.shape == (10_000, 6) and X.dtype == np.float32
    assert (X >= 0).all() and (X <= DOMAIN_HIGH).all()
    assert (X[:, 1] <= 0.99 * X[:, 0] + 1e-4).all()


def test_negative_sample_count_is_refused():
    with pytest.raises(ValueError, match="n must be >= 0"):
        sample_options(-1, np.random.default_rng(0))


def test_sizes_follow_the_machine_and_can_be_forced(monkeypatch):
    monkeypatch.setenv("COURSE_SIZES", "cpu")
    assert config.sizes().profile == "cpu" and config.sizes().backend == "numba"
    monkeypatch.setenv("COURSE_SIZES", "gpu")
    gpu = config.sizes()
    assert gpu.profile == "gpu" and gpu.example_paths == 2_048_000
    assert gpu.backend == ("cupy" if config.gpu_available() else "numba")
    monkeypatch.setenv("COURSE_SIZES", "huge")
    with pytest.raises(ValueError, match="COURSE_SIZES"):
        config.sizes()


def test_machine_description_names_cpu_and_gpu():
    info = config.describe_machine()
    assert {"cpu", "cores", "simd", "gpu"} <= info.keys()
