"""helpers.benchmark runs end to end at tiny sizes (a smoke test: speed is never asserted)."""

import dataclasses
import functools
import json

import numpy as np
import pytest

from helpers import benchmark
from helpers.benchmark import data, differential, inference, mc
from helpers.core import config
from helpers.inference.export import benchmark as quantized
from helpers.inference.service import benchmark as service
from helpers.localvol import timing
from helpers.mc.bumps import bump_and_revalue_batch
from helpers.mc.cupy_backend import normals_buffer_bytes


def only_run(folder) -> dict:
    """The one machine's run in ``folder/results.json``."""
    runs = json.loads((folder / "results.json").read_text())["machines"]
    assert len(runs) == 1
    return next(iter(runs.values()))


def test_benchmark_writes_markdown_and_json(tmp_path, monkeypatch):
    tiny = config.Sizes("cpu", "numba", 1000, 1000, 1000, 4, 64, 64, 2,
                        100, 8, 16, 16, 2, 1, 1e-3, 1e-5, 1, 64, 2,
                        2, 4, 16, 16, 8, 1, 100, 2, 1000)  # fmt: skip
    monkeypatch.setattr(config, "sizes", lambda: tiny)
    monkeypatch.setattr(mc, "time_quantlib", lambda n, n_steps=365: benchmark.Timing(
        "anchor", "quantlib", 1, n, n_steps, 1, 1.0))  # fmt: skip
    monkeypatch.setattr(data, "time_datagen",
                        functools.partial(data.time_datagen, shards=2))  # fmt: skip
    monkeypatch.setattr(data, "time_training_sources",
                        functools.partial(data.time_training_sources, steps=2))  # fmt: skip
    fake_inference = {"device": "cpu", "mae": 0.1, "matched_paths": 1000,
                      "mc_options_per_second": 10.0,
                      "network_options_per_second": {"1": 1e3, "1000": 1e6},
                      "speedup_at_equal_accuracy": 1e5, "network_greeks_options_per_second": 1e4,
                      "mc_greeks_options": 4, "mc_greeks_options_per_second": 0.8}  # fmt: skip
    monkeypatch.setattr(
        inference, "time_inference", lambda sizes, batches=(1, 1000): fake_inference
    )
    # Chapters 12 and 13 measure minutes of quantization and load: their own tests cover them
    monkeypatch.setattr(quantized, "measure", lambda sizes, anchor_paths: {})
    monkeypatch.setattr(service, "measure", lambda sizes, anchor_paths: {})
    monkeypatch.setattr(timing, "time_basket",
                        functools.partial(timing.time_basket, n_paths=64, n_steps=30,
                                          repeats=1))  # fmt: skip
    benchmark.main(["--out", str(tmp_path), "--anchor-paths", "256"])
    result = only_run(tmp_path)
    assert (
        result["localvol"]["R_adjoint"] > 0
        and "local volatility (Chapter 11)" in (tmp_path / "results.md").read_text()
    )
    backends = {t["backend"] for t in result["timings"]}
    assert {"quantlib", "numba", "numpy"} <= backends
    markdown = (tmp_path / "results.md").read_text()
    assert "x QuantLib per core" in markdown and "mixed precision" in markdown
    assert result["training_step"]["float32_ms"] > 0
    assert result["dataset"]["items_per_second"] > 0
    assert result["datagen"]["ratio_2_over_1"] > 0
    assert result["training_sources"]["files_samples_per_second"] > 0
    assert "best of 2 runs" in markdown and "No CUDA GPU" in markdown
    assert "Where the CPU kernel's time goes" in markdown
    assert "With the article's barriers" in markdown
    parts = {"libm_kernel", "libm_normals", "block_philox", "block_normals", "block_steps",
             "block_kernel"}  # fmt: skip
    assert set(result["kernel_parts"]["rates"]) == parts
    # one topic again: the others are kept, the fresh one is dated
    benchmark.main(["training", "--out", str(tmp_path)])
    again = only_run(tmp_path)
    assert again["timings"] == result["timings"] and again["localvol"] == result["localvol"]
    assert "date" in again["training_step"] and "date" not in result["training_step"]


