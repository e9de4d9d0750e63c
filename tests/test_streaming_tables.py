"""helpers.benchmark.streaming_tables: Chapter 2's table names this machine and takes the
article's sizes from config.GPU_SIZES."""

from helpers.benchmark import streaming_tables
from helpers.core import config
from helpers.core.machine import machine_line


def test_measured_table_sets_this_run_beside_the_articles_sizes():
    text = streaming_tables.measured_table(config.TEST_SIZES, "cpu", 10, 5.0, 2_560.0).data
    lines = text.splitlines()
    assert lines[0] == "|  | this run | the article |"
    assert f"| machine | {machine_line()} | NVIDIA V100 |" in lines
    assert "| items in the 10-item example | 10 | 11 (off by one) |" in lines
    assert "| training item | 512 options x 128 paths | 4,800 options x 1,024 paths |" in lines
    assert "| path-steps per training item | 23,920,640 | 1,794,048,000 |" in lines
    assert "| labelling rate | 5.00 items/s, 2,560 options/s | not reported |" in lines
