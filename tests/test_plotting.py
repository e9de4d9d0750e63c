"""Every figure the chapters draw has labelled axes, each label with its unit."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from helpers import plotting  # noqa: E402

COUNTS = {"iteration", "epoch"}
"""Axis labels that count things and so carry no unit."""

rng = np.random.default_rng(0)
spots = np.linspace(90.0, 130.0, 9)
export_rows = [
    {"name": name, "mae": mae, "speedup": {1_000: speed}, "int8": int8}
    for name, mae, speed, int8 in (
        ("PyTorch float32", 0.02, 1.0, False),
        ("ORT float32", 0.02, 1.4, False),
        ("ORT int8", 0.03, 2.1, True),
    )
]
service_rows = [
    {
        "endpoint": e,
        "concurrency": c,
        "window_ms": w,
        "requests_per_s": 100.0 * c,
        "p99_ms": 5.0 + w,
    }
    for e in ("price", "greeks")
    for c in (1, 64)
    for w in (0, 2, 5)
]

FIGURES = {
    "throughput_bars": lambda: plotting.throughput_bars(["numba", "numpy"], [1e9, 1e7], "t"),
    "convergence": lambda: plotting.convergence(
        [1e3, 4e3], [5.1, 5.0], [0.2, 0.1], 5.0, 0.01, "QuantLib"
    ),
    "loss_curve": lambda: plotting.loss_curve(np.linspace(1e3, 1.0, 40), "t"),
    "step_times": lambda: plotting.step_times(["float32", "mixed"], [3.0, 2.0], "t"),
    "validation_curve": lambda: plotting.validation_curve([0.3, 0.2, 0.1], resumed_after=1),
    "prediction_scatter": lambda: plotting.prediction_scatter([1.0, 2.0], [1.1, 1.9], "t"),
    "greek_curves": lambda: plotting.greek_curves(
        {"S0": spots, "price": spots, "delta": spots, "gamma": spots},
        [110.0, 100.0, 120.0, 0.35, 0.1, 0.05],
    ),
    "payoff_curves": lambda: plotting.payoff_curves(
        spots, {"plain": spots}, "spot (currency)", "t"
    ),
    "smoothing_bias": lambda: plotting.smoothing_bias([0.01, 0.001], [0.1, 0.01], 0.05, 0.001),
    "sampling_points": lambda: plotting.sampling_points(
        {"uniform": rng.random((16, 6))}, (0, 2), ("strike K (currency)", "spot S0 (currency)")
    ),
    "learning_curves": lambda: plotting.learning_curves(
        {"plain": ([64, 128], [0.1, 0.05])}, [0.03], 0.01
    ),
    "smile_and_local_vol": lambda: plotting.smile_and_local_vol(
        (rng.random((2, 5)), rng.random((2, 5))),
        (rng.random((2, 20)), rng.random((2, 20))),
        [0.25, 1.0],
        {0.5: (spots, spots / 100)},
        "MXN",
    ),
    "vega_heatmaps": lambda: plotting.vega_heatmaps(
        rng.standard_normal((7, 3, 5)),
        [f"P{k}" for k in range(7)],
        [0.25, 0.5, 1.0],
        [0.1, 0.25, 0.5, 0.75, 0.9],
    ),
    "accuracy_and_speed": lambda: plotting.accuracy_and_speed(
        export_rows, 1_000, goal_speedup=2.0, goal_mae_change=0.5
    ),
    "quantized_delta": lambda: plotting.quantized_delta(
        spots, {"int8": spots * 0}, {"float": spots * 0 + 1}
    ),
    "service_load": lambda: plotting.service_load(service_rows),
    "full_size_accuracy": lambda: plotting.full_size_accuracy(
        {"a": 0.03, "b": 0.006},
        {n: {"price": 0.5, "vega": -1.5} for n in ("a", "b")},
        {"target": 0.03},
        "recorded on a CPU",
    ),
    "volatility_sweep": lambda: plotting.volatility_sweep(
        [0.2, 0.4], {"shipped": [0.0, -0.02]}, [0.002, 0.003], "this machine"
    ),
}


def test_every_plotting_function_is_tried():
    public = {
        name
        for name, value in vars(plotting).items()
        if callable(value) and not name.startswith("_") and value.__module__ == plotting.__name__
    }
    assert public == set(FIGURES)


def labelled(ax: plt.Axes, axis: str) -> bool:
    """Whether ``ax`` or an axes sharing that axis with it carries a label (a panel of a
    grid shares its neighbour's label), or its ticks are named categories (bars)."""
    siblings = getattr(ax, f"get_shared_{axis}_axes")().get_siblings(ax)
    if any(getattr(a, f"get_{axis}label")() for a in siblings):
        return True
    ticks = [t.get_text() for a in siblings for t in getattr(a, f"get_{axis}ticklabels")()]
    return any(text and not _is_number(text) for text in ticks)


def _is_number(text: str) -> bool:
    try:
        float(
            text.replace("\u2212", "-").replace("$", "").replace("\\mathdefault{", "").rstrip("}")
        )
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("name", FIGURES)
def test_every_axis_is_labelled_with_its_unit(name):
    fig = FIGURES[name]()
    try:
        fig.canvas.draw()  # tick labels exist once drawn
        for k, ax in enumerate(a for a in fig.axes if a.axison):
            colorbar = getattr(ax, "_colorbar", None)  # labelled along its length only
            along = {"vertical": ("y",), "horizontal": ("x",)}
            for axis in along[colorbar.orientation] if colorbar else ("x", "y"):
                assert labelled(ax, axis), f"{name}, axes {k}: no {axis} label"
                label = getattr(ax, f"get_{axis}label")()
                assert not label or "(" in label or label in COUNTS, (
                    f"{name}, axes {k}: {axis} label {label!r} names no unit"
                )
    finally:
        plt.close(fig)
