"""helpers.datagen and FileOptionDataSet: reproducible shards, no partial files, verification."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers.core.domain import in_barrier_corner, sample_barrier_corner, sobol_options
from helpers.core.files import sha256, temporaries
from helpers.data import generate as datagen
from helpers.data.on_disk import FileOptionDataSet
from helpers.mc import price_options

SMALL = dict(shards=4, options_per_shard=32, paths=64, seed=3, n_steps=20, progress=False)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    out = tmp_path_factory.mktemp("one_worker")
    return out, datagen.generate_dataset(out, workers=1, **SMALL)


@pytest.fixture
def copy(dataset, tmp_path):
    """A private copy of the module's dataset, to damage."""
    target = tmp_path / "copy"
    shutil.copytree(dataset[0], target)
    return target


def hashes(manifest):
    return [s["sha256"] for s in manifest["shards"]]


def test_one_and_two_workers_write_identical_shards(dataset, tmp_path):
    _, one = dataset
    two = datagen.generate_dataset(tmp_path, workers=2, **SMALL)
    assert hashes(one) == hashes(two)


def test_manifest_records_seeds_rows_hashes_split_and_version(dataset):
    out, manifest = dataset
    assert manifest["complete"] and manifest["code_version"]
    assert manifest["spec"]["seed"] == 3 and manifest["spec"]["paths"] == 64
    assert [s["split"] for s in manifest["shards"]] == ["train"] * 3 + ["validation"]
    for s in manifest["shards"]:
        assert s["rows"] == 32 and sha256(out / s["file"]) == s["sha256"]
        assert (s["params_seed"], s["mc_seed"]) == datagen.shard_seeds(3, s["index"])
    assert json.loads((out / datagen.MANIFEST).read_text()) == manifest


def test_shard_labels_are_the_monte_carlo_prices_of_its_options(dataset):
    out, manifest = dataset
    X, Y = datagen.load_split(out, "validation")
    mc_seed = manifest["shards"][-1]["mc_seed"]
    expected = price_options(X, 64, n_steps=20, seed=mc_seed, backend="numba").price
    np.testing.assert_allclose(Y, expected.astype(np.float32))


def test_rerun_computes_only_missing_shards(dataset, copy):
    _, reference = dataset
    (copy / datagen.shard_name(2)).unlink()
    before = {p.name: p.stat().st_mtime_ns for p in copy.glob("shard-*")}
    again = datagen.generate_dataset(copy, workers=1, **SMALL)
    after = {p.name: p.stat().st_mtime_ns for p in copy.glob("shard-*")}
    assert hashes(again) == hashes(reference)
    assert all(after[name] == mtime for name, mtime in before.items())  # untouched


def test_rerun_deletes_the_temporary_files_a_killed_run_left(dataset, copy):
    _, reference = dataset
    (copy / datagen.shard_name(2)).unlink()
    stale = copy / f".{datagen.shard_name(2)}.999999.tmp"  # another process's, long gone
    stale.write_bytes(b"half a parquet file")
    assert stale in temporaries(copy)
    (copy / f".{datagen.MANIFEST}.999999.tmp").write_text("{")
    again = datagen.generate_dataset(copy, workers=1, **SMALL)
    assert not list(copy.glob(".*.tmp")) and not list(copy.glob("*.tmp"))
    assert hashes(again) == hashes(reference)


def test_rerun_refuses_a_tampered_shard_instead_of_hashing_it_again(dataset, copy):
    shard = copy / datagen.shard_name(1)
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"shard-00001\.parquet .* was changed.*delete it"):
        datagen.generate_dataset(copy, workers=1, **SMALL)
    with pytest.raises(ValueError, match="shard-00001.parquet .* was changed"):
        datagen.verify(copy)  # the manifest still holds the hash of the shard as written
    shard.unlink()  # the remedy the message names
    assert hashes(datagen.generate_dataset(copy, workers=1, **SMALL)) == hashes(dataset[1])


