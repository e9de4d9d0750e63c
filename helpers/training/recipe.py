"""How the shipped pretrained pricer is trained (``python -m helpers.pretrain model``).

``train_model`` trains a pricer on a dataset made by ``python -m helpers.datagen`` (seed
``TRAIN_SEED``; its shards draw from seeds derived from ``(TRAIN_SEED, i)``, disjoint from the
test set's ``helpers.data.test_set.TEST_SEED`` stream) and writes ``pricer.pt`` (the state dict)
and ``pricer.json`` (architecture, recipe, command, training time and the file's SHA-256, which
``helpers.networks.loading.load_pretrained`` checks).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..core.files import sha256, write_json, written_atomically
from ..data.generate import load_greeks, load_split
from ..networks.loading import make_pricer
from .differential import LabelledOptions, fit_pricer

TRAIN_SEED = 2024
"""Seed of the shipped pricer's training dataset (``python -m helpers.datagen --seed``)."""


def load_labelled(data: Path, split: str, greeks: bool) -> LabelledOptions:
    """One split of a ``helpers.datagen`` dataset as ``LabelledOptions`` (derivative labels
    only if ``greeks``)."""
    X, price = load_split(data, split)
    return LabelledOptions(X, price, load_greeks(data, split)[0] if greeks else None)


def train_model(data: Path, out: Path, epochs: int, hidden: int, batch: int,
                lr: tuple[float, float], *, kind: str = "plain", layers: int = 5,
                activation: str = "elu", weight: float = 0.0,
                extra_inputs: tuple[str, ...] = (), seed: int = 0,
                oversample: Path | None = None) -> Path:  # fmt: skip
    """Trains a pricer on ``data`` (a ``helpers.datagen`` folder) with
    ``helpers.training.differential.fit_pricer`` and writes ``pricer.pt`` and ``pricer.json``.

    ``weight > 0`` trains on the dataset's derivative labels too (made with ``--greeks``).
    ``extra_inputs`` (names from ``helpers.networks.homogeneous.EXTRA_INPUTS``) go to a homogeneous
    or residual pricer's network; ``seed`` sets the initial weights and the batches' order.
    ``oversample`` is a second ``helpers.datagen`` folder (for example one drawn with
    ``--region barrier_corner``) whose training split is added to ``data``'s; the validation
    split stays ``data``'s. A resumable checkpoint is kept after every epoch in
    ``data/checkpoints-<recipe hash>``: the
    same command after a kill goes on from the last epoch. ``python -m helpers.pretrain model``
    then evaluates it (``helpers.inference.evaluation.record_evaluation``).
    """
    import hashlib

    import torch

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
    with written_atomically(out / "pricer.pt") as tmp:
        torch.save(state, tmp)
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
    write_json(out / "pricer.json", meta)
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
    greeks = None
    if a.greeks is not None and b.greeks is not None:
        greeks = np.concatenate([a.greeks, b.greeks])
    return LabelledOptions(np.concatenate([a.X, b.X]), np.concatenate([a.price, b.price]),
                           greeks)  # fmt: skip


def _manifest_hash(data: Path) -> str:
    """SHA-256 of a dataset's manifest (its spec and every shard's hash), 12 hex digits."""
    import hashlib

    return hashlib.sha256((data / "manifest.json").read_bytes()).hexdigest()[:12]
