"""``python -m helpers.pretrain``: the shipped pretrained pricer and its held-out test set, made.

Each command writes into ``--out``, by default the repository's ``data/`` folder
(``helpers.core.config.DATA_DIR``), wherever the command is run from.

``python -m helpers.pretrain testset`` prices ``TEST_OPTIONS`` options drawn from the domain by
high-precision Monte Carlo (``helpers.data.test_set``) and writes ``test_options.csv`` (with
standard errors) and ``test_options.json`` (recipe).

``python -m helpers.pretrain model --data DIR --epochs E`` trains a pricer on a dataset made by
``python -m helpers.datagen`` (``helpers.training.recipe.train_model``) and writes
``pricer.pt`` and ``pricer.json``, then records the model's evaluation in it, as ``evaluate``
does, when the test set is there.

``python -m helpers.pretrain evaluate`` measures the shipped model against the test set and at
the article's network example (``helpers.inference.evaluation``) and writes the figures into
``pricer.json`` under ``"evaluation"`` (and prints them as JSON); the weights, and so their
SHA-256, are untouched.

Exit codes: 0 done, 1 the work failed (one line on stderr says why), 2 bad arguments, 130
interrupted.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .core.cli import (
    CommandParser,
    output_folder,
    print_json,
    real_number,
    reported_failures,
    whole_number,
)
from .core.config import DATA_DIR

EXTRA_INPUT_NAMES = ("barrier_distance", "strike_distance", "knock_out_chance")
"""The names ``--extra-inputs`` takes (``helpers.networks.homogeneous.EXTRA_INPUTS``), listed
here so that ``--help`` needs no PyTorch."""

_OUT_HELP = (
    "folder the files are written to, created if needed (default: the repository's data/ "
    f"folder, {DATA_DIR}, wherever the command is run from)"
)


def _shown(path: Path) -> Path:
    """``path`` relative to the working folder when it lies inside it (``data``, not
    ``/home/.../data``), so that the commands recorded in the files stay portable."""
    try:
        return Path(os.path.relpath(path)) if path.resolve().is_relative_to(Path.cwd()) else path
    except ValueError:  # another drive
        return path


def _parser() -> CommandParser:
    parser = CommandParser(
        prog="python -m helpers.pretrain",
        description="Makes the shipped pretrained pricer and its held-out test set. Each "
        "command writes into --out, by default the repository's data/ folder, wherever it is "
        "run from.",
        epilog="python -m helpers.pretrain COMMAND --help describes each command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    test = sub.add_parser(
        "testset",
        help="make the held-out, high-precision Monte Carlo test set (test_options.csv)",
        description="Prices the held-out test options by high-precision Monte Carlo "
        "(helpers.data.test_set) and writes test_options.csv and test_options.json.",
    )
    test.add_argument("--out", type=Path, default=DATA_DIR, metavar="FOLDER", help=_OUT_HELP)

    model = sub.add_parser(
        "model",
        help="train the shipped pricer on a datagen dataset (pricer.pt, pricer.json)",
        description="Trains a pricer on a python -m helpers.datagen dataset "
        "(helpers.training.recipe.train_model), writes pricer.pt and pricer.json into --out, "
        "and records its evaluation there when the test set is found. A killed run resumes "
        "from its last epoch (checkpoints in --data).",
    )
    model.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="FOLDER",
        help="the datagen dataset to train on (required)",
    )
    model.add_argument("--out", type=Path, default=DATA_DIR, metavar="FOLDER", help=_OUT_HELP)
    model.add_argument(
        "--epochs",
        type=whole_number(1, 100_000),
        default=30,
        metavar="N",
        help="passes over the training split (default: %(default)s)",
    )
    model.add_argument(
        "--hidden",
        type=whole_number(1, 65_536),
        default=256,
        metavar="N",
        help="units per hidden layer (default: %(default)s)",
    )
    model.add_argument(
        "--layers",
        type=whole_number(1, 64),
        default=5,
        metavar="N",
        help="hidden layers (default: %(default)s)",
    )
    model.add_argument(
        "--batch",
        type=whole_number(1, 2**24),
        default=1024,
        metavar="N",
        help="options per minibatch (default: %(default)s)",
    )
    model.add_argument(
        "--lr",
        type=real_number(0.0, 1.0, low_open=True),
        nargs=2,
        default=(1e-3, 1e-6),
        metavar=("START", "END"),
        help="Adam's learning rate at the first step and at the last, cosine in between, each "
        "in (0, 1] (default: 1e-3 1e-6)",
    )
    model.add_argument(
        "--kind",
        choices=("plain", "homogeneous", "residual"),
        default="plain",
        help="the pricer's form: a plain network, or one homogeneous of degree "
        "1 in (K, B, S0), or that plus a residual (default: %(default)s)",
    )
    model.add_argument(
        "--activation",
        choices=("elu", "softplus"),
        default="elu",
        help="activation of the hidden layers (default: %(default)s)",
    )
    model.add_argument(
        "--weight",
        type=real_number(0.0),
        default=0.0,
        metavar="W",
        help="weight of the derivative labels' loss beside the prices', >= 0; above 0 the "
        "dataset must be made with --greeks (default: %(default)g, prices only)",
    )
    model.add_argument(
        "--extra-inputs",
        nargs="+",
        default=(),
        choices=EXTRA_INPUT_NAMES,
        metavar="NAME",
        help="extra inputs of a homogeneous or residual pricer's network, from "
        f"{', '.join(EXTRA_INPUT_NAMES)} (helpers.networks.homogeneous.EXTRA_INPUTS) "
        "(default: none)",
    )
    model.add_argument(
        "--seed",
        type=whole_number(0, 2**63 - 1),
        default=0,
        metavar="N",
        help="seeds the initial weights and the batches' order (default: %(default)s)",
    )
    model.add_argument(
        "--oversample",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="a second datagen dataset whose training options are added, for "
        "example one made with --region barrier_corner (default: none)",
    )
    model.add_argument(
        "--test",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="folder of test_options.csv to evaluate on (default: --out)",
    )

    check = sub.add_parser(
        "evaluate",
        help="measure the shipped model on the test set and record it in pricer.json",
        description="Measures the model in --out against the test set and at the article's "
        "network example (helpers.inference.evaluation), records the figures in pricer.json "
        'under "evaluation" and prints them as JSON; the weights are untouched.',
    )
    check.add_argument(
        "--out",
        type=Path,
        default=DATA_DIR,
        metavar="FOLDER",
        help="folder of pricer.json and its weights (default: the repository's "
        f"data/ folder, {DATA_DIR}, wherever the command is run from)",
    )
    check.add_argument(
        "--test",
        type=Path,
        default=None,
        metavar="FOLDER",
        help="folder of test_options.csv (default: --out)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    """Command line: see the module docstring and ``--help``."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("choose a command: testset, model or evaluate")
    out = _shown(args.out) if args.out == DATA_DIR else args.out  # recorded as "data"
    with reported_failures(
        "interrupted: the files written so far are complete; a killed "
        "model run resumes from its last epoch"
    ):
        if args.command == "testset":
            from .data.test_set import make_test_set

            print(make_test_set(output_folder(out, "--out")))
        elif args.command == "evaluate":
            from .inference.evaluation import record_evaluation

            print_json(record_evaluation(out, args.test))
        else:
            _train(args, out)


def _train(args: argparse.Namespace, out: Path) -> None:
    from .inference.evaluation import record_evaluation
    from .training.recipe import train_model

    if args.extra_inputs and args.kind == "plain":
        raise ValueError("--extra-inputs need --kind homogeneous or residual, not plain")
    for option, folder in (("--data", args.data), ("--oversample", args.oversample)):
        if folder is not None and not (folder / "manifest.json").is_file():
            raise ValueError(
                f"{option} {folder} is not a datagen dataset (no manifest.json): "
                "make one with python -m helpers.datagen"
            )
    output_folder(out, "--out")
    print(
        train_model(
            args.data,
            out,
            args.epochs,
            args.hidden,
            args.batch,
            tuple(args.lr),
            kind=args.kind,
            layers=args.layers,
            activation=args.activation,
            weight=args.weight,
            extra_inputs=tuple(args.extra_inputs),
            seed=args.seed,
            oversample=args.oversample,
        )
    )
    test = args.test if args.test is not None else out
    if (test / "test_options.csv").exists():
        record_evaluation(out, test)


if __name__ == "__main__":
    main()