def test_an_existing_dask_scheduler_writes_the_same_shards_as_a_local_cluster(dataset, tmp_path):
    from dask.distributed import LocalCluster

    _, local = dataset
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster:  # fmt: skip
        remote = datagen.generate_dataset(tmp_path, scheduler=cluster.scheduler_address, **SMALL)
    assert remote["spec"]["backend"] == "numba"  # the client sees no GPUs of a remote cluster
    assert hashes(remote) == hashes(local)


def test_task_keys_differ_between_specs_and_output_folders(dataset, tmp_path):
    out, manifest = dataset
    spec = manifest["spec"]
    key = datagen.task_key(spec, out, 1)
    assert key == datagen.task_key(spec, out, 1)
    assert key != datagen.task_key(spec, out, 2)
    assert key != datagen.task_key(spec, tmp_path, 1)
    assert key != datagen.task_key(spec | {"paths": 65}, out, 1)


def test_killed_generation_leaves_no_partial_shard_and_rerun_completes(tmp_path):
    spec = dict(SMALL, shards=12, options_per_shard=64, paths=2_000)
    reference = datagen.generate_dataset(tmp_path / "reference", workers=1, **spec)  # uninterrupted
    tmp_path = tmp_path / "killed"
    tmp_path.mkdir()
    command = [sys.executable, "-m", "helpers.datagen", "--out", str(tmp_path),
               "--shards", "12", "--options-per-shard", "64", "--paths", "2000",
               "--seed", "3", "--steps", "20", "--workers", "1"]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("shard-*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done = sorted(tmp_path.glob("shard-*.parquet"))
    assert 1 <= len(done) < 12, "the run should have been killed midway"
    expected = {s["file"]: s["sha256"] for s in reference["shards"]}
    for shard in done:  # every shard that exists is complete, and the uninterrupted run's bytes
        assert datagen._rows(shard) == 64
        assert sha256(shard) == expected[shard.name]
    with pytest.raises(ValueError, match="incomplete"):
        datagen.verify(tmp_path)
    completed = datagen.generate_dataset(tmp_path, workers=1, **spec)
    assert len(completed["shards"]) == 12 and datagen.verify(tmp_path)
    assert hashes(completed) == hashes(reference)
    assert not list(tmp_path.glob(".*.tmp"))  # a killed writer's temporary file is gone


def test_changed_settings_are_refused(copy):
    with pytest.raises(ValueError, match="other settings.*paths"):
        datagen.generate_dataset(copy, workers=1, **(SMALL | {"paths": 65}))


def test_tampered_shard_is_detected_by_name(copy):
    shard = copy / datagen.shard_name(1)
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="shard-00001.parquet .* was changed"):
        FileOptionDataSet(str(copy))


def test_missing_shard_and_missing_manifest_are_errors(copy, tmp_path):
    with pytest.raises(ValueError, match="no manifest.json"):
        FileOptionDataSet(str(tmp_path / "empty"))
    (copy / datagen.shard_name(0)).unlink()
    with pytest.raises(ValueError, match="shard-00000.parquet is missing"):
        datagen.verify(copy)


@pytest.mark.parametrize("world_size", [1, 2, 3])
def test_ranks_partition_rows_without_overlap_or_loss(dataset, world_size):
    out, _ = dataset
    whole = FileOptionDataSet(str(out))
    shares = [FileOptionDataSet(str(out), rank, world_size) for rank in range(world_size)]
    assert sum(len(s) for s in shares) == len(whole) == 96
    rows = sorted(tuple(x.tolist()) for s in shares for x in s.X)
    assert rows == sorted(tuple(x.tolist()) for x in whole.X)
    x, y = shares[-1][0]
    assert x.shape == (6,) and y.shape == ()


def test_bad_generation_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="shards must be >= 2"):
        datagen.generate_dataset(tmp_path, **(SMALL | {"shards": 1}))
    with pytest.raises(ValueError, match="val_shards"):
        datagen.generate_dataset(tmp_path, val_shards=4, **SMALL)
    with pytest.raises(ValueError, match="backend must be one of"):
        datagen.generate_dataset(tmp_path, backend="cuda", **SMALL)
    with pytest.raises(ValueError, match="rank"):
        FileOptionDataSet(str(tmp_path), rank=2, world_size=2)


