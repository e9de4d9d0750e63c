"""Figures of the chapters: plotting code lives here so that notebooks stay short."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np

from .core.domain import QUANTITY_UNITS


def _bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    xlabel: str,
    title: str,
    label_format: str,
    color: str,
    log: bool,
) -> plt.Figure:
    """Horizontal bars, one per label, each annotated with its value."""
    fig, ax = plt.subplots(figsize=(7, 0.6 * len(labels) + 1.3))
    y = np.arange(len(labels))
    ax.barh(y, values, color=color)
    ax.set_yticks(y, labels)
    if log:
        ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    for yi, value in zip(y, values, strict=True):
        ax.text(value, yi, " " + label_format.format(value), va="center")
    ax.margins(x=0.25)
    fig.tight_layout()
    return fig


def throughput_bars(labels: Sequence[str], rates: Sequence[float], title: str) -> plt.Figure:
    """Horizontal bars of path-steps per second on a log axis, one per backend.

    Args:
        labels: one name per bar.
        rates: path-steps per second, same length as ``labels``.
        title: the figure's title.
    """
    return _bars(labels, rates, xlabel="path-steps per second (log scale)", title=title,
                 label_format="{:.2g}", color="tab:blue", log=True)  # fmt: skip


def convergence(
    n_paths: Sequence[int],
    prices: Sequence[float],
    stderrs: Sequence[float],
    reference: float,
    reference_stderr: float,
    reference_label: str,
) -> plt.Figure:
    """Monte Carlo prices with 2-standard-error bars against the number of paths, beside a
    reference price drawn as a line with its own 2-standard-error band.

    Args:
        n_paths: paths of each estimate (log-scaled x axis).
        prices, stderrs: the estimates and their standard errors, currency units.
        reference, reference_stderr: the reference price and its standard error (0 if exact).
        reference_label: the reference's legend entry.
    """
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.axhspan(reference - 2 * reference_stderr, reference + 2 * reference_stderr,
               color="tab:red", alpha=0.12, lw=0)  # fmt: skip
    ax.axhline(reference, color="tab:red", lw=1, label=f"{reference_label}, ±2 s.e. band")
    ax.errorbar(n_paths, prices, yerr=2 * np.asarray(stderrs), fmt="o", capsize=4,
                label="ours, ±2 standard errors")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("paths per option (log scale)")
    ax.set_ylabel("price (currency)")
    ax.legend()
    fig.tight_layout()
    return fig


def loss_curve(losses: Sequence[float], title: str, window: int = 10) -> plt.Figure:
    """Training loss per iteration on a log axis, with its moving average over ``window`` steps.

    Args:
        losses: one loss per iteration (MSE, price units squared).
        title: the figure's title.
        window: iterations in the moving average.
    """
    losses = np.asarray(losses, dtype=float)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(np.arange(1, losses.size + 1), losses, color="tab:blue", alpha=0.35, lw=1,
            label="loss per iteration")  # fmt: skip
    if losses.size >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, losses.size + 1), smooth, color="tab:blue", lw=2,
                label=f"moving average, {window} iterations")  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE loss (currency², log scale)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def step_times(labels: Sequence[str], milliseconds: Sequence[float], title: str) -> plt.Figure:
    """Bars of mean training-step times in milliseconds, one per configuration."""
    return _bars(labels, milliseconds, xlabel="mean training step (ms)", title=title,
                 label_format="{:.1f} ms", color="tab:green", log=False)  # fmt: skip


def validation_curve(maes: Sequence[float], resumed_after: int | None = None) -> plt.Figure:
    """Validation MAE per epoch, with a marker where training was resumed from a checkpoint."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    epochs = np.arange(1, len(maes) + 1)
    ax.plot(epochs, maes, "o-", color="tab:purple", label="validation MAE (all ranks)")
    if resumed_after is not None:
        ax.axvline(resumed_after + 0.5, color="grey", ls="--", label="resumed from checkpoint")
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation MAE (currency)")
    ax.legend()
    fig.tight_layout()
    return fig


