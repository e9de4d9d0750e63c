"""The one place that decides the sizes every chapter runs at, and where the shipped data lives.

A GPU JupyterHub gets the article's sizes; a laptop (no CUDA GPU) gets sizes small enough for a
chapter to run in about two minutes on two cores. Set ``COURSE_SIZES=gpu`` or ``cpu`` in the
environment to override the choice (for example to try the article's sizes on a big CPU).

``COURSE_SIZES=test`` is the test suite's profile (``make test`` runs the chapters with it; ``make
book`` never does): every chapter still runs end to end and every guard in it still runs, on
fewer paths, options and steps. A statistical guard states its tolerance in standard errors, so
it holds at both sizes; at test sizes the standard errors are larger, so there it catches only
larger biases (with a quarter of the paths, a bias must be about twice as large to fail the
same guard). What only the book's sizes can show (a learned pricer's accuracy after a full
training run, a speed ratio) is checked by ``make book`` and ``make bench``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from .machine import gpu_available

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
"""The repository's ``data/`` folder: the pretrained pricer, its test set, the FX market."""


@dataclass(frozen=True)
class Sizes:
    """How much work each chapter does on this machine.

    Attributes:
        profile: ``"gpu"`` (the article's sizes), ``"cpu"`` or ``"test"`` (the test suite's).
        backend: the Monte Carlo backend the chapters use (``"cupy"`` or ``"numba"``).
        example_paths: paths per option for the article's two-option example (article: 2,048,000).
        validation_paths: paths of our price in the QuantLib cross-check of Chapter 1.
        quantlib_paths: paths of QuantLib's price in that cross-check (QuantLib runs on one core).
        throughput_options: options in the batch timed per backend in Chapter 1.
        throughput_paths: paths per option in that batch.
        numpy_paths: paths per option when the NumPy reference is timed (it holds every path).
        simulator_paths: paths per option for numba.cuda under the CUDA simulator (pure Python).
        dataset_paths: paths per option in Chapter 2's 10-item example (article: 100,000).
        train_batch: options per training batch (article: 4,800).
        train_paths: Monte Carlo paths per training option (article: 1,024).
        hidden: width of the network's hidden layers (article: 1,024).
        train_items: batches per training epoch (article: 10,000).
        train_epochs: epochs of Chapter 3's training run.
        lr_start: learning rate at the start of each cosine cycle (article: 1e-4).
        lr_end: learning rate at its end (article: 1e-6).
        val_items: validation batches of ``train_batch`` options.
        val_paths: Monte Carlo paths per validation option.
        amp_steps: training steps timed in each precision in Chapter 4.
        ddp_items: batches per epoch on each rank in Chapter 5's distributed run.
        shards: shards of Chapter 6's dataset on disk (the last one is validation).
        options_per_shard: options per shard.
        shard_paths: Monte Carlo paths per option on disk (more than streaming: less noise).
        file_batch: options per batch on each rank when training from files.
        file_epochs: epochs of Chapter 6's distributed training from files.
        fd_paths: Monte Carlo paths per price in Chapter 7's finite-difference Greeks.
        fd_replications: independent replications of each finite difference.
        inference_batch: the largest batch the network prices in Chapter 7's timing.
        inference_mc_options: options Monte Carlo prices, at the paths that match the network's
            accuracy, in Chapter 7's timing (its rate is per option: fewer options time the
            same rate, less precisely); inference_greeks_options: options whose
            bump-and-revalue Greeks (13 prices each at those paths) are timed there.
        adjoint_paths: paths per option of Chapter 8's adjoint Greeks (the smooth estimators
            run on the CPU's ``numba`` backend on every machine for now).
        adjoint_table_paths: paths of the adjoint in Chapter 8's table of six Greeks three
            ways: far from the barrier the survival estimator's dP/dB comes from a few paths
            (heavy-tailed), and below about 50,000 paths its sample standard error can be
            several times too small (measured over 40 seeds, 2026-12-07).
        autograd_paths: paths per option of Chapter 8's torch autograd reference (it holds
            every intermediate of every path in memory).
        differential_options: training options of Chapter 9's live plain-against-differential
            run; ``differential_paths``: paths per option; ``differential_steps``: optimiser
            steps of each of its two trainings.
        reference_greeks_paths: paths of the adjoint Monte Carlo Greeks (with gamma) that
            Chapter 10 checks the shipped pricer's Greeks against.
        basket_paths: paths of Chapter 11's FX basket (NAG's 10,000 on a CPU; the torch engine
            on the GPU takes more); basket_device: where its torch engine runs.
        basket_fd_paths: paths of each finite difference that checks its gradient.
        basket_timing_paths, basket_timing_repeats: paths (NAG's 10,000) and best-of repeats
            of Chapter 11's timing of the price, the hand adjoint and autograd.
        qat_options: options (Sobol points, labelled by the float pricer) of Chapter 12's
            quantization-aware fine-tuning, one epoch.
        service_requests: requests per point of Chapter 13's load test.
        sweep_options, sweep_steps: training options and steps of each trial of Chapter 13's
            hyper-parameter sweep.
    """

    profile: str
    backend: str
    example_paths: int
    validation_paths: int
    quantlib_paths: int
    throughput_options: int
    throughput_paths: int
    numpy_paths: int
    simulator_paths: int
    dataset_paths: int
    train_batch: int
    train_paths: int
    hidden: int
    train_items: int
    train_epochs: int
    lr_start: float
    lr_end: float
    val_items: int
    val_paths: int
    amp_steps: int
    ddp_items: int
    shards: int
    options_per_shard: int
    shard_paths: int
    file_batch: int
    file_epochs: int
    fd_paths: int
    fd_replications: int
    inference_batch: int
    inference_mc_options: int = 64
    inference_greeks_options: int = 2
    adjoint_paths: int = 20_000
    adjoint_table_paths: int = 100_000
    autograd_paths: int = 1_000
    differential_options: int = 8_192
    differential_paths: int = 64
    differential_steps: int = 1_000
    reference_greeks_paths: int = 1_048_576
    basket_paths: int = 10_000
    basket_device: str = "cpu"
    basket_fd_paths: int = 4_000
    basket_timing_paths: int = 10_000
    basket_timing_repeats: int = 3
    qat_options: int = 65_536
    service_requests: int = 400
    sweep_options: int = 4_096
    sweep_steps: int = 1_000