def test_greek_labels_are_the_adjoint_sensitivities_of_the_same_paths(tmp_path):
    # Chapter 9's labels: the survival estimator's price and adjoint sensitivities, the same
    # numbers price_options(greeks=True) gives on the shard's options and seed.
    small = SMALL | {"shards": 2, "options_per_shard": 8}
    manifest = datagen.generate_dataset(tmp_path, workers=1, greeks=True, **small)
    X, Y = datagen.load_split(tmp_path, "validation")
    G, G_se = datagen.load_greeks(tmp_path, "validation")
    mc_seed = manifest["shards"][-1]["mc_seed"]
    expected = price_options(X, 64, n_steps=20, seed=mc_seed, backend="numba", greeks=True)
    np.testing.assert_allclose(Y, expected.price.astype(np.float32))
    for j, name in enumerate(datagen.COLUMNS):
        np.testing.assert_allclose(G[:, j], expected.greeks[name].astype(np.float32))
        np.testing.assert_allclose(G_se[:, j], expected.greeks_stderr[name].astype(np.float32))
    assert manifest["spec"]["greeks"] and set(datagen.GREEK_LABELS) <= set(
        manifest["spec"]["columns"]
    )


def test_plain_datasets_keep_their_spec_and_have_no_greek_labels(dataset):
    out, manifest = dataset
    assert "greeks" not in manifest["spec"]
    with pytest.raises(ValueError, match="no derivative labels"):
        datagen.load_greeks(out)


def test_sobol_shards_continue_one_scrambled_sequence(tmp_path):
    small = SMALL | {"shards": 2, "options_per_shard": 8}
    manifest = datagen.generate_dataset(tmp_path, workers=1, sobol=True, **small)
    X_train, _ = datagen.load_split(tmp_path, "train")
    X_val, _ = datagen.load_split(tmp_path, "validation")
    expected = sobol_options(16, datagen.sobol_seed(small["seed"]))
    np.testing.assert_array_equal(np.concatenate([X_train, X_val]), expected)
    assert manifest["spec"]["sampling"] == "sobol"


def test_control_shards_hold_the_control_variate_prices(tmp_path):
    small = SMALL | {"shards": 2}
    manifest = datagen.generate_dataset(tmp_path, workers=1, control=True, **small)
    X, Y = datagen.load_split(tmp_path, "validation")
    _, mc_seed = datagen.shard_seeds(small["seed"], 1)
    expected = price_options(X, 64, n_steps=20, seed=mc_seed, method="control")
    np.testing.assert_allclose(Y, expected.price.astype(np.float32))
    assert manifest["spec"]["estimator"] == "control"


def test_control_variates_with_greeks_are_refused(tmp_path):
    with pytest.raises(ValueError, match="control variates price only"):
        datagen.generate_dataset(tmp_path, workers=1, control=True, greeks=True, **SMALL)


def test_barrier_corner_shards_draw_their_options_from_the_corner(tmp_path):
    small = SMALL | {"shards": 2, "options_per_shard": 16}
    manifest = datagen.generate_dataset(tmp_path, workers=1, region="barrier_corner", **small)
    X, _ = datagen.load_split(tmp_path, "validation")
    params_seed, _ = datagen.shard_seeds(small["seed"], 1)
    expected = sample_barrier_corner(16, np.random.default_rng(params_seed))
    np.testing.assert_array_equal(X, expected)
    assert in_barrier_corner(X).all() and manifest["spec"]["region"] == "barrier_corner"


def test_bad_regions_are_refused(tmp_path):
    with pytest.raises(ValueError, match="region must be one of"):
        datagen.generate_dataset(tmp_path, workers=1, region="corner", **SMALL)
    with pytest.raises(ValueError, match="cannot be used with sobol"):
        datagen.generate_dataset(tmp_path, workers=1, region="barrier_corner", sobol=True, **SMALL)
