"""``python -m helpers.pretrain``: the shipped pretrained pricer and its held-out test set, made.

``python -m helpers.pretrain testset --out data`` prices ``TEST_OPTIONS`` options drawn from the
domain by high-precision Monte Carlo (``helpers.data.test_set``) and
writes ``data/test_options.csv`` (with standard errors) and ``data/test_options.json`` (recipe).

``python -m helpers.pretrain model --data DIR --out data --epochs E`` trains a pricer on a
dataset made by ``python -m helpers.datagen`` (``helpers.training.recipe.train_model``) and
writes ``data/pricer.pt`` and ``data/pricer.json``, then records the model's evaluation in it,
as ``evaluate`` does.

``python -m helpers.pretrain evaluate --out data`` measures the shipped model against the test set
and at the article's network example (``helpers.inference.evaluation``) and writes the figures into
``data/pricer.json`` under ``"evaluation"``; the weights, and so their SHA-256, are untouched.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .data.test_set import make_test_set
from .inference.evaluation import record_evaluation
from .training.recipe import train_model


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
        " (helpers.networks.homogeneous.EXTRA_INPUTS)",
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
                          oversample=args.oversample))  # fmt: skip
        test = args.test if args.test is not None else args.out
        if (test / "test_options.csv").exists():
            record_evaluation(args.out, test)


if __name__ == "__main__":
    main()
