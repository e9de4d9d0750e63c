"""GPU twins of the backend tests, and a compile check of the CUDA C file that needs no GPU."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from helpers.mc import cupy_backend, price_options

from .test_mc import within_se


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_cuda_source_compiles_to_ptx_with_every_kernel(tmp_path, arch):
    out = tmp_path / "barrier_option.ptx"
    subprocess.run(
        ["nvcc", "-ptx", f"-arch={arch}", "-o", str(out), str(cupy_backend.KERNEL_SOURCE)],
        check=True,
        capture_output=True,
    )
    ptx = out.read_text()
    assert ".entry batched_barrier_option" in ptx
    assert ".entry barrier_option_philox" in ptx
    assert ".entry barrier_option_survival_greeks" in ptx


@pytest.mark.gpu
def test_cupy_philox_matches_numba_on_the_same_stream(mixed_options):
    a = price_options(mixed_options, 20_000, n_steps=100, seed=9, backend="cupy")
    b = price_options(mixed_options, 20_000, n_steps=100, seed=9, backend="numba")
    # Same Philox normals; float32 paths on the GPU against float64 on the CPU.
    np.testing.assert_allclose(a.price, b.price, rtol=2e-3, atol=1e-3)
    assert within_se(a, b).all()


@pytest.mark.gpu
def test_cupy_article_kernel_matches_numba_within_4_se(mixed_options):
    a = price_options(mixed_options, 20_000, n_steps=100, seed=1, backend="cupy-article")
    b = price_options(mixed_options, 20_000, n_steps=100, seed=2, backend="numba")
    assert within_se(a, b).all(), (a, b)


@pytest.mark.gpu
def test_numba_cuda_on_gpu_matches_numba(article_options):
    a = price_options(article_options, 4_096, n_steps=50, seed=3, backend="numba-cuda")
    b = price_options(article_options, 4_096, n_steps=50, seed=3, backend="numba")
    np.testing.assert_allclose(a.price, b.price, rtol=1e-6)


@pytest.mark.gpu
def test_auto_picks_cupy_with_a_gpu(article_options):
    assert price_options(article_options, 1_000, n_steps=10, backend="auto").backend == "cupy"


@pytest.mark.gpu
def test_cupy_same_seed_reproduces(article_options):
    a = price_options(article_options, 50_000, seed=4, backend="cupy")
    b = price_options(article_options, 50_000, seed=4, backend="cupy")
    np.testing.assert_array_equal(a.price, b.price)
    np.testing.assert_array_equal(a.stderr, b.stderr)


@pytest.mark.gpu
def test_in_kernel_rng_allocates_no_normals_buffer(article_options):
    import cupy

    n_paths, n_steps = 1_000_000, 365
    buffer = cupy_backend.normals_buffer_bytes(2, n_paths, n_steps)  # 2.9 GB
    pool = cupy.get_default_memory_pool()
    pool.free_all_blocks()
    price_options(article_options, n_paths, n_steps=n_steps, backend="cupy")
    assert pool.total_bytes() < buffer / 1000, pool.total_bytes()


@pytest.mark.gpu
def test_article_kernel_refuses_a_buffer_larger_than_the_gpu(article_options):
    with pytest.raises(ValueError, match="normals buffer"):
        price_options(np.repeat(article_options, 500, axis=0), 10**7, backend="cupy-article")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
def test_cuda_path_payoff_matches_the_python_path_on_the_host(tmp_path, mixed_options):
    # The CUDA C device functions, compiled for the host, against helpers.mc.path: same Philox
    # counters, same Box-Muller, same Euler steps (float32 there, float64 here).
    from helpers.mc.path import discounted_payoff
    from helpers.mc.philox import split_seed

    harness = tmp_path / "harness"
    source = Path(__file__).with_name("cuda_host_harness.cu")
    subprocess.run(["nvcc", "-o", str(harness), str(source)], check=True, capture_output=True)
    seed, n_steps, T = 2**40 + 17, 30, 1.0
    key0, key1 = split_seed(seed)
    cases = [(i, p) for i in range(len(mixed_options)) for p in (0, 1, 7, 1000, 2**31 + 5)]
    lines = [
        " ".join(map(str, [*mixed_options[i], T, n_steps, int(key0), int(key1), i, p]))
        for i, p in cases
    ]
    out = subprocess.run(
        [str(harness)], input="\n".join(lines), capture_output=True, text=True, check=True
    ).stdout.split()
    cuda = np.array([float(v) for v in out])
    python = np.array(
        [
            discounted_payoff(*mixed_options[i], T, n_steps, key0, key1, np.uint64(i), np.uint64(p))
            for i, p in cases
        ]
    )
    assert len(cuda) == len(cases)
    np.testing.assert_allclose(cuda, python, rtol=2e-4, atol=2e-4)
    assert (python > 0).sum() >= 5  # the comparison covers paying paths, not only zeros


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not on the PATH")
def test_cuda_survival_adjoint_matches_the_python_adjoint_on_the_host(tmp_path, mixed_options):
    # The CUDA C forward and reverse sweeps, compiled for the host, against
    # helpers.mc.adjoint.survival_path on the same paths: both in double precision.
    from helpers.mc import adjoint
    from helpers.mc.philox import split_seed

    harness = tmp_path / "adjoint"
    source = Path(__file__).with_name("cuda_adjoint_harness.cu")
    subprocess.run(["nvcc", "-o", str(harness), str(source)], check=True, capture_output=True)
    near = np.array([[100.0, 97.0, 100.0, 0.30, 0.05, 0.05]])
    options = np.vstack([mixed_options, near])
    seed, n_steps, T = 2**40 + 17, 60, 1.0
    key0, key1 = split_seed(seed)
    cases = [(i, p) for i in range(len(options)) for p in (0, 1, 7, 1000, 2**31 + 5)]
    counters = [f"{n_steps} {int(key0)} {int(key1)} {i} {p}" for i, p in cases]
    lines = [
        " ".join(repr(float(v)) for v in [*options[i], T]) + " " + counter
        for (i, _), counter in zip(cases, counters, strict=True)
    ]
    out = subprocess.run(
        [str(harness)], input="\n".join(lines), capture_output=True, text=True, check=True
    ).stdout.split("\n")
    cuda = np.array([[float(v) for v in line.split()] for line in out if line])
    tape, grad = np.empty((n_steps, adjoint.TAPE_COLUMNS)), np.empty(6)
    python = []
    for i, p in cases:
        value = adjoint.survival_path(options[i], T, n_steps, key0, key1, np.uint64(i),
                                      np.uint64(p), tape, grad, True)  # fmt: skip
        python.append([value, *grad])
    python = np.array(python)
    assert cuda.shape == python.shape == (len(cases), 7)
    np.testing.assert_allclose(cuda, python, rtol=1e-12, atol=1e-15)
    assert (python[:, 0] > 0).sum() >= 5 and (python[:, 2] != 0).sum() >= 5


@pytest.mark.gpu
def test_cupy_survival_greeks_match_the_numba_adjoint(mixed_options):
    a = price_options(mixed_options, 4_096, n_steps=50, seed=3, greeks=True, backend="cupy")
    b = price_options(mixed_options, 4_096, n_steps=50, seed=3, greeks=True, backend="numba")
    # the same paths in double precision: only the order of the sums differs
    np.testing.assert_allclose(a.price, b.price, rtol=1e-9)
    for name in b.greeks:
        np.testing.assert_allclose(a.greeks[name], b.greeks[name], rtol=1e-8, atol=1e-12)
