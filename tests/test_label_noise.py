"""helpers.data.label_noise: the MAE floor that noisy labels put under a validation MAE."""

from __future__ import annotations

import math

import numpy as np
import pytest

from helpers.data import generate as datagen
from helpers.data import label_noise

SMALL = dict(shards=3, options_per_shard=32, paths=64, seed=11, n_steps=20, progress=False)


def test_floor_is_sqrt_2_over_pi_times_the_mean_standard_error():
    floor = label_noise.noise_floor(np.array([1.0, 2.0, 3.0, 0.0]))
    assert floor.mae == pytest.approx(math.sqrt(2 / math.pi) * 1.5)
    assert floor.mean_stderr == 1.5 and floor.rows == 4
    assert floor.se == pytest.approx(math.sqrt(14 * (1 - 2 / math.pi)) / 4)


def test_exact_prices_score_the_floor_against_noisy_labels_within_4_se():
    rng = np.random.default_rng(0)
    stderr = rng.uniform(0.0, 2.0, 20_000)
    labels_minus_exact = rng.normal(0.0, stderr)
    floor = label_noise.noise_floor(stderr)
    assert abs(np.abs(labels_minus_exact).mean() - floor.mae) < 4 * floor.se


def test_a_biased_pricer_scores_above_the_floor():
    rng = np.random.default_rng(1)
    stderr = np.full(20_000, 1.0)
    noise = rng.normal(0.0, stderr)
    floor = label_noise.noise_floor(stderr)
    for bias in (0.3, -0.5, 1.0):
        assert np.abs(bias - noise).mean() > floor.mae + 4 * floor.se


@pytest.mark.parametrize("bad", [np.array([]), np.array([1.0, -0.1]), np.array([np.nan])])
def test_bad_standard_errors_are_refused(bad):
    with pytest.raises(ValueError, match="stderr"):
        label_noise.noise_floor(bad)


def test_load_stderr_reads_the_splits_standard_errors_in_row_order(tmp_path):
    import pyarrow.parquet as pq

    manifest = datagen.generate_dataset(tmp_path, workers=1, **SMALL)
    validation = label_noise.load_stderr(tmp_path)
    shard = [s for s in manifest["shards"] if s["split"] == "validation"][0]
    stored = pq.read_table(tmp_path / shard["file"])["stderr"].to_numpy()
    assert np.array_equal(validation, stored) and (validation > 0).any()
    assert label_noise.load_stderr(tmp_path, "train").shape == (64,)
    with pytest.raises(ValueError, match="split"):
        label_noise.load_stderr(tmp_path, "test")