def test_each_machine_keeps_its_own_section(tmp_path, monkeypatch):
    """A run replaces its own machine's figures and leaves another machine's beside them; a
    file from before runs were kept per machine is read as one run."""
    runner = benchmark.runner
    step = {"device": "cpu", "mixed_dtype": "bfloat16", "batch": 512, "hidden": 512, "steps": 20,
            "float32_ms": 40.0, "mixed_ms": 20.0, "mixed_over_float32": 0.5}  # fmt: skip
    xeon = {"date": "2026-12-05T10:00:00+00:00", "machine": {"cpu": "Intel Xeon", "cores": "2"},
            "training_step": step}  # fmt: skip
    (tmp_path / "results.json").write_text(json.dumps(xeon))
    assert runner.load_runs(tmp_path / "results.json") == {"Intel Xeon, 2 cores": xeon}
    fresh = {"training_step": dict(step, float32_ms=30.0)}
    monkeypatch.setattr(runner, "_measure", lambda name, sizes, anchor_paths: fresh)
    monkeypatch.setattr(runner.machine, "describe_machine",
                        lambda: {"cpu": "AMD EPYC", "cores": "2", "gpu": "none"})  # fmt: skip
    for _ in range(2):  # the second run replaces the first on the same machine
        runner.main(["training", "--out", str(tmp_path)])
    runs = json.loads((tmp_path / "results.json").read_text())["machines"]
    assert set(runs) == {"Intel Xeon, 2 cores", "AMD EPYC, 2 cores"}
    assert runs["Intel Xeon, 2 cores"] == xeon
    page = (tmp_path / "results.md").read_text()
    amd, intel = page.index("## AMD EPYC, 2 cores: measured"), page.index("## Intel Xeon")
    assert amd < intel and page.count("### Training step") == 2 and page.count("\n# ") == 0


def test_an_unknown_topic_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown benchmark topic 'gpu'"):
        benchmark.runner.topic("gpu")


def test_markdown_states_the_cpu_targets_and_where_the_time_goes():
    timings = [
        benchmark.Timing("anchor", "quantlib", 1, 1000, 365, 1, 1.0),
        benchmark.Timing("anchor", "numba", 1, 1000, 365, 1, 1 / 50),
        benchmark.Timing("anchor", "numba", 1, 1000, 365, 2, 1 / 95),
        benchmark.Timing("knock-out", "numba", 2, 1000, 365, 1, 1 / 30),
    ]
    rates = {"libm_kernel": 8e7, "libm_normals": 1e8, "block_kernel": 4e8, "block_philox": 1e9,
             "block_normals": 5e8, "block_steps": 2e9}  # fmt: skip
    result = {"date": "today", "machine": {"gpu": "none"},
              "timings": [dataclasses.asdict(t) | {"path_steps_per_second": t.path_steps_per_second}
                          for t in timings],
              "kernel_parts": {"paths": 1000, "steps": 365, "rates": rates}}  # fmt: skip
    markdown = benchmark.to_markdown(result)
    assert "at least 40x QuantLib per core: 50.0x, met." in markdown
    assert "two threads at least 1.8x one thread: 1.90x, met." in markdown
    assert "done): 2.19e+07 path-steps/s on 1 thread." in markdown
    assert (
        "Random numbers take 80% of the former kernel's time and 80% of the block kernel's"
        " (Philox 40%, Box-Muller 40%)" in markdown
    )
    assert "| its Philox words alone | 1e+09 | 1.00 |" in markdown
    assert "the block kernel is 5.0x the former, and 20% of the step-loop-only limit" in markdown


def gpu_result(rate: float, device: str) -> dict:
    """A results dictionary as ``run_all`` makes it on a GPU machine, with one cupy timing."""
    cupy = benchmark.Timing("batch", "cupy", 4800, 8192, 365, 0, 4800 * 8192 * 365 / rate)
    quantlib = benchmark.Timing("anchor", "quantlib", 1, 20_000, 365, 1, 1.0)
    article = {"device": device, "options": 600, "paths": 8192, "steps": 365,
               "generate_normals_s": 0.01, "generate_and_price_s": 0.03, "philox_kernel_s": 0.005,
               "normals_path_steps_per_second": 1.8e11,
               "article_pricing_path_steps_per_second": 9e10,
               "article_launch_path_steps_per_second": 6e10,
               "philox_path_steps_per_second": 3.6e11}  # fmt: skip
    return {
        "date": "today",
        "machine": {"gpu": device},
        "timings": [
            dataclasses.asdict(t) | {"path_steps_per_second": t.path_steps_per_second}
            for t in (quantlib, cupy)
        ],  # fmt: skip
        "article_kernel": article,
    }


