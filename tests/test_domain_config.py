"""helpers.core.domain and helpers.core.config."""

import numpy as np
import pytest

from helpers.core import config, machine
from helpers.core.domain import (
    BARRIER_CORNER,
    COLUMNS,
    DOMAIN_HIGH,
    in_barrier_corner,
    sample_barrier_corner,
    sample_options,
)


def test_columns_are_the_articles_order():
    assert COLUMNS == ("K", "B", "S0", "sigma", "mu", "r")


def test_samples_lie_in_the_domain_with_barrier_below_strike():
    X = sample_options(10_000, np.random.default_rng(0))
    assert X.shape == (10_000, 6) and X.dtype == np.float32
    assert (X >= 0).all() and (X <= DOMAIN_HIGH).all()
    assert (X[:, 1] <= 0.99 * X[:, 0] + 1e-4).all()


def test_negative_sample_count_is_refused():
    with pytest.raises(ValueError, match=r"n must be an integer in \[0"):
        sample_options(-1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"n must be an integer in \[0"):
        sample_barrier_corner(-1, np.random.default_rng(0))


def test_barrier_corner_draws_are_the_domains_draws_that_fall_in_it():
    # rejection keeps the domain's uniform law restricted to the corner: every draw is in it,
    # and its B/S0 fills the corner's whole range
    X = sample_barrier_corner(5_000, np.random.default_rng(1))
    assert X.shape == (5_000, 6) and in_barrier_corner(X).all()
    assert (X >= 0).all() and (X <= DOMAIN_HIGH).all()
    low, high = BARRIER_CORNER["B/S0"]
    ratio = X[:, 1] / X[:, 2]
    assert ratio.min() < low + 0.01 and ratio.max() > high - 0.01
    share = in_barrier_corner(sample_options(200_000, np.random.default_rng(2))).mean()
    assert 0.03 < share < 0.05  # the docstring's "about 4% of the domain"
    assert sample_barrier_corner(0, np.random.default_rng(0)).shape == (0, 6)


def test_sizes_follow_the_machine_and_can_be_forced(monkeypatch):
    monkeypatch.setenv("COURSE_SIZES", "cpu")
    assert config.sizes().profile == "cpu" and config.sizes().backend == "numba"
    monkeypatch.setenv("COURSE_SIZES", "gpu")
    gpu = config.sizes()
    assert gpu.profile == "gpu" and gpu.example_paths == 2_048_000
    assert gpu.backend == ("cupy" if machine.gpu_available() else "numba")
    monkeypatch.setenv("COURSE_SIZES", "test")
    assert config.sizes() == config.TEST_SIZES
    monkeypatch.setenv("COURSE_SIZES", "huge")
    with pytest.raises(ValueError, match="COURSE_SIZES"):
        config.sizes()


def test_test_profile_only_shrinks_the_cpu_sizes():
    # The test profile may do less work than the book's CPU sizes, never more, and keeps the
    # learning-rate schedule and the backend: it is the same chapter on fewer paths.
    cpu, test = config.CPU_SIZES.__dict__, config.TEST_SIZES.__dict__
    numbers = [name for name, value in cpu.items() if isinstance(value, int | float)]
    assert all(test[name] <= cpu[name] for name in numbers), [
        name for name in numbers if test[name] > cpu[name]
    ]
    assert test["lr_start"] == cpu["lr_start"] and test["backend"] == cpu["backend"]
    assert sum(test[name] < cpu[name] for name in numbers) >= 20


def test_machine_description_names_cpu_and_gpu():
    info = machine.describe_machine()
    assert {"cpu", "cores", "simd", "gpu"} <= info.keys()


def test_the_machine_line_names_cores_instructions_and_gpu_and_opens_every_chapter():
    line = machine.machine_line()
    assert "cores; vector instructions " in line and "; matrix instructions " in line
    assert "; GPU " in line
    text = machine.machine_admonition().data
    assert text.startswith(":::{admonition} The machine that ran this page") and line in text


def test_the_machine_description_never_fails_without_llvm(monkeypatch):
    monkeypatch.setattr(machine, "_host_features", lambda: None)
    assert machine.instruction_sets() == {"vector": "unknown", "matrix": "unknown"}
    assert machine.simd_width() == "unknown" and machine.int8_dot_product() is False
