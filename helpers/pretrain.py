"""The shipped pretrained pricer and its held-out test set: how they are made.

``python -m helpers.pretrain testset --out data`` prices ``TEST_OPTIONS`` options drawn from the
domain with seed ``TEST_SEED`` by high-precision Monte Carlo (``TEST_PATHS`` paths each) and
writes ``data/test_options.csv`` (with standard errors) and ``data/test_options.json`` (recipe).

``python -m helpers.pretrain model --data DIR --out data --epochs E`` trains ``Net`` on a dataset
made by ``helpers.datagen`` (seed ``TRAIN_SEED``; its shards draw from seeds derived from
``(TRAIN_SEED, i)``, disjoint from the test set's ``TEST_SEED`` stream) and writes
``data/pricer.pt`` (the state dict) and ``data/pricer.json`` (architecture, recipe, command,
training time and the file's SHA-256, which ``helpers.model.load_pretrained`` checks), then
records the model's evaluation in it, as ``evaluate`` does.

``python -m helpers.pretrain evaluate --out data`` measures the shipped model against the test set
and at the article's example (``evaluation``) and writes the figures into ``data/pricer.json``
under ``"evaluation"``; the weights, and so their SHA-256, are untouched.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .domain import COLUMNS, sample_options

if TYPE_CHECKING:
    from .differential import LabelledOptions

TEST_SEED = 987_654_321
TEST_OPTIONS = 512
TEST_PATHS = 2_097_152
TRAIN_SEED = 2024

ARTICLE_POINT = (110.0, 100.0, 120.0, 0.35, 0.1, 0.05)
"""The article's example ``[K, B, S0, sigma, mu, r]``; its network said 18.714."""
ARTICLE_PATHS = 2_048_000
"""Monte Carlo paths for the article's example, as in the article."""
ARTICLE_SEED = 99
ARTICLE_TARGET = 0.03
"""The network should price the article's example within this of Monte Carlo."""
MAE_TARGET = 0.05
"""The shipped network's mean absolute error on the test set should be at most this."""
ACCURATE_MAE = 0.03
"""Chapter 9's goal, a pricer as accurate as the article's: test MAE at most this ..."""
ACCURATE_MAE_ABOVE = 0.04
"""... at most this on the test options worth at least ``NEAR_ZERO``, the article's example
within ``ARTICLE_TARGET``, and its Greeks there within ``GREEK_TARGETS``."""
GREEK_TARGETS = {"delta": 0.01, "gamma": 0.002, "vega": 0.5}
"""The network's Greeks at the article's example should be within these of Monte Carlo's."""
GREEKS_PATHS = 4_194_304
"""Paths of the adjoint Monte Carlo Greeks at the article's example (survival estimator)."""
GREEKS_SEED = 7
MC_COLUMN = {"delta": "S0", "gamma": "gamma", "vega": "sigma"}
"""Where each of the network's Greeks is in ``price_options(..., greeks=True).greeks``."""
NEAR_ZERO = 1.0
"""Test options whose Monte Carlo price is below this count as 'priced near zero'."""


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def make_test_set(out: Path, n_options: int = TEST_OPTIONS, paths: int = TEST_PATHS) -> Path:
    """Writes the held-out test set (CSV with ``COLUMNS``, ``price``, ``stderr``) and its recipe."""
    from .mc import price_options

    rng = np.random.default_rng(np.random.SeedSequence([TEST_SEED, 0]))
    X = sample_options(n_options, rng, dtype=np.float32)
    start = time.perf_counter()
    result = price_options(X, paths, seed=TEST_SEED)
    seconds = time.perf_counter() - start
    header = ",".join([*COLUMNS, "price", "stderr"])
    rows = np.column_stack([X.astype(np.float64), result.price, result.stderr])
    lines = [header] + [",".join(f"{v:.9g}" for v in row) for row in rows]
    out.mkdir(parents=True, exist_ok=True)
    _write_atomically(out / "test_options.csv", ("\n".join(lines) + "\n").encode())
    recipe = {
        "command": "python -m helpers.pretrain testset --out data",
        "options": n_options,
        "paths": paths,
        "seed": TEST_SEED,
        "backend": result.backend,
        "seconds": round(seconds, 1),
        "mean_stderr": float(result.stderr.mean()),
    }
    _write_atomically(out / "test_options.json", (json.dumps(recipe, indent=2) + "\n").encode())
    return out / "test_options.csv"