def test_markdown_states_the_gpu_target_verdict_and_the_device():
    met = benchmark.to_markdown(gpu_result(6e11, "NVIDIA H100 80GB HBM3"))
    assert "at least 5e+11 path-steps/s on an H100: 6e+11 on NVIDIA H100 80GB HBM3, met." in met
    missed = benchmark.to_markdown(gpu_result(2e11, "NVIDIA A10G"))
    assert "2e+11 on NVIDIA A10G, MISSED (the target is for an H100" in missed
    assert "drawing the normals 0.0100 s (1.8e+11 path-steps/s)" in missed
    assert "pricing alone 9e+10 path-steps/s" in missed and "No CUDA GPU" not in missed


def test_cupy_article_batch_shrinks_until_its_normals_fit_in_half_the_free_memory(monkeypatch):
    sizes = config.GPU_SIZES
    free = 2 * normals_buffer_bytes(700, mc.GPU_PATHS, 365)
    monkeypatch.setattr(mc, "gpu_free_bytes", lambda: free)
    X, paths = mc.workload("cupy-article", sizes)
    n = len(X)
    assert paths == mc.GPU_PATHS and n == 600  # 4800 halved three times
    assert normals_buffer_bytes(n, paths, 365) + 4 * n * paths <= free // 2
    assert mc.workload("cupy", sizes)[1] == mc.GPU_PATHS


def test_bump_and_revalue_batch_has_13_rows_per_option_with_central_bumps():
    X = np.array([[110.0, 0.0, 120.0, 0.35, 0.1, 0.05], [50.0, 10.0, 60.0, 0.2, 0.0, 0.1]])
    rows = bump_and_revalue_batch(X)
    assert rows.shape == (26, 6) and (rows >= 0).all()
    np.testing.assert_array_equal(rows[0], X[0])
    np.testing.assert_allclose(rows[5] - X[0], [0, 0, 2.0, 0, 0, 0])  # S0 up by 1% of 200
    np.testing.assert_allclose(rows[6] - X[0], [0, 0, -2.0, 0, 0, 0])
    assert rows[4, 1] == 0.0  # the barrier's down bump stops at zero


def test_differential_lines_report_the_control_variates_gain():
    figures = {
        "options": 1024, "paths": 128, "batch": 1024,
        "labels_price_options_per_s": 2000.0, "labels_with_greeks_options_per_s": 1900.0,
        "plain_step_ms": 30.0, "differential_step_ms": 60.0,
        "labels_plain_options_per_s": 4000.0, "labels_control_options_per_s": 2000.0,
        "control_stderr_ratio": 20.0,
    }  # fmt: skip
    text = "\n".join(differential.differential_lines(figures))
    assert "cost x2.00" in text and "20.0 times smaller" in text and "400 times" in text


def test_a_section_measured_again_says_when_and_where():
    result = {"date": "first", "differential": {"date": "later", "machine_line": "a CPU"}}
    assert benchmark.runner.remeasured(result, "differential") == (
        "Measured again later (`python -m helpers.benchmark differential`) on a CPU."
    )
    result["training_step"] = {"date": "later"}  # the training topic writes this key
    assert "the machine not recorded" in benchmark.runner.remeasured(result, "training")
    assert benchmark.runner.remeasured(result, "adjoint") is None


def test_the_chapters_quote_the_newest_run_that_measured_a_topic(tmp_path):
    runner = benchmark.runner
    old = {"date": "2026-12-01", "machine": {"cpu": "AMD EPYC", "cores": "2"},
           "localvol": {"R_adjoint": 2.0}}  # fmt: skip
    new = {"date": "2026-12-01", "machine": {"cpu": "Intel Xeon", "cores": "2"},
           "localvol": {"R_adjoint": 3.0, "date": "2026-12-06"}}  # fmt: skip
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"machines": {"a": old, "b": new}}))
    assert runner.recorded_run("localvol", path)["machine"]["cpu"] == "Intel Xeon"
    with pytest.raises(ValueError, match="no run in .* holds 'service'"):
        runner.recorded_run("service", path)
    # the repository's own file, as the chapters read it
    assert "machine" in runner.recorded_run("timings")