def prediction_scatter(
    reference: Sequence[float], predicted: Sequence[float], title: str
) -> plt.Figure:
    """Network prices against Monte Carlo prices (left) and the errors against the price (right)."""
    reference, predicted = np.asarray(reference), np.asarray(predicted)
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    left.scatter(reference, predicted, s=6, alpha=0.6)
    top = max(reference.max(), predicted.max())
    left.plot([0, top], [0, top], color="grey", lw=1)
    left.set_xlabel("Monte Carlo price (currency)")
    left.set_ylabel("network price (currency)")
    right.scatter(reference, predicted - reference, s=6, alpha=0.6, color="tab:red")
    right.axhline(0, color="grey", lw=1)
    right.set_xlabel("Monte Carlo price (currency)")
    right.set_ylabel("network - Monte Carlo (currency)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def greek_curves(curve: dict, base: Sequence[float]) -> plt.Figure:
    """Price, delta and gamma against the spot, side by side, with the barrier and strike marked."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    for ax, (name, unit) in zip(axes, QUANTITY_UNITS.items(), strict=True):
        ax.plot(curve["S0"], curve[name], color="tab:blue")
        ax.axvline(base[1], color="grey", ls=":", lw=1, label="barrier B")
        ax.axvline(base[0], color="tab:orange", ls="--", lw=1, label="strike K")
        ax.set_xlabel("spot S0 (currency)")
        ax.set_ylabel(f"{name} ({unit})")
        ax.set_title(name)
    axes[0].legend()
    fig.tight_layout()
    return fig


def payoff_curves(
    values: Sequence[float], curves: dict[str, Sequence[float]], xlabel: str, title: str
) -> plt.Figure:
    """One path's discounted payoff against one input, a line per estimator (Chapter 8).

    Args:
        values: the input's values, shape ``(m,)``.
        curves: payoffs by estimator name, each of shape ``(m,)``.
        xlabel: the input's name and unit.
        title: the figure's title.
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, payoff in curves.items():
        ax.plot(values, payoff, label=name, drawstyle="default", lw=1.6)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("discounted payoff of the path (currency)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    return fig


def smoothing_bias(
    widths: Sequence[float], bias: Sequence[float], stderr: float, default: float
) -> plt.Figure:
    """The smoothed knock-out's bias against its width, beside the price's standard error.

    Args:
        widths: the widths tried, fractions of the barrier.
        bias: smoothed minus plain price on the same paths, currency, one per width.
        stderr: the plain price's standard error at the same paths (the band drawn).
        default: the package's default width (a vertical line).
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(widths, np.abs(bias), "o-", label="|bias| (smoothed - plain, same paths)")
    ax.axhline(stderr, color="tab:gray", ls="--", label="standard error of the price")
    ax.axvline(default, color="tab:red", ls=":", label=f"default width {default:g}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("width of the smoothed knock-out (fraction of the barrier B)")
    ax.set_ylabel("|bias| of the price (currency)")
    ax.set_title("Smoothing the knock-out: bias against width")
    ax.legend()
    fig.tight_layout()
    return fig


def sampling_points(samples: dict[str, np.ndarray], columns: tuple[int, int],
                    labels: tuple[str, str]) -> plt.Figure:  # fmt: skip
    """Two projections of option samples side by side, one panel per sampling scheme (Ch. 9).

    Args:
        samples: option batches by scheme name, each of shape ``(n, 6)``.
        columns: the two columns shown (indices into ``helpers.core.domain.COLUMNS``).
        labels: their axis labels.
    """
    fig, axes = plt.subplots(1, len(samples), figsize=(3.6 * len(samples), 3.6), sharey=True)
    for ax, (name, X) in zip(np.atleast_1d(axes), samples.items(), strict=True):
        ax.scatter(X[:, columns[0]], X[:, columns[1]], s=6)
        ax.set_title(f"{name}, {len(X)} options")
        ax.set_xlabel(labels[0])
    np.atleast_1d(axes)[0].set_ylabel(labels[1])
    fig.tight_layout()
    return fig


def learning_curves(curves: dict[str, tuple[Sequence[int], Sequence[float]]],
                    targets: Sequence[float], noise_floor: float) -> plt.Figure:  # fmt: skip
    """Test MAE against training options, one line per method, log-log (Chapter 10).

    Args:
        curves: ``{method: (options, test MAE)}``.
        targets: MAE levels drawn as horizontal lines (currency).
        noise_floor: mean standard error of the test labels (a dashed line).
    """
    fig, ax = plt.subplots(figsize=(8, 4))
    for name, (options, mae) in curves.items():
        ax.plot(options, mae, "o-", label=name)
    for target in targets:
        ax.axhline(target, color="tab:gray", ls=":", lw=1)
        # x in axes fraction, y in data: the label stays inside whatever the x scale
        ax.text(0.01, target, f"MAE {target:g}", transform=ax.get_yaxis_transform(),
                fontsize=8, va="bottom")  # fmt: skip
    ax.axhline(noise_floor, color="tab:red", ls="--", lw=1, label="test labels' mean s.e.")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("training options (paths per option x options fixed)")
    ax.set_ylabel("test MAE (currency)")
    ax.set_title("Learning curves at a fixed Monte Carlo budget")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)  # beside the curves
    fig.tight_layout()
    return fig


def smile_and_local_vol(
    quotes: tuple[np.ndarray, np.ndarray],
    curves: tuple[np.ndarray, np.ndarray],
    maturities: Sequence[float],
    local: dict[float, tuple[np.ndarray, np.ndarray]],
    pair: str,
    domestic: str = "USD",
) -> plt.Figure:
    """One pair's implied volatility by maturity (quotes and splines) beside its local
    volatility at a few times (Chapter 11).

    Args:
        quotes: ``(strikes, vols)``, shape ``(t, q)`` each; curves: the same on a fine grid,
            shape ``(t, n)``; maturities: ``(t,)`` years.
        local: ``{time: (spots, local vols)}``; pair: the pair's name for the titles;
        domestic: the currency strikes and spots are quoted in, per unit of ``pair``.
    """
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(maturities)))
    for j, T in enumerate(maturities):
        left.plot(curves[0][j], 100 * curves[1][j], color=colors[j], lw=1.2,
                  label=f"{12 * T:.0f}m")  # fmt: skip
        left.plot(quotes[0][j], 100 * quotes[1][j], "o", color=colors[j], ms=4)
    unit = f"{domestic} per {pair}"
    left.set(xlabel=f"strike ({unit})", ylabel="implied volatility (%)",
             title=f"{pair}: quotes (dots) and splines in strike")  # fmt: skip
    left.legend(fontsize=8, ncols=2)
    times = sorted(local)
    shades = plt.cm.plasma(np.linspace(0, 0.85, len(times)))
    for color, t in zip(shades, times, strict=True):
        spots, vols = local[t]
        right.plot(spots, 100 * vols, color=color, label=f"t = {t:.2f} y")
    right.set(xlabel=f"spot ({unit})", ylabel="local volatility (%)",
              title=f"{pair}: Dupire's local volatility")  # fmt: skip
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def vega_heatmaps(
    vega: np.ndarray, pairs: Sequence[str], maturities: Sequence[float], deltas: Sequence[float]
) -> plt.Figure:
    """dPrice/d(quoted volatility) for every quote: one small map per pair, maturities down,
    strikes (by their call delta) across, one colour scale for all (Chapter 11).

    Args:
        vega: shape ``(m, t, q)``; pairs: ``m`` names; maturities: ``(t,)`` years;
        deltas: ``(q,)``, the quotes' call deltas.
    """
    m = len(pairs)
    columns = 5
    rows = (m + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(12, 2.6 * rows + 0.6),
                             sharex=True, sharey=True)  # fmt: skip
    scale = np.abs(vega).max()
    image = None
    for k, ax in enumerate(np.ravel(axes)):
        if k >= m:
            ax.axis("off")
            continue
        image = ax.imshow(vega[k], cmap="RdBu_r", vmin=-scale, vmax=scale, aspect="auto")
        ax.set_title(pairs[k], fontsize=10)
        ax.set_xticks(range(len(deltas)), [f"{100 * d:.0f}" for d in deltas], fontsize=7)
        ax.set_yticks(range(len(maturities)), [f"{12 * t:.0f}m" for t in maturities],
                      fontsize=7)  # fmt: skip
        if k % columns == 0:
            ax.set_ylabel("maturity (months)")
        if k >= m - columns:
            ax.set_xlabel("call delta (%)")
    fig.colorbar(image, ax=axes, shrink=0.8,
                 label="dPrice / d(quoted vol) (currency per unit of vol)")  # fmt: skip
    return fig


def accuracy_and_speed(
    rows: Sequence[dict], batch: int, *, goal_speedup: float, goal_mae_change: float
) -> plt.Figure:
    """Two panels, one bar per way of running the pricer (``helpers.inference.export.compare``'s
    rows,
    the first the baseline): the test MAE (log scale) with the goal's ceiling (the baseline's
    MAE plus ``goal_mae_change``), and the speed-up at one batch size over the baseline with
    the goal's floor (``goal_speedup``), each goal a dashed line. Float ways in blue, int8
    ones in red."""
    names = [r["name"] for r in rows][::-1]
    maes = [r["mae"] for r in rows][::-1]
    speedups = [r["speedup"][batch] for r in rows][::-1]
    colors = ["tab:red" if r["int8"] else "tab:blue" for r in rows][::-1]
    y = np.arange(len(rows))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 0.42 * len(rows) + 1.6), sharey=True)
    left.barh(y, maes, color=colors)
    left.set_xscale("log")
    left.axvline(rows[0]["mae"] * (1 + goal_mae_change), color="black", ls="--", lw=1)
    left.set_yticks(y, names)
    left.set_xlabel("test MAE against Monte Carlo (currency, log scale)")
    for yi, value in zip(y, maes, strict=True):
        left.text(value, yi, f" {value:.4f}", va="center", fontsize=8)
    left.margins(x=0.3)
    right.barh(y, speedups, color=colors)
    right.axvline(goal_speedup, color="black", ls="--", lw=1)
    right.axvline(1.0, color="gray", lw=0.8)
    right.set_xlabel(f"speed-up over {rows[0]['name']} (batch of {batch:,})")
    for yi, value in zip(y, speedups, strict=True):
        right.text(value, yi, f" {value:.2f}x", va="center", fontsize=8)
    right.margins(x=0.2)
    fig.suptitle("Accuracy and speed of each way of running the pricer (red: int8)")
    fig.tight_layout()
    return fig


def quantized_delta(
    spots: np.ndarray,
    price_gaps: dict[str, np.ndarray],
    deltas: dict[str, np.ndarray],
    *,
    delta_limits: tuple[float, float] = (-1.0, 3.0),
) -> plt.Figure:
    """Two panels against the spot: each int8 model's price minus the float model's
    (``price_gaps``), and delta by each method (``deltas``), clipped to ``delta_limits``."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for label, gap in price_gaps.items():
        left.plot(spots, gap, lw=1, label=label)
    left.axhline(0, color="black", lw=0.5)
    left.set_xlabel("spot $S_0$ (currency)")
    left.set_ylabel("int8 price - float32 price (currency)")
    left.set_title("Quantization error along the spot")
    left.legend(fontsize=8)
    styles = [
        {"color": "black", "lw": 2.0, "zorder": 4},
        {"color": "tab:orange", "lw": 0.8, "alpha": 0.6},
        {"color": "tab:green", "lw": 0.8, "alpha": 0.8},
        {"color": "tab:red", "lw": 1.2, "ls": "--", "zorder": 5},
    ]
    for (label, delta), style in zip(deltas.items(), styles * len(deltas), strict=False):
        right.plot(spots, delta, label=label, **style)
    right.set_ylim(*delta_limits)
    right.set_xlabel("spot $S_0$ (currency)")
    right.set_ylabel(r"delta $\partial P / \partial S_0$ (per unit of spot)")
    right.set_title("Delta, float against int8")
    right.legend(fontsize=8)
    fig.tight_layout()
    return fig


def service_load(rows: Sequence[dict]) -> plt.Figure:
    """Requests per second and p99 latency against the batching window: colour by
    concurrency, line style by endpoint, one legend under both panels
    (``helpers.inference.service.measure.window_sweep``'s rows)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.6))
    styles = {"price": "-", "greeks": "--", "implied-vol": ":"}
    concurrencies = sorted({r["concurrency"] for r in rows})
    colours = {c: f"C{i}" for i, c in enumerate(concurrencies)}
    keys = sorted({(r["endpoint"], r["concurrency"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for endpoint, concurrency in keys:
        points = sorted(
            (r for r in rows if (r["endpoint"], r["concurrency"]) == (endpoint, concurrency)),
            key=lambda r: r["window_ms"],
        )
        windows = [r["window_ms"] for r in points]
        style = dict(ls=styles.get(endpoint, "-"), color=colours[concurrency], marker="o")
        label = f"/{endpoint}, {concurrency} in flight"
        left.plot(windows, [r["requests_per_s"] for r in points], label=label, **style)
        right.plot(windows, [r["p99_ms"] for r in points], **style)
    for ax in (left, right):
        ax.set_xlabel("batching window (ms; 0: no batching)")
        ax.set_yscale("log")
        ax.grid(True, which="major", alpha=0.3)
    left.set_ylabel("requests answered per second (log scale)")
    left.set_title("Throughput")
    right.set_ylabel("p99 latency (ms, log scale)")
    right.axhline(50, color="black", lw=0.8, ls=":")
    right.set_title("Tail latency (dotted: the 50 ms target)")
    fig.legend(loc="lower center", ncol=min(len(keys), 3), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 * ((len(keys) + 2) // 3), 1, 1))
    return fig


def full_size_accuracy(
    test_mae: dict[str, float],
    gaps: dict[str, dict[str, float]],
    lines: dict[str, float],
    note: str,
) -> plt.Figure:
    """The full-size pricers side by side (Chapter 10): each one's test MAE, and its gaps to
    Monte Carlo at the article's network example, each over its target.

    Args:
        test_mae: ``{pricer: test MAE}`` (currency), drawn top to bottom in this order.
        gaps: ``{pricer: {quantity: gap / its target}}`` for the same pricers
            (``helpers.inference.shipped_pricer.example_gaps``): within the target is within
            the dotted lines at -1 and 1.
        lines: ``{label: MAE}`` (currency) drawn as dashed lines on the left panel: the
            targets, the test labels' noise floor.
        note: a line under the panels: where the figures come from, on which machine.
    """
    names = list(test_mae)
    y = np.arange(len(names))[::-1].astype(float)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    left.barh(y, [test_mae[n] for n in names], color="tab:blue", height=0.6)
    for k, (label, value) in enumerate(lines.items()):
        left.axvline(value, color=f"C{k + 1}", ls="--", lw=1, label=label)
    left.set_xscale("log")
    left.xaxis.set_major_locator(plt.LogLocator(subs=(1.0, 2.0, 5.0)))
    left.xaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
    left.xaxis.set_minor_formatter(plt.NullFormatter())
    left.set_yticks(y, names)
    left.set_xlabel("test MAE on 512 options (currency, log scale)")
    left.set_title("Test set")
    left.legend(fontsize=8, loc="lower right")
    quantities = list(next(iter(gaps.values())))
    height = 0.8 / len(quantities)
    for j, quantity in enumerate(quantities):
        offset = (len(quantities) / 2 - j - 0.5) * height
        right.barh(y + offset, [gaps[n][quantity] for n in names], height, label=quantity)
    for x in (-1.0, 1.0):
        right.axvline(x, color="black", lw=0.8, ls=":")
    right.axvline(0.0, color="black", lw=0.5)
    right.set_xlabel("network - Monte Carlo (multiples of the course's target)")
    right.set_title("At the article's network example")
    right.legend(fontsize=8, loc="lower right")
    fig.text(0.01, 0.01, note, fontsize=8, ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def volatility_sweep(
    sigmas: Sequence[float],
    errors: dict[str, Sequence[float]],
    stderr: Sequence[float],
    note: str,
) -> plt.Figure:
    """Pricers' errors along the volatility at one option, against a Monte Carlo reference
    (Chapter 10).

    Args:
        sigmas: the volatilities, shape ``(m,)`` (per square-root year).
        errors: ``{pricer: network - Monte Carlo}``, each of shape ``(m,)`` (currency).
        stderr: the reference's standard errors, shape ``(m,)``: a band of two of them.
        note: a line under the plot: the reference's paths and the machine.
    """
    s, se = np.asarray(sigmas, dtype=float), np.asarray(stderr, dtype=float)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    ax.fill_between(s, -2 * se, 2 * se, color="tab:gray", alpha=0.3,
                    label="Monte Carlo ± 2 s.e.")  # fmt: skip
    ax.axhline(0.0, color="black", lw=0.8)
    for name, e in errors.items():
        ax.plot(s, e, "o-", label=name)
    ax.set_xlabel(r"volatility $\sigma$ (per square-root year)")
    ax.set_ylabel("network - Monte Carlo (currency)")
    ax.set_title("Errors along the volatility at the article's network example")
    ax.legend(fontsize=8, loc="lower left")
    fig.text(0.01, 0.01, note, fontsize=8, ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig
