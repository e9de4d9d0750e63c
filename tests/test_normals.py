"""helpers.mc.normals: the polynomial Box-Muller draws N(0, 1), accurately, on every backend."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from numba import njit

from helpers.mc import cupy_backend, normals
from helpers.mc.normals import LARGEST_NORMAL, MAX_ULP_ERROR, box_muller
from helpers.mc.philox import philox4x32_10

N_DRAWS = 10_000_000


@njit
def _philox_normals(n, key0):
    """``n`` normals from the stream the kernels use: option 0, paths 0.., counters 0.."""
    out = np.empty(n, dtype=np.float32)
    per_path = 64  # 16 Philox counters of 4 normals per path
    for k in range(n // 4):
        path, counter = divmod(k, per_path // 4)
        x0, x1, x2, x3 = philox4x32_10(np.uint64(counter), np.uint64(path), np.uint64(0),
                                       np.uint64(0), key0, np.uint64(0))  # fmt: skip
        out[4 * k], out[4 * k + 1] = box_muller(x0, x1)
        out[4 * k + 2], out[4 * k + 3] = box_muller(x2, x3)
    return out


@pytest.fixture(scope="module")
def draws() -> np.ndarray:
    return _philox_normals(N_DRAWS, np.uint64(2024)).astype(np.float64)


def test_ten_million_normals_have_the_moments_of_n01_within_4_se(draws):
    n = draws.size
    z = draws
    mean, var = z.mean(), z.var()
    skew = np.mean((z - mean) ** 3) / var**1.5
    excess_kurtosis = np.mean((z - mean) ** 4) / var**2 - 3.0
    # Sampling standard errors of the four moments of n normal draws.
    for name, value, se in (
        ("mean", mean, np.sqrt(1 / n)),
        ("variance - 1", var - 1.0, np.sqrt(2 / n)),
        ("skewness", skew, np.sqrt(6 / n)),
        ("excess kurtosis", excess_kurtosis, np.sqrt(24 / n)),
    ):
        assert abs(value) < 4 * se, (name, value, se)


def test_ten_million_normals_pass_kolmogorov_smirnov_against_n01(draws):
    from scipy import stats

    result = stats.kstest(draws, "norm")
    assert result.pvalue > 1e-3, result


def test_largest_normal_is_reached_at_the_smallest_uniform_and_never_exceeded(draws):
    z0, z1 = box_muller(np.uint64(0), np.uint64(0))
    assert z0 == np.float32(LARGEST_NORMAL) and z1 == 0.0
    assert np.abs(draws).max() <= np.float32(LARGEST_NORMAL)
    for x0 in (0, 1, 2**31, 2**32 - 1):
        for x1 in (0, 2**29, 2**30, 2**31, 3 * 2**30, 2**32 - 1):
            z = np.array(box_muller(np.uint64(x0), np.uint64(x1)))
            assert np.isfinite(z).all() and np.abs(z).max() <= np.float32(LARGEST_NORMAL)
    assert box_muller(np.uint64(2**32 - 1), np.uint64(5)) == (0.0, 0.0)  # u1 = 1: radius 0


def test_log_sin_cos_errors_stay_within_the_stated_ulps_on_a_dense_grid():
    # Every 257th word plus both ends; `python -m helpers.mc.normals` covers all 2**32.
    words = np.concatenate([np.arange(0, 2**32, 257, dtype=np.uint64),
                            np.array([2**32 - 1], dtype=np.uint64)])  # fmt: skip
    errors = normals.max_ulp_errors(words)
    for name, bound in MAX_ULP_ERROR.items():
        assert errors[name] <= bound, (name, errors[name], bound)


def test_quarter_turns_are_exact():
    # The quadrant split is in integers, so the axes come out exactly.
    expected = {0: (1.0, 0.0), 2**30: (0.0, 1.0), 2**31: (-1.0, 0.0), 3 * 2**30: (0.0, -1.0)}
    for word, (c, s) in expected.items():
        assert normals.sincos_turn(np.uint64(word)) == (c, s)


def test_cuda_source_defines_every_constant_with_the_same_float32_value():
    text = cupy_backend.KERNEL_SOURCE.read_text()
    defined = dict(re.findall(r"#define RNG_(\w+) (\S+)f", text))
    assert set(defined) == set(normals.COEFFICIENTS)
    for name, value in normals.COEFFICIENTS.items():
        assert np.float32(float(defined[name])) == value, name


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
def test_cuda_box_muller_draws_bit_identical_normals_on_the_host(tmp_path):
    # The CUDA C box_muller compiled for the host (no fused multiply-adds there) against the
    # Python definition, on words from every quadrant and both ends of the uniform.
    harness = tmp_path / "normals"
    source = Path(__file__).with_name("cuda_normals_harness.cu")
    subprocess.run(["nvcc", "-o", str(harness), str(source)], check=True, capture_output=True)
    rng = np.random.default_rng(3)
    ends = np.array([[0, 0], [2**32 - 1, 2**32 - 1], [1, 2**30], [2**31, 2**29]], np.uint64)
    words = np.vstack([rng.integers(0, 2**32, (2000, 2), dtype=np.uint64), ends])
    out = subprocess.run([str(harness)], input="\n".join(f"{a} {b}" for a, b in words),
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    cuda = np.array(out, dtype=np.float32).reshape(-1, 2)
    python = np.array([box_muller(a, b) for a, b in words], dtype=np.float32)
    np.testing.assert_array_equal(cuda, python)