def load_test_set(folder: Path | str = "data") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The shipped test set: ``(X, price, stderr)`` with shapes ``(n, 6)``, ``(n,)``, ``(n,)``."""
    table = np.loadtxt(Path(folder) / "test_options.csv", delimiter=",", skiprows=1)
    return table[:, :6], table[:, 6], table[:, 7]


def evaluation(model, folder: Path | str = "data", *, backend: str = "numba") -> dict:
    """The model's accuracy on the shipped test set and at the article's example.

    Args:
        model: the pricing network (``helpers.model.Net``).
        folder: where ``test_options.csv`` is.
        backend: the Monte Carlo backend for the article's example (``ARTICLE_PATHS`` paths,
            seed ``ARTICLE_SEED``).

    Returns:
        A JSON-ready dictionary: test MAE, RMSE and max error; the noise floor (mean standard
        error of the labels); the share of test options priced below ``NEAR_ZERO`` and the MAE
        on each side of it; the article's example priced by the network and by Monte Carlo, the
        gap and its target; the Greeks there (``article_point_greeks``).
    """
    from .mc import price_options
    from .pricing import price

    X, mc_price, mc_stderr = load_test_set(folder)
    error = price(model, X).astype(np.float64) - mc_price
    near = mc_price < NEAR_ZERO
    net = float(price(model, [ARTICLE_POINT])[0])
    mc = price_options([ARTICLE_POINT], ARTICLE_PATHS, seed=ARTICLE_SEED, backend=backend)
    gap = net - float(mc.price[0])
    mae = float(np.abs(error).mean())
    greeks = article_point_greeks(model, reference_greeks(backend=backend))
    return {
        "test_options": len(X),
        "test_mae": round(mae, 6),
        "test_rmse": round(float(np.sqrt((error**2).mean())), 6),
        "test_max_error": round(float(np.abs(error).max()), 6),
        "noise_floor_mean_stderr": round(float(mc_stderr.mean()), 6),
        "mae_target": MAE_TARGET,
        "mae_target_met": mae <= MAE_TARGET,
        "near_zero_price": NEAR_ZERO,
        "fraction_priced_near_zero": round(float(near.mean()), 6),
        "mae_priced_near_zero": round(float(np.abs(error[near]).mean()), 6),
        "mae_priced_above": round(float(np.abs(error[~near]).mean()), 6),
        "article_point": {
            "inputs": list(ARTICLE_POINT),
            "network": round(net, 6),
            "monte_carlo": round(float(mc.price[0]), 6),
            "monte_carlo_stderr": round(float(mc.stderr[0]), 6),
            "paths": ARTICLE_PATHS,
            "seed": ARTICLE_SEED,
            "backend": mc.backend,
            "gap": round(gap, 6),
            "target": ARTICLE_TARGET,
            "target_met": abs(gap) <= ARTICLE_TARGET,
        },
        "article_point_greeks": greeks,
    }


def reference_greeks(paths: int = GREEKS_PATHS, *, backend: str = "numba"):
    """The survival estimator's adjoint Monte Carlo Greeks at the article's example (``paths``
    paths, seed ``GREEKS_SEED``, gamma included): an ``MCResult`` of one option."""
    from .mc import price_options

    point = np.array([ARTICLE_POINT])
    return price_options(point, paths, seed=GREEKS_SEED, backend=backend, greeks=True)


def article_point_greeks(model, reference=None) -> dict:
    """Delta, gamma and vega at the article's example: the network's by autograd against
    ``reference`` (default: ``reference_greeks()``).

    Returns:
        ``{greek: {"network", "monte_carlo", "monte_carlo_stderr", "gap", "target",
        "target_met"}}`` for ``GREEK_TARGETS``, plus ``"paths"``.
    """
    from .greeks import greeks

    mc = reference if reference is not None else reference_greeks()
    net = greeks(model, np.array([ARTICLE_POINT]))
    out: dict = {"paths": int(mc.n_paths)}
    for name, target in GREEK_TARGETS.items():
        column = MC_COLUMN[name]
        value, se = float(mc.greeks[column][0]), float(mc.greeks_stderr[column][0])
        gap = float(net[name][0]) - value
        out[name] = {"network": round(float(net[name][0]), 6), "monte_carlo": round(value, 6),
                     "monte_carlo_stderr": round(se, 6), "gap": round(gap, 6),
                     "target": target, "target_met": abs(gap) <= target}  # fmt: skip
    return out


def record_evaluation(folder: Path | str = "data", test: Path | str | None = None) -> dict:
    """Evaluates the model in ``folder`` (``evaluation``, on the test set in ``test``, default
    ``folder``) and records the figures in its ``pricer.json`` under ``"evaluation"``. The
    weights are not touched."""
    from .model import load_pretrained

    folder = Path(folder)
    test = Path(test) if test is not None else folder
    command = f"python -m helpers.pretrain evaluate --out {folder}"
    command += f" --test {test}" if test != folder else ""
    figures = {"command": command} | evaluation(load_pretrained(folder=folder), test)
    meta = json.loads((folder / "pricer.json").read_text())
    meta["evaluation"] = figures
    _write_atomically(folder / "pricer.json", (json.dumps(meta, indent=2) + "\n").encode())
    return figures


def load_labelled(data: Path, split: str, greeks: bool) -> LabelledOptions:
    """One split of a ``helpers.datagen`` dataset as ``LabelledOptions`` (derivative labels
    only if ``greeks``)."""
    from .datagen import load_greeks, load_split
    from .differential import LabelledOptions

    X, price = load_split(data, split)
    return LabelledOptions(X, price, load_greeks(data, split)[0] if greeks else None)


def train_model(data: Path, out: Path, epochs: int, hidden: int, batch: int,
                lr: tuple[float, float], *, kind: str = "plain", layers: int = 5,
                activation: str = "elu", weight: float = 0.0,
                extra_inputs: tuple[str, ...] = (), seed: int = 0,
                oversample: Path | None = None,
                test: Path | None = None) -> Path:  # fmt: skip
    """Trains a pricer on ``data`` (a ``helpers.datagen`` folder) with
    ``helpers.differential.fit_pricer`` and writes ``pricer.pt`` and ``pricer.json``.

    ``weight > 0`` trains on the dataset's derivative labels too (made with ``--greeks``).
    ``extra_inputs`` (names from ``helpers.differential.EXTRA_INPUTS``) go to a homogeneous or
    residual pricer's network; ``seed`` sets the initial weights and the batches' order.
    ``oversample`` is a second ``helpers.datagen`` folder (for example one drawn with
    ``--region barrier_corner``) whose training split is added to ``data``'s; the validation
    split stays ``data``'s.
    A resumable checkpoint is kept after every epoch in ``data/checkpoints-<recipe hash>``: the
    same command after a kill goes on from the last epoch. The model is then evaluated on the
    test set in ``test`` (default ``out``), if there is one there.
    """
    import hashlib

    import torch

    from .datagen import sha256
    from .differential import fit_pricer, make_pricer

    if extra_inputs and kind == "plain":
        raise ValueError("extra inputs need a homogeneous or residual pricer, not kind 'plain'")
    torch.manual_seed(seed)  # the initial weights; fit_pricer's seed shuffles the batches
    architecture = {"kind": kind, "hidden": hidden, "layers": layers, "activation": activation}
    command = (f"python -m helpers.pretrain model --data {data} --out {out} --epochs {epochs}"
               f" --kind {kind} --hidden {hidden} --layers {layers} --activation {activation}"
               f" --weight {weight} --batch {batch} --lr {lr[0]} {lr[1]}")  # fmt: skip
    if extra_inputs:
        architecture["extra_inputs"] = list(extra_inputs)
        command += " --extra-inputs " + " ".join(extra_inputs)
    if seed:
        command += f" --seed {seed}"
    if oversample is not None:
        command += f" --oversample {oversample}"
    train = load_labelled(data, "train", greeks=weight > 0)
    if oversample is not None:
        train = _concatenate(train, load_labelled(oversample, "train", greeks=weight > 0))
    validation = load_labelled(data, "validation", greeks=False)
    model = make_pricer(**architecture)
    recipe = command.split(" --epochs ")[1]  # the recipe, not where it is written
    if oversample is not None:  # the folder's name is not the recipe, its content is
        recipe = recipe.replace(str(oversample), _manifest_hash(oversample))
    recipe_hash = hashlib.sha256(recipe.encode()).hexdigest()[:12]
    out.mkdir(parents=True, exist_ok=True)
    history = fit_pricer(model, train, weight=weight, epochs=epochs, batch=batch, lr=lr,
                         seed=seed, validation=validation,
                         checkpoints=data / f"checkpoints-{recipe_hash}",
                         log=lambda line: print(line, flush=True))  # fmt: skip
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = out / "pricer.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, out / "pricer.pt")
    spec = json.loads((data / "manifest.json").read_text())["spec"]
    meta = {
        "file": "pricer.pt",
        "sha256": sha256(out / "pricer.pt"),
        "architecture": architecture,
        "command": command,
        "data": spec,
        "data_command": data_command(data, spec),
        "training_seconds": round(history[-1]["seconds"], 1),
        "device": str(next(model.parameters()).device),
        "threads": torch.get_num_threads(),
        "validation_mae_by_epoch": [round(row["mae"], 5) for row in history],
    }
    if oversample is not None:
        oversample_spec = json.loads((oversample / "manifest.json").read_text())["spec"]
        meta["oversample_data"] = oversample_spec
        meta["oversample_data_command"] = data_command(oversample, oversample_spec)
    _write_atomically(out / "pricer.json", (json.dumps(meta, indent=2) + "\n").encode())
    test = test if test is not None else out
    if (test / "test_options.csv").exists():
        record_evaluation(out, test)
    return out / "pricer.pt"


def data_command(data: Path, spec: dict) -> str:
    """The ``helpers.datagen`` command that makes the dataset of manifest ``spec`` in ``data``."""
    command = (f"python -m helpers.datagen --out {data} --shards {spec['shards']}"
               f" --options-per-shard {spec['options_per_shard']} --paths {spec['paths']}"
               f" --seed {spec['seed']}")  # fmt: skip
    if spec.get("n_steps", 365) != 365:
        command += f" --steps {spec['n_steps']}"
    if spec.get("val_shards", 1) != 1:
        command += f" --val-shards {spec['val_shards']}"
    return (command
            + (" --greeks" if spec.get("greeks") else "")
            + (" --sobol" if spec.get("sampling") == "sobol" else "")
            + (" --control" if spec.get("estimator") == "control" else "")
            + (f" --region {spec['region']}" if "region" in spec else ""))  # fmt: skip


def _concatenate(a, b):
    """Two ``LabelledOptions`` as one (derivative labels kept only if both have them)."""
    from .differential import LabelledOptions

    greeks = None
    if a.greeks is not None and b.greeks is not None:
        greeks = np.concatenate([a.greeks, b.greeks])
    return LabelledOptions(np.concatenate([a.X, b.X]), np.concatenate([a.price, b.price]),
                           greeks)  # fmt: skip


def _manifest_hash(data: Path) -> str:
    """SHA-256 of a dataset's manifest (its spec and every shard's hash), 12 hex digits."""
    import hashlib

    return hashlib.sha256((data / "manifest.json").read_bytes()).hexdigest()[:12]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.pretrain", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="what", required=True)
    test = sub.add_parser("testset", help="the held-out, high-precision test set")
    test.add_argument("--out", type=Path, default=Path("data"))
    model = sub.add_parser("model", help="train the shipped pricer on a datagen dataset")
    model.add_argument("--data", type=Path, required=True)
    model.add_argument("--out", type=Path, default=Path("data"))
    model.add_argument("--epochs", type=int, default=30)
    model.add_argument("--hidden", type=int, default=256)
    model.add_argument("--batch", type=int, default=1024)
    model.add_argument("--lr", type=float, nargs=2, default=(1e-3, 1e-6))
    model.add_argument("--kind", choices=("plain", "homogeneous", "residual"), default="plain")
    model.add_argument(
        "--test",
        type=Path,
        default=None,
        help="folder of test_options.csv to evaluate on (default: --out)",
    )
    model.add_argument("--layers", type=int, default=5)
    model.add_argument("--activation", choices=("elu", "softplus"), default="elu")
    model.add_argument(
        "--weight",
        type=float,
        default=0.0,
        help="weight of the derivative labels' loss (0: prices only)",
    )
    model.add_argument(
        "--extra-inputs",
        nargs="+",
        default=(),
        help="extra inputs of a homogeneous or residual pricer's network"
        " (helpers.differential.EXTRA_INPUTS)",
    )
    model.add_argument(
        "--seed", type=int, default=0, help="seeds the initial weights and the shuffling"
    )
    model.add_argument(
        "--oversample",
        type=Path,
        default=None,
        help="a second datagen folder whose training options are added (for example one "
        "made with --region barrier_corner)",
    )
    check = sub.add_parser("evaluate", help="record the shipped model's accuracy in pricer.json")
    check.add_argument("--out", type=Path, default=Path("data"))
    check.add_argument(
        "--test", type=Path, default=None, help="folder of test_options.csv (default: --out)"
    )
    args = parser.parse_args(argv)
    if args.what == "testset":
        print(make_test_set(args.out))
    elif args.what == "evaluate":
        print(json.dumps(record_evaluation(args.out, args.test), indent=2))
    else:
        print(train_model(args.data, args.out, args.epochs, args.hidden, args.batch,
                          tuple(args.lr), kind=args.kind, layers=args.layers,
                          activation=args.activation, weight=args.weight,
                          extra_inputs=tuple(args.extra_inputs), seed=args.seed,
                          oversample=args.oversample, test=args.test))  # fmt: skip


if __name__ == "__main__":
    main()
