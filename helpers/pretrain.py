"""The shipped pretrained pricer and its held-out test set: how they are made.

``python -m helpers.pretrain testset --out data`` prices ``TEST_OPTIONS`` options drawn from the
domain with seed ``TEST_SEED`` by high-precision Monte Carlo (``TEST_PATHS`` paths each) and
writes ``data/test_options.csv`` (with standard errors) and ``data/test_options.json`` (recipe).

``python -m helpers.pretrain model --data DIR --out data --epochs E`` trains ``Net`` on a dataset
made by ``helpers.datagen`` (seed ``TRAIN_SEED``; its shards draw from seeds derived from
``(TRAIN_SEED, i)``, disjoint from the test set's ``TEST_SEED`` stream) and writes
``data/pricer.pt`` (the state dict) and ``data/pricer.json`` (architecture, recipe, command,
training time and the file's SHA-256, which ``helpers.model.load_pretrained`` checks).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from .domain import COLUMNS, sample_options

TEST_SEED = 987_654_321
TEST_OPTIONS = 512
TEST_PATHS = 131_072
TRAIN_SEED = 2024


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


def train_model(data: Path, out: Path, epochs: int, hidden: int, batch: int,
                lr: tuple[float, float]) -> Path:  # fmt: skip
    """Trains ``Net`` on ``data`` (a ``helpers.datagen`` folder) and writes the checkpoint."""
    import torch
    from ignite.engine import Events
    from torch.utils.data import DataLoader

    from .data import FileOptionDataSet, default_device
    from .datagen import sha256
    from .model import Net
    from .train import setup_training

    device = default_device()
    torch.manual_seed(0)
    train_rows = FileOptionDataSet(str(data), split="train", device=device)
    val_rows = FileOptionDataSet(str(data), split="validation", device=device)
    loader = DataLoader(train_rows, batch_size=batch, shuffle=True, drop_last=True)
    model = Net(hidden=hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr[0])
    run = setup_training(model, optimizer, device=device, lr_start=lr[0], lr_end=lr[1],
                         cycle_size=len(loader) * epochs, val_data=DataLoader(val_rows, 4096),
                         progress=sys.stderr.isatty())  # fmt: skip
    start = time.perf_counter()

    @run.trainer.on(Events.EPOCH_COMPLETED)
    def log_epoch(engine) -> None:
        print(f"epoch {engine.state.epoch}/{epochs}: validation MAE {run.validation[-1]['mae']:.4f}"
              f" after {time.perf_counter() - start:.0f} s", flush=True)  # fmt: skip

    run.trainer.run(loader, max_epochs=epochs)
    seconds = time.perf_counter() - start
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    tmp = out / "pricer.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, out / "pricer.pt")
    manifest = json.loads((data / "manifest.json").read_text())
    meta = {
        "file": "pricer.pt",
        "sha256": sha256(out / "pricer.pt"),
        "architecture": {"hidden": hidden, "layers": 5},
        "command": f"python -m helpers.pretrain model --data {data} --out {out} --epochs {epochs}"
        f" --hidden {hidden} --batch {batch} --lr {lr[0]} {lr[1]}",
        "data": manifest["spec"],
        "data_command": "python -m helpers.datagen --out {data} --shards {shards} "
        "--options-per-shard {options_per_shard} --paths {paths} --seed {seed}".format(
            data=data, **manifest["spec"]
        ),
        "training_seconds": round(seconds, 1),
        "device": str(device),
        "validation_mae_by_epoch": [round(v["mae"], 5) for v in run.validation],
    }
    _write_atomically(out / "pricer.json", (json.dumps(meta, indent=2) + "\n").encode())
    return out / "pricer.pt"


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
    args = parser.parse_args(argv)
    if args.what == "testset":
        print(make_test_set(args.out))
    else:
        print(
            train_model(args.data, args.out, args.epochs, args.hidden, args.batch, tuple(args.lr))
        )


if __name__ == "__main__":
    main()
