"""helpers.pipeline: shards read ahead while the model trains, and the parallel sweep."""

from __future__ import annotations

import time

import numpy as np
import pytest

from helpers.data import generate as datagen
from helpers.data.readahead import ShardBatches
from helpers.training.sweep import SweepData, Trial, run_sweep, run_trial

SMALL = {"shards": 5, "options_per_shard": 64, "paths": 32, "seed": 3, "n_steps": 12}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    datagen.generate_dataset(out, workers=1, progress=False, **SMALL)
    return out


@pytest.mark.parametrize("prefetch", [0, 1, 3])
def test_shard_batches_cover_the_split_once_whatever_the_prefetch(dataset, prefetch):
    X, y = datagen.load_split(dataset, "train")
    seen = [(x.numpy(), t.numpy()) for x, t in ShardBatches(dataset, batch=16, prefetch=prefetch)]
    assert all(x.shape == (16, 6) and t.shape == (16,) for x, t in seen)
    got = np.concatenate([x for x, _ in seen])
    assert len(got) == len(X)  # 4 training shards of 64 rows, 16 to a batch: nothing dropped
    order = np.lexsort(got.T)
    np.testing.assert_array_equal(got[order], X[np.lexsort(X.T)])
    labels = np.concatenate([t for _, t in seen])
    np.testing.assert_array_equal(np.sort(labels), np.sort(y))


def test_prefetch_hides_read_latency(dataset):
    # 4 shards at 50 ms each: read in the loop they cost 0.2 s of waiting; read ahead while
    # each shard's batches train (20 ms a batch, 4 batches) almost none
    waits = {}
    for prefetch in (0, 2):
        batches = ShardBatches(dataset, batch=16, prefetch=prefetch, latency_s=0.05)
        for _ in batches:
            time.sleep(0.02)  # a training step
        waits[prefetch] = batches.wait_s
    assert waits[0] > 0.18 and waits[2] < 0.5 * waits[0], waits


def test_shard_batches_refuse_bad_settings_and_report_a_failed_read(dataset, tmp_path):
    with pytest.raises(ValueError, match="batch"):
        ShardBatches(dataset, batch=0)
    with pytest.raises(ValueError, match="prefetch"):
        ShardBatches(dataset, batch=4, prefetch=-1)
    with pytest.raises(ValueError, match="split"):
        ShardBatches(dataset, batch=4, split="test")
    batches = ShardBatches(dataset, batch=4, prefetch=2)
    batches.files = [tmp_path / "missing.parquet"]  # a shard that vanished after verification
    with pytest.raises(OSError):
        list(batches)


def tiny_data() -> SweepData:
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 1.0, (512, 6)).astype(np.float32) * np.float32(100)
    y = X[:, 2] * np.float32(0.1)
    return SweepData(X[:448], y[:448], X[448:], y[448:])


def test_a_failing_trial_is_reported_and_the_sweep_goes_on():
    trials = [Trial(hidden=8, steps=20), Trial(hidden=8, activation="swish", steps=20),
              Trial(hidden=8, lr=1e-2, steps=20)]  # fmt: skip
    result = run_sweep(trials, tiny_data(), executor="serial")
    assert len(result.rows) == 3 and len(result.failed) == 1
    assert "swish" in result.failed[0]["error"] and result.rows[-1] is result.failed[0]
    maes = [r["validation_mae"] for r in result.rows[:2]]
    assert maes == sorted(maes) and all(np.isfinite(maes))


@pytest.mark.parametrize("executor", ["process", "dask"])
def test_parallel_sweeps_give_the_serial_results(executor):
    trials = [Trial(hidden=8, steps=30, seed=s) for s in range(3)]
    trials.append(Trial(hidden=0, steps=30))  # refused by check_architecture, in a worker
    serial = run_sweep(trials, tiny_data(), executor="serial")
    parallel = run_sweep(trials, tiny_data(), executor=executor, workers=2)
    assert [r.get("error") is None for r in parallel.rows] == [True, True, True, False]
    for a, b in zip(serial.rows[:3], parallel.rows[:3], strict=True):
        assert a["seed"] == b["seed"]
        assert a["validation_mae"] == pytest.approx(b["validation_mae"], rel=1e-5)


def test_run_trial_and_run_sweep_refuse_bad_input():
    with pytest.raises(ValueError, match="activation"):
        run_trial(Trial(activation="relu6"), tiny_data())
    with pytest.raises(ValueError, match="executor"):
        run_sweep([Trial()], tiny_data(), executor="ray")
    with pytest.raises(ValueError, match="at least one trial"):
        run_sweep([], tiny_data())
