"""helpers.benchmark.trainer_tables: Chapter 3's table names this machine and sets this run's
training beside the article's."""

import torch

from helpers.benchmark import trainer_tables
from helpers.core import config
from helpers.core.machine import machine_line


def test_measured_table_sets_this_run_beside_the_articles_training():
    text = trainer_tables.measured_table(
        sizes=config.TEST_SIZES,
        device="cpu",
        n_parameters=1_234,
        iterations=180,
        step_seconds=0.0123,
        last_loss=4.567,
        best_mae=0.891,
    ).data
    lines = text.splitlines()
    assert lines[0] == "|  | this run | the article |"
    assert f"| machine | {machine_line()} | NVIDIA V100 |" in lines
    assert f"| backend | PyTorch {torch.__version__} on `cpu`, float32; labels: Numba" in text
    assert "| batch, paths per option | 512, 128 | 4,800, 1,024 |" in lines
    assert "| hidden width, parameters | 256, 1,234 | 1,024 (prose: 512) |" in lines
    assert "| mean update step (last epoch) | 12.3 ms | about 12 ms |" in lines
    assert "| best validation MAE | 0.891 | not reported |" in lines
