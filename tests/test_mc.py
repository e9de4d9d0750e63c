"""helpers.mc: the backends agree within Monte Carlo error, reproduce, and refuse bad input."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers.mc import BACKENDS, available_backends, price_options

ROOT = Path(__file__).resolve().parents[1]

x86_only = pytest.mark.skipif(
    platform.machine().lower() not in ("x86_64", "amd64"), reason="reads x86 assembly"
)

N_PATHS = 4_000
N_STEPS = 52


def within_se(a, b, k=4.0):
    """True where two independent estimates differ by less than ``k`` combined standard errors."""
    combined = np.sqrt(a.stderr**2 + b.stderr**2)
    return np.abs(a.price - b.price) <= k * combined + 1e-12


def test_numba_matches_numpy_within_4_se(mixed_options):
    a = price_options(mixed_options, N_PATHS, n_steps=N_STEPS, seed=1, backend="numba")
    b = price_options(mixed_options, N_PATHS, n_steps=N_STEPS, seed=2, backend="numpy")
    assert within_se(a, b).all(), (a, b)


@pytest.mark.skipif(
    "numba-cuda" not in available_backends(), reason="numba.cuda has no device or simulator here"
)
def test_numba_cuda_simulator_matches_numba_on_the_same_philox_stream(article_options):
    # numba-cuda runs under NUMBA_ENABLE_CUDASIM=1 here; both draw the same Philox normals.
    a = price_options(article_options, 64, n_steps=16, seed=3, backend="numba-cuda")
    b = price_options(article_options, 64, n_steps=16, seed=3, backend="numba")
    c = price_options(article_options, 4_000, n_steps=16, seed=4, backend="numpy")
    np.testing.assert_allclose(a.price, b.price, rtol=1e-5)
    assert within_se(a, c).all(), (a, c)


def test_same_seed_reproduces_and_other_seed_differs(article_options):
    for backend in ("numba", "numpy"):
        a = price_options(article_options, 2_000, n_steps=20, seed=7, backend=backend)
        b = price_options(article_options, 2_000, n_steps=20, seed=7, backend=backend)
        c = price_options(article_options, 2_000, n_steps=20, seed=8, backend=backend)
        np.testing.assert_array_equal(a.price, b.price)
        np.testing.assert_array_equal(a.stderr, b.stderr)
        assert not np.array_equal(a.price, c.price)


def test_numba_result_does_not_depend_on_thread_count(article_options):
    import numba

    a = price_options(article_options, 3_000, n_steps=20, seed=5, backend="numba")
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        b = price_options(article_options, 3_000, n_steps=20, seed=5, backend="numba")
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(a.price, b.price)


def test_article_example_matches_its_printed_prices_within_4_se(article_options):
    # The article printed 21.22 and 0.848 from 2,048,000 paths (its own error about 0.016 and
    # 0.002, negligible here).
    res = price_options(article_options, 100_000, seed=11, backend="numba")
    assert np.all(np.abs(res.price - [21.22, 0.848]) <= 4 * res.stderr), res


def test_zero_barrier_limit_and_huge_barrier_limit():
    asian = [[100.0, 0.0, 100.0, 0.2, 0.05, 0.05]]
    knocked = [[100.0, 1e6, 100.0, 0.2, 0.05, 0.05]]
    assert price_options(asian, 2_000, n_steps=12, backend="numba").price[0] > 0
    res = price_options(knocked, 2_000, n_steps=12, backend="numba")
    assert res.price[0] == 0.0 and res.stderr[0] == 0.0


def test_zero_volatility_is_deterministic():
    # sigma = 0: s_n = S0 (1 + mu dt)^n, so the price is known exactly and the error is zero.
    S0, K, mu, r, n = 100.0, 90.0, 0.1, 0.05, 10
    path = S0 * (1 + mu / n) ** np.arange(1, n + 1)
    expected = np.exp(-r) * max(path.mean() - K, 0.0)
    for backend in ("numba", "numpy"):
        res = price_options([[K, 0.0, S0, 0.0, mu, r]], 10, n_steps=n, backend=backend)
        np.testing.assert_allclose(res.price, expected, rtol=1e-12)
        assert res.stderr[0] < 1e-6 * expected


def test_empty_batch_gives_empty_result():
    res = price_options(np.zeros((0, 6)), 10, backend="numba")
    assert res.price.shape == (0,) and res.stderr.shape == (0,)


def test_one_path_gives_nan_stderr_but_finite_price(article_options):
    res = price_options(article_options, 1, n_steps=5, backend="numba")
    assert np.isfinite(res.price).all() and np.isnan(res.stderr).all()


def test_available_backends_are_known_and_include_the_cpu_ones():
    backends = available_backends()
    assert set(backends) <= set(BACKENDS)
    assert {"numba", "numpy"} <= set(backends)


# --- bad input: one test each -------------------------------------------------------------------

GOOD = [[110.0, 100.0, 120.0, 0.35, 0.15, 0.05]]


def _with(row, col, value):
    X = np.array(GOOD * 3)
    X[row, col] = value
    return X


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"shape \(n, 6\).*\(2, 5\)"):
        price_options(np.ones((2, 5)), 10)


def test_one_dimensional_input_of_another_length_is_refused():
    # one row of 6 is one option, as the network pricers take it (tests/test_property_pricing.py)
    with pytest.raises(ValueError, match=r"shape \(n, 6\)"):
        price_options(np.ones(5), 10)


def test_non_numeric_input_is_refused():
    with pytest.raises(ValueError, match="numeric"):
        price_options([["a"] * 6], 10)


def test_nan_is_refused_with_row_and_column():
    with pytest.raises(ValueError, match=r"X\[1, 3\] \(sigma\) is nan"):
        price_options(_with(1, 3, np.nan), 10)


def test_inf_is_refused_with_row_and_column():
    with pytest.raises(ValueError, match=r"X\[2, 5\] \(r\) is inf"):
        price_options(_with(2, 5, np.inf), 10)


@pytest.mark.parametrize("col,name", [(0, "K"), (2, "S0"), (3, "sigma")])
def test_negative_strike_spot_or_volatility_is_refused(col, name):
    with pytest.raises(ValueError, match=rf"X\[1, {col}\] \({name}\).*{name} must be >= 0"):
        price_options(_with(1, col, -1.0), 10)


def test_negative_barrier_is_refused():
    with pytest.raises(ValueError, match=r"X\[0, 1\] \(B\).*B must be >= 0"):
        price_options(_with(0, 1, -5.0), 10)


@pytest.mark.parametrize("n_paths", [0, -3, 2.5, True])
def test_bad_n_paths_is_refused(n_paths):
    with pytest.raises(ValueError, match="n_paths"):
        price_options(GOOD, n_paths)


@pytest.mark.parametrize("n_steps", [0, -1, 3.0])
def test_bad_n_steps_is_refused(n_steps):
    with pytest.raises(ValueError, match="n_steps"):
        price_options(GOOD, 10, n_steps=n_steps)


@pytest.mark.parametrize("T", [0.0, -1.0, float("nan"), float("inf"), "soon"])
def test_bad_maturity_is_refused(T):
    with pytest.raises(ValueError, match="T must be"):
        price_options(GOOD, 10, T=T)


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5])
def test_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match="seed"):
        price_options(GOOD, 10, seed=seed)


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        price_options(GOOD, 10, backend="torch")


@pytest.mark.parametrize("backend", ["cupy", "cupy-article"])
def test_cupy_without_a_gpu_is_refused(backend, monkeypatch):
    from helpers.mc import cupy_backend

    monkeypatch.setattr(cupy_backend, "is_usable", lambda: False)
    with pytest.raises(ValueError, match="needs CuPy and a CUDA GPU"):
        price_options(GOOD, 10, backend=backend)


def test_input_array_is_not_modified():
    X = np.array(GOOD * 2)
    before = X.copy()
    price_options(X, 10, n_steps=5, backend="numba")
    np.testing.assert_array_equal(X, before)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
@pytest.mark.parametrize(
    "row",
    [
        [100.0, 0.0, 100.0, 0.2, 0.05, -800.0],  # exp(-r T) overflows
        [100.0, 0.0, 100.0, 0.2, 1e30, 0.05],  # the Euler path overflows
        [100.0, 0.0, 1e300, 0.2, 0.05, 0.05],  # the squared payoff overflows
    ],
)
def test_extreme_inputs_give_a_named_error_never_a_nan_price(backend, row):
    with pytest.raises(ValueError, match=r"row 0 \(K=100.*overflowed"):
        price_options([row], 50, n_steps=12, backend=backend)


def test_a_negative_rate_on_an_option_that_pays_nothing_prices_zero():
    # exp(-r T) is huge but finite here, and zero payoffs must stay zero (not inf * 0).
    res = price_options([[1e6, 0.0, 100.0, 0.2, 0.05, -700.0]], 100, n_steps=12, backend="numba")
    assert res.price[0] == 0.0


def test_auto_picks_numba_without_a_gpu(article_options, monkeypatch):
    from helpers.mc import cupy_backend

    monkeypatch.setattr(cupy_backend, "is_usable", lambda: False)
    assert price_options(article_options, 100, n_steps=4, backend="auto").backend == "numba"


def test_docstring_examples_hold():
    import doctest

    import helpers.core.domain
    import helpers.mc

    for module in (helpers.mc, helpers.core.domain):
        failures, tried = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert tried > 0 and failures == 0, module.__name__


# --- the vectorised CPU kernel is the one-path definition, compiled to SIMD --------------------


def test_numba_block_kernel_equals_the_one_path_definition(mixed_options):
    # 37 paths: two full blocks of LANES and a partial one; same Philox stream, same arithmetic.
    from numba import njit

    from helpers.mc import numba_backend
    from helpers.mc.path import discounted_payoff
    from helpers.mc.philox import split_seed

    @njit
    def one_path_at_a_time(X, n_paths, n_steps, T, key0, key1):
        out = np.zeros(X.shape[0])
        for i in range(X.shape[0]):
            for p in range(n_paths):
                K, B, S0, sigma, mu, r = X[i]
                out[i] += discounted_payoff(K, B, S0, sigma, mu, r, T, n_steps, key0, key1,
                                            np.uint64(i), np.uint64(p))  # fmt: skip
        return out / n_paths

    assert 37 % numba_backend.LANES != 0
    expected = one_path_at_a_time(mixed_options, 37, 30, 1.0, *split_seed(99))
    res = price_options(mixed_options, 37, n_steps=30, seed=99, backend="numba")
    np.testing.assert_allclose(res.price, expected, rtol=1e-12)
    assert (expected > 0).sum() >= 3


def kernel_assembly() -> str:
    """x86 assembly of a fresh (uncached) compilation of the serial block kernel, for the CPU
    that ``NUMBA_CPU_NAME`` names (this machine's by default). Numba disables inspection of
    code loaded from its on-disk cache, so the kernel is compiled again here."""
    import numba
    from numba import types

    from helpers.mc import numba_backend

    kernel = numba.njit(numba_backend._moments_serial.py_func)
    kernel.compile((types.float64[:, ::1], types.int64, types.int64, types.float64,
                    types.uint64, types.uint64, types.int64))  # fmt: skip
    return "".join(kernel.inspect_asm().values())


LIBM_IN_LANE_LOOPS = re.compile(r"\$(log|logf|sin|sinf|cos|cosf|sincos|sincosf|expf|erf\w*)\b")
"""libm functions the normals would call if Box-Muller were not the polynomial one. (``exp``
is called once per block, for the discount, outside the lane loops.)"""


def assert_lane_loops_vectorised(asm: str) -> None:
    """The draw and the step run on packed registers whatever their width (xmm, ymm or zmm):
    packed float32 multiplies for Box-Muller and never a scalar one, packed 32x32->64
    multiplies for Philox's rounds, and no libm call for the normals.

    The packed multiplies' counts depend on the width LLVM picks: on the AMD EPYC (512-bit
    vectors) 66 float and 30 integer ones; with Intel's tuning (256-bit float vectors, Philox's
    lane-invariant first-round multiplies hoisted to scalar registers) 66 and 15. An
    unvectorised loop has none, so the floors below separate the two on any x86-64 CPU.
    """
    packed_float = len(re.findall(r"\bv?mulps\b", asm))
    packed_philox = len(re.findall(r"\bv?pmuludq\b", asm))
    scalar_float = len(re.findall(r"\bv?mulss\b", asm))
    assert packed_float >= 30 and packed_philox >= 10, (packed_float, packed_philox)
    assert scalar_float == 0, scalar_float
    assert not LIBM_IN_LANE_LOOPS.findall(asm), LIBM_IN_LANE_LOOPS.findall(asm)


@x86_only
def test_numba_kernel_compiles_to_packed_simd_instructions():
    # Not a timing: a structural check that LLVM vectorised the draw and the step across lanes,
    # which a libm call or a branch in the lane loops would prevent.
    assert_lane_loops_vectorised(kernel_assembly())


@x86_only
def test_numba_kernel_vectorises_with_intel_tuning_too():
    # The project's machines differ (an AMD EPYC one day, an Intel Xeon the next): compile (not
    # run) the kernel for a Xeon's tuning as well, so the check holds whichever CPU runs it.
    code = (
        "from tests.test_mc import kernel_assembly, assert_lane_loops_vectorised\n"
        "assert_lane_loops_vectorised(kernel_assembly())\n"
    )
    env = {**os.environ, "NUMBA_CPU_NAME": "sapphirerapids"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=ROOT, timeout=300)