GPU_SIZES = Sizes(
    profile="gpu",
    backend="cupy",
    example_paths=2_048_000,
    validation_paths=2_048_000,
    quantlib_paths=100_000,
    throughput_options=4_800,
    throughput_paths=1_024,
    numpy_paths=2_000,
    simulator_paths=16,
    dataset_paths=100_000,
    train_batch=4_800,
    train_paths=1_024,
    hidden=1_024,
    train_items=1_000,
    train_epochs=3,
    lr_start=1e-4,
    lr_end=1e-6,
    val_items=4,
    val_paths=8_192,
    amp_steps=200,
    ddp_items=500,
    shards=40,
    options_per_shard=10_000,
    shard_paths=16_384,
    file_batch=1_024,
    file_epochs=20,
    fd_paths=500_000,
    fd_replications=20,
    inference_batch=1_000_000,
    inference_mc_options=8,
    inference_greeks_options=2,
    adjoint_paths=200_000,
    adjoint_table_paths=400_000,
    autograd_paths=4_000,
    differential_options=65_536,
    differential_paths=256,
    differential_steps=4_000,
    reference_greeks_paths=4_194_304,
    basket_paths=100_000,
    basket_device="cuda",
    basket_fd_paths=20_000,
    qat_options=262_144,
    service_requests=2_000,
    sweep_options=16_384,
    sweep_steps=4_000,
)

CPU_SIZES = Sizes(
    profile="cpu",
    backend="numba",
    example_paths=2_048_000,
    validation_paths=400_000,
    quantlib_paths=100_000,
    throughput_options=64,
    throughput_paths=1_024,
    numpy_paths=2_000,
    simulator_paths=16,
    dataset_paths=10_000,
    train_batch=512,
    train_paths=128,
    hidden=512,
    train_items=100,
    train_epochs=3,
    lr_start=1e-3,
    lr_end=1e-5,
    val_items=4,
    val_paths=4_096,
    amp_steps=120,
    ddp_items=40,
    shards=20,
    options_per_shard=2_048,
    shard_paths=256,
    file_batch=256,
    file_epochs=8,
    fd_paths=20_000,
    fd_replications=16,
    inference_batch=100_000,
)


TEST_SIZES = replace(
    CPU_SIZES,
    profile="test",
    example_paths=512_000,
    validation_paths=100_000,
    quantlib_paths=20_000,
    throughput_options=16,
    dataset_paths=2_000,
    hidden=256,
    train_items=60,
    val_items=2,
    val_paths=1_024,
    amp_steps=20,
    ddp_items=10,
    shards=6,
    options_per_shard=512,
    shard_paths=128,
    file_epochs=2,
    fd_paths=5_000,
    fd_replications=8,
    inference_batch=20_000,
    inference_mc_options=2,
    inference_greeks_options=1,
    adjoint_paths=5_000,
    adjoint_table_paths=50_000,
    autograd_paths=500,
    differential_options=2_048,
    differential_steps=250,
    reference_greeks_paths=131_072,
    basket_paths=4_000,
    basket_fd_paths=2_000,
    basket_timing_paths=2_000,
    basket_timing_repeats=1,
    qat_options=8_192,
    service_requests=200,
    sweep_options=1_024,
    sweep_steps=250,
)
"""The test suite's sizes (``COURSE_SIZES=test``): ``CPU_SIZES`` with fewer paths, options and
steps, so that ``make test`` executes all thirteen chapters on two cores in minutes."""

PROFILES = {"gpu": GPU_SIZES, "cpu": CPU_SIZES, "test": TEST_SIZES}
"""The profiles ``COURSE_SIZES`` may name."""


def sizes() -> Sizes:
    """The sizes for this machine: ``GPU_SIZES`` with a usable CUDA GPU, else ``CPU_SIZES``;
    ``COURSE_SIZES`` (``gpu``, ``cpu`` or ``test``) overrides the choice.

    Raises:
        ValueError: if ``COURSE_SIZES`` names no profile.
    """
    forced = os.environ.get("COURSE_SIZES", "").strip().lower()
    if forced and forced not in PROFILES:
        raise ValueError(f"COURSE_SIZES must be one of {sorted(PROFILES)}, got {forced!r}")
    if forced:
        chosen = PROFILES[forced]
    elif gpu_available():
        chosen = GPU_SIZES
    else:
        chosen = CPU_SIZES
    if chosen.backend == "cupy" and not gpu_available():
        return replace(chosen, backend="numba")
    return chosen
