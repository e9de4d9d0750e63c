"""helpers.benchmark runs end to end at tiny sizes (a smoke test: speed is never asserted)."""

import functools
import json

from helpers import benchmark, config


def test_benchmark_writes_markdown_and_json(tmp_path, monkeypatch):
    tiny = config.Sizes("cpu", "numba", 1000, 1000, 1000, 4, 64, 64, 2,
                        100, 8, 16, 16, 2, 1, 1e-3, 1e-5, 1, 64, 2,
                        2, 4, 16, 16, 8, 1, 100, 2, 1000)  # fmt: skip
    monkeypatch.setattr(config, "sizes", lambda: tiny)
    monkeypatch.setattr(benchmark, "time_quantlib", lambda n, n_steps=365: benchmark.Timing(
        "anchor", "quantlib", 1, n, n_steps, 1, 1.0))  # fmt: skip
    monkeypatch.setattr(benchmark, "time_datagen",
                        functools.partial(benchmark.time_datagen, shards=2))  # fmt: skip
    monkeypatch.setattr(benchmark, "time_training_sources",
                        functools.partial(benchmark.time_training_sources, steps=2))  # fmt: skip
    fake_inference = {"mae": 0.1, "matched_paths": 1000, "mc_options_per_second": 10.0,
                      "network_options_per_second": {"1": 1e3, "1000": 1e6},
                      "speedup_at_equal_accuracy": 1e5, "network_greeks_options_per_second": 1e4,
                      "mc_greeks_options_per_second": 0.8}  # fmt: skip
    monkeypatch.setattr(benchmark, "time_inference", lambda sizes, batches=(1, 1000): fake_inference)
    benchmark.main(["--out", str(tmp_path), "--anchor-paths", "256"])
    result = json.loads((tmp_path / "results.json").read_text())
    backends = {t["backend"] for t in result["timings"]}
    assert {"quantlib", "numba", "numpy"} <= backends
    markdown = (tmp_path / "results.md").read_text()
    assert "x QuantLib per core" in markdown and "mixed precision" in markdown
    assert result["training_step"]["float32_ms"] > 0
    assert result["dataset"]["items_per_second"] > 0
    assert result["datagen"]["ratio_2_over_1"] > 0
    assert result["training_sources"]["files_samples_per_second"] > 0
