"""Pipelines around the models (Chapter 12): shards read ahead while the model trains
(``prefetch``), and a hyper-parameter sweep run in parallel processes or on Dask (``sweep``)."""

from .prefetch import ShardBatches, read_shard, shard_files, time_training
from .sweep import EXECUTORS, SweepData, SweepResult, Trial, run_sweep, run_trial, sweep_data

__all__ = [
    "EXECUTORS",
    "ShardBatches",
    "SweepData",
    "SweepResult",
    "Trial",
    "read_shard",
    "run_sweep",
    "run_trial",
    "shard_files",
    "sweep_data",
    "time_training",
]
