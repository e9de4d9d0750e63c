"""Chapters 9 and 10's experiments: which recipe ingredients make the pricer accurate.

Each experiment labels options by Monte Carlo, trains a pricer on them for a fixed number of
optimiser steps and measures it on the shipped held-out test set (``data/test_options.csv``).
One ingredient changes at a time against ``BASE``, so the ablation table says what each is
worth; the learning curves trade options against paths at a fixed Monte Carlo budget.

``python -m helpers.training.ablation ablation --out data/ablation.json`` and
``python -m helpers.training.ablation curves --out data/learning_curves.json`` run the two
suites (about ten minutes each on one core) and write their results as JSON, atomically after
each experiment; a rerun skips the experiments already recorded. The labels are cached in
``datasets/labels/``. Chapters 9 and 10 read the JSON files and reruns one small experiment live.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.domain import sample_options, sobol_options
from ..core.files import write_json, written_atomically
from ..networks.loading import make_pricer
from .differential import LabelledOptions, fit_pricer, label_options

LABEL_SEED = 31_415
"""Seed of the experiments' options and Monte Carlo paths (disjoint from the test set's)."""
PATH_BUDGET = 2**24
"""Monte Carlo paths per experiment: ``options * paths``."""
NEAR_ZERO = 1.0
"""Test options priced below this are reported apart (as ``helpers.pretrain`` does)."""


@dataclass(frozen=True)
class Experiment:
    """One training recipe, at a small size.

    Attributes:
        name: a short label, unique within a suite.
        options: training options; ``paths``: Monte Carlo paths per option.
        method: the labels' estimator, ``"survival"`` or ``"smoothed"``.
        sampling: ``"uniform"`` draws or a scrambled ``"sobol"`` sequence over the domain.
        kind: ``"homogeneous"`` (``HomogeneousPricer``), ``"plain"`` (the article's ``Net``) or
            ``"residual"`` (``helpers.networks.residual.ResidualPricer``: Levy's closed form plus a
            ``HomogeneousPricer``).
        activation: ``"softplus"`` or ``"elu"``.
        hidden, layers: the network's width and depth.
        weight: the derivative term's weight (0: plain price regression).
        steps: optimiser steps (a fixed training budget), ``batch``: options per step.
        lr: start and end of the cosine learning-rate schedule.
        seed: seeds the network's initial weights and the order of the batches.
    """

    name: str
    options: int = 65_536
    paths: int = 256
    method: str = "survival"
    sampling: str = "sobol"
    kind: str = "homogeneous"
    activation: str = "elu"
    hidden: int = 128
    layers: int = 4
    weight: float = 1.0
    steps: int = 6_000
    batch: int = 512
    lr: tuple[float, float] = (1e-3, 1e-5)
    seed: int = 0


BASE = Experiment("differential, all ingredients")
"""The recipe every ablation row changes one thing of."""


def ablation_suite() -> list[Experiment]:
    """``BASE`` and one change of it per row."""
    change = dataclasses.replace
    return [
        BASE,
        change(BASE, name="plain training (weight 0)", weight=0.0),
        change(BASE, name="derivative weight 0.1", weight=0.1),
        change(BASE, name="derivative weight 10", weight=10.0),
        change(BASE, name="smoothed-pathwise labels", method="smoothed"),
        change(BASE, name="softplus instead of ELU", activation="softplus"),
        change(BASE, name="six raw inputs, no homogeneity", kind="plain"),
        change(BASE, name="uniform draws instead of Sobol", sampling="uniform"),
        change(
            BASE,
            name="none: prices only, six raw inputs, uniform",
            weight=0.0,
            kind="plain",
            sampling="uniform",
        ),  # fmt: skip
        change(BASE, name="wider: 256 units", hidden=256),
        change(BASE, name="batch 2048, same epochs", batch=2048, steps=1_500),
        change(BASE, name="base again, training seed 1", seed=1),
        change(BASE, name="base again, training seed 2", seed=2),
        change(BASE, name="a closed form plus a network", kind="residual"),
        change(BASE, name="a closed form plus a network, prices only", kind="residual", weight=0.0),
    ]


CURVE_OPTIONS = (4_096, 16_384, 65_536, 262_144)
"""Training-set sizes of the learning curves: a 64x span at ``PATH_BUDGET`` paths each point."""


def curve_suite(kind: str = "homogeneous") -> list[Experiment]:
    """Plain and differential training at each of ``CURVE_OPTIONS``, ``PATH_BUDGET`` paths,
    of ``BASE``'s network or another ``kind`` (``"residual"``: the closed form plus it)."""
    return [
        dataclasses.replace(
            BASE,
            name=f"{label}, {n} options",
            options=n,
            paths=PATH_BUDGET // n,
            weight=weight,
            kind=kind,
        )  # fmt: skip
        for label, weight in (("plain", 0.0), ("differential", 1.0))
        for n in CURVE_OPTIONS
    ]


SUITES = {
    "ablation": ablation_suite,
    "curves": curve_suite,
    "residual-curves": lambda: curve_suite("residual"),
}
"""The command line's suites: the ablation, and the learning curves of ``BASE``'s homogeneous
network and of the closed form plus that network."""


MAE_TARGETS = (0.05, 0.03)
"""Test MAEs the learning curves are read at: how many options each method needs for them."""


def options_needed(results: list[dict], targets: tuple[float, ...] = MAE_TARGETS) -> dict:
    """The training options plain and differential training need for each target test MAE.

    Read off the learning curves (``curve_suite`` results): linear interpolation of
    ``log(test MAE)`` against ``log(options)`` between the two sizes that bracket the target
    (the smallest size if it already reaches it); ``None`` where no measured size reaches it
    (no extrapolation).

    Returns:
        ``{target: {"plain": n or None, "differential": n or None}}``.
    """
    curves: dict[str, list[tuple[int, float]]] = {}
    for r in results:
        label = "differential" if r["weight"] > 0 else "plain"
        curves.setdefault(label, []).append((r["options"], r["test_mae"]))
    needed: dict = {}
    for target in targets:
        needed[str(target)] = {}
        for label, points in curves.items():
            points.sort()
            found = None
            for i, (n1, m1) in enumerate(points):
                if m1 <= target:
                    found = float(n1)  # the smallest size measured already reaches it
                    if i > 0:
                        n0, m0 = points[i - 1]
                        t = (np.log(m0) - np.log(target)) / (np.log(m0) - np.log(m1))
                        found = float(np.exp(np.log(n0) + t * (np.log(n1) - np.log(n0))))
                    break
            needed[str(target)][label] = found
    return needed


def training_options(n: int, sampling: str, seed: int = LABEL_SEED) -> np.ndarray:
    """``n`` options, shape ``(n, 6)``: a scrambled Sobol sequence or uniform draws.

    Raises:
        ValueError: an unknown ``sampling``.
    """
    if sampling == "sobol":
        return sobol_options(n, seed)
    if sampling == "uniform":
        return sample_options(n, np.random.default_rng(seed))
    raise ValueError(f"unknown sampling {sampling!r}: 'sobol' or 'uniform'")


def labels(experiment: Experiment, cache: Path | None = None) -> LabelledOptions:
    """The experiment's training labels, from ``cache`` (an ``.npz`` per set) if it holds them.

    Experiments that differ only in training share one set of labels.
    """
    e = experiment
    key = f"{e.sampling}-{e.options}x{e.paths}-{e.method}-{LABEL_SEED}.npz"
    if cache is not None and (cache / key).exists():
        with np.load(cache / key) as saved:
            return LabelledOptions(saved["X"], saved["price"], saved["greeks"])
    X = training_options(e.options, e.sampling)
    data = label_options(X, e.paths, seed=LABEL_SEED, method=e.method)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        with written_atomically(cache / key) as tmp, open(tmp, "wb") as f:
            np.savez(f, X=data.X, price=data.price, greeks=data.greeks)
    return data


def test_options(folder: Path | str = "data") -> LabelledOptions:
    """The shipped held-out test set as ``LabelledOptions`` (prices only)."""
    from ..data.test_set import load_test_set

    X, price, _ = load_test_set(folder)
    return LabelledOptions(X.astype(np.float32), price)


def run(experiment: Experiment, test: LabelledOptions, cache: Path | None = None) -> dict:
    """Labels, trains and measures one experiment.

    Returns:
        A JSON-ready dictionary: the experiment's settings, ``test_mae``, ``test_mae_above_1``
        (on test options worth at least ``NEAR_ZERO``), ``label_seconds``, ``train_seconds``
        and the test MAE after each tenth of training (``mae_by_step``).
    """
    import torch

    e = experiment
    start = time.perf_counter()
    data = labels(e, cache)
    label_seconds = time.perf_counter() - start
    torch.manual_seed(e.seed)
    model = make_pricer(e.kind, hidden=e.hidden, layers=e.layers, activation=e.activation)
    steps_per_epoch = e.options // e.batch
    epochs = max(1, round(e.steps / steps_per_epoch))
    history = fit_pricer(model, data, weight=e.weight, epochs=epochs, batch=e.batch, lr=e.lr,
                         seed=e.seed, validation=test)  # fmt: skip
    errors = _price_errors(model, test)
    above = test.price >= NEAR_ZERO
    marks = np.unique(np.linspace(0, epochs - 1, min(epochs, 10)).round().astype(int))
    return dataclasses.asdict(e) | {
        "epochs": epochs,
        "test_mae": float(np.abs(errors).mean()),
        "test_mae_above_1": float(np.abs(errors[above]).mean()),
        "label_seconds": round(label_seconds, 1),
        "train_seconds": round(history[-1]["seconds"], 1),
        "mae_by_step": [
            [int((m + 1) * steps_per_epoch), round(history[m]["mae"], 5)] for m in marks
        ],  # fmt: skip
    }


def _price_errors(model, test: LabelledOptions) -> np.ndarray:
    import torch

    with torch.no_grad():
        predicted = model(torch.as_tensor(test.X)).double().numpy()
    return predicted - test.price


def run_suite(experiments: list[Experiment], out: Path, cache: Path | None = None,
              log=print, command: str | None = None) -> list[dict]:  # fmt: skip
    """Runs the experiments not yet recorded in ``out`` (JSON), writing it after each one;
    ``command`` is recorded in it (default: the suite named after ``out``'s stem)."""
    results = json.loads(out.read_text())["results"] if out.exists() else []
    done = {r["name"] for r in results}
    test = test_options(out.parent if (out.parent / "test_options.csv").exists() else "data")
    for experiment in experiments:
        if experiment.name in done:
            continue
        result = run(experiment, test, cache)
        log(f"{experiment.name}: test MAE {result['test_mae']:.4f} "
            f"({result['train_seconds']:.0f} s)")  # fmt: skip
        results.append(result)
        document = {
            "command": command or f"python -m helpers.training.ablation {out.stem} --out {out}",
            "path_budget": PATH_BUDGET,
            "label_seed": LABEL_SEED,
            "results": results,
        }
        write_json(out, document, indent=1)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m helpers.training.ablation",
                                     description=__doc__.split("\n")[0])  # fmt: skip
    parser.add_argument("suite", choices=tuple(SUITES))
    parser.add_argument("--out", type=Path, required=True, help="the results' JSON file")
    parser.add_argument("--cache", type=Path, default=Path("datasets/labels"))
    parser.add_argument("--threads", type=int, default=1, help="torch and Numba threads")
    args = parser.parse_args(argv)
    import numba
    import torch

    torch.set_num_threads(args.threads)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    suite = SUITES[args.suite]()
    command = f"python -m helpers.training.ablation {args.suite} --out {args.out}"
    run_suite(suite, args.out, args.cache, log=lambda line: print(line, flush=True),
              command=command)  # fmt: skip


if __name__ == "__main__":
    main()
