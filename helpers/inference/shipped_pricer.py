"""What made the shipped pricer (Chapter 10): the measurements behind it, read into tables.

The shipped pricer (``data/pricer.pt``, ``helpers.networks.residual.ResidualPricer``) is Levy's
closed form plus a network that corrects it, trained on control-variate labels with three
extra inputs and extra options in the barrier's corner. Chapter 10 measures what each of those
ingredients bought: the closed form's own error by distance to the barrier, the ablation's rows
with the closed form underneath (``data/ablation.json``), the control variates' labels against
the plain estimator's, the learning curves (``data/curves.json``,
``data/residual_curves.json``) and seven full-size pricers (``data/full_size/*/`` and
``data/``), each folder with the ``pricer.json`` that ``make experiments`` or ``make
pretrained`` wrote: the architecture, the commands, the training time, the device and threads
it trained on, and under ``evaluation`` its figures on the test set and at the article's
network example (``python -m helpers.pretrain evaluate``).

Every function here reads or tabulates; none trains or prices. The tables are
``helpers.core.report.table`` Markdown.

Example:
    >>> records = read_records(full_size_folders("data"))
    >>> records["shipped"]["architecture"]["kind"]
    'residual'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from IPython.display import Markdown

from ..core import report
from ..core.domain import ARTICLE_NETWORK_PRICE
from ..mc.result import MCResult
from ..training.ablation import MAE_TARGETS, options_needed
from .evaluation import ACCURATE_MAE, ACCURATE_MAE_ABOVE, ARTICLE_TARGET, GREEK_TARGETS

BARRIER_BANDS = {
    "B / S0 below 0.6": (0.0, 0.6),
    "0.6 to 0.9": (0.6, 0.9),
    "0.9 and above": (0.9, math.inf),
}
"""Bands of the barrier-to-spot ratio ``B / S0`` (lower bound included, upper excluded but
for the last band's, which takes every larger ratio)."""


def barrier_bands(X: np.ndarray) -> dict[str, np.ndarray]:
    """Which options lie in each of ``BARRIER_BANDS``, and ``"all"``.

    Args:
        X: options, shape ``(n, 6)``, columns ``helpers.core.domain.COLUMNS``.

    Returns:
        ``{band: mask}``, each mask boolean of shape ``(n,)``; a zero spot counts as ``B / S0``
        infinite (the last band).
    """
    X = np.asarray(X, dtype=np.float64)
    ratio = np.divide(X[:, 1], X[:, 2], out=np.full(len(X), np.inf), where=X[:, 2] > 0)
    masks = {
        name: (ratio >= low) & ((ratio < high) | (high == math.inf))
        for name, (low, high) in BARRIER_BANDS.items()
    }
    masks["all"] = np.ones(len(X), dtype=bool)
    return masks


def band_table(abs_error: np.ndarray, bands: Mapping[str, np.ndarray]) -> Markdown:
    """The mean and median absolute error in each band (``barrier_bands``).

    Args:
        abs_error: absolute price errors, shape ``(n,)``, currency.
        bands: ``{band: mask}``, masks of shape ``(n,)``.
    """
    rows = [
        [name, int(m.sum()), float(abs_error[m].mean()), float(np.median(abs_error[m]))]
        for name, m in bands.items()
    ]
    return report.table(rows, ["test options", "count", "MAE", "median error"],
                        {"MAE": "{:.4f}", "median error": "{:.4f}"})  # fmt: skip


def read_results(path: Path | str) -> list[dict]:
    """The ``"results"`` of an experiment file that ``python -m helpers.training.ablation``
    wrote (``data/ablation.json``, ``data/curves.json``, ...), one dictionary per run."""
    return json.loads(Path(path).read_text())["results"]


def closed_form_table(results: Sequence[dict], closed_form_mae: float) -> Markdown:
    """The ablation's runs with the closed form underneath, beside its base recipe and the
    closed form alone.

    Args:
        results: ``data/ablation.json``'s ``"results"``: the base recipe first, the runs with
            ``kind == "residual"`` among the others.
        closed_form_mae: the closed form's own test MAE (currency).
    """
    base = results[0]
    rows = [[f"{base['name']} (the base recipe)", base["test_mae"]]]
    rows.append(["the closed form alone, no network", closed_form_mae])
    rows += [[r["name"], r["test_mae"]] for r in results if r["kind"] == "residual"]
    rows = [[name, mae, mae / base["test_mae"]] for name, mae in rows]
    return report.table(rows, ["6,000 steps, as in the ablation", "test MAE", "vs base"],
                        {"test MAE": "{:.4f}", "vs base": "{:.2f}x"})  # fmt: skip


@dataclass(frozen=True)
class LabelQuality:
    """How close repeated Monte Carlo labels of the same options come to a reference price.

    Attributes:
        mean_stderr: the labels' mean standard error (currency).
        mean_variance: the mean of their squared standard errors (currency squared): the
            estimator's variance per option at these paths, averaged.
        label_mae: mean absolute distance from the reference (currency).
        typical_z: the median of ``|z|`` over 0.6745, ``z`` the distance over the combined
            standard error; 1 when the standard errors are right for the typical option.
        beyond_3: share of ``|z| > 3`` (0.27% for normal errors).
        mean_error: the mean signed distance over options and repetitions (currency) ...
        mean_error_se: ... and its standard error, from the spread of the options' means.
    """

    mean_stderr: float
    mean_variance: float
    label_mae: float
    typical_z: float
    beyond_3: float
    mean_error: float
    mean_error_se: float


def label_quality(
    results: Sequence[MCResult], reference_price: np.ndarray, reference_stderr: np.ndarray
) -> LabelQuality:
    """Measures repeated labels of the same options (other seeds) against a reference.

    A label whose standard error is 0 (no path paid, or the control variates' fit was exact)
    has no ``z`` and is left out of ``typical_z`` and ``beyond_3`` only.

    Args:
        results: one ``MCResult`` per repetition, each of the same ``n`` options.
        reference_price: the reference prices, shape ``(n,)``, currency.
        reference_stderr: their standard errors, shape ``(n,)``.

    Raises:
        ValueError: no results, or a result of another length than the reference.
    """
    reference_price = np.asarray(reference_price, dtype=np.float64)
    if not results or any(r.price.shape != reference_price.shape for r in results):
        raise ValueError(f"results: one or more MCResult of {reference_price.size} options each")
    errors = np.array([r.price - reference_price for r in results])  # (repetitions, n)
    stderr = np.array([r.stderr for r in results])
    seen = stderr > 0
    reference = np.broadcast_to(np.asarray(reference_stderr, dtype=np.float64), errors.shape)
    z = errors[seen] / np.hypot(stderr[seen], reference[seen])
    per_option = errors.mean(axis=0)
    return LabelQuality(
        mean_stderr=float(stderr.mean()),
        mean_variance=float((stderr**2).mean()),
        label_mae=float(np.abs(errors).mean()),
        typical_z=float(np.median(np.abs(z)) / 0.6745),
        beyond_3=float(np.mean(np.abs(z) > 3)),
        mean_error=float(errors.mean()),
        mean_error_se=float(per_option.std() / np.sqrt(per_option.size)),
    )


def quality_table(qualities: Mapping[str, LabelQuality], paths: int) -> Markdown:
    """One row per estimator (``label_quality``): mean standard error, label MAE, typical
    ``z``, the share beyond 3, and the mean error with its standard error."""
    rows = [
        [name, q.mean_stderr, q.label_mae, q.typical_z, q.beyond_3,
         f"{q.mean_error:+.4f} ± {q.mean_error_se:.4f}"]
        for name, q in qualities.items()
    ]  # fmt: skip
    columns = [f"{paths} paths", "mean s.e.", "label MAE", "typical z", "z beyond 3",
               "mean error"]  # fmt: skip
    formats = {"mean s.e.": "{:.4f}", "label MAE": "{:.4f}", "typical z": "{:.2f}",
               "z beyond 3": "{:.1%}"}  # fmt: skip
    return report.table(rows, columns, formats)


CURVE_FILES = {"": "curves.json", "closed form, ": "residual_curves.json"}
"""The learning curves' files in ``data/``, by the prefix their lines are named with: the
homogeneous network alone, and the closed form plus it."""


def read_curves(folder: Path | str) -> dict[str, list[dict]]:
    """The learning curves' runs (``helpers.training.ablation.curve_suite`` results), by the
    prefix of ``CURVE_FILES``."""
    return {prefix: read_results(Path(folder) / file) for prefix, file in CURVE_FILES.items()}


def curve_points(runs: Mapping[str, Sequence[dict]]) -> dict[str, tuple[list[int], list[float]]]:
    """``{prefix + "plain" or "differential": (options, test MAE)}`` for
    ``helpers.plotting.learning_curves``: plain runs have derivative weight 0."""
    curves: dict[str, tuple[list[int], list[float]]] = {}
    for prefix, results in runs.items():
        for r in results:
            options, mae = curves.setdefault(
                prefix + ("differential" if r["weight"] > 0 else "plain"), ([], [])
            )
            options.append(int(r["options"]))
            mae.append(float(r["test_mae"]))
    return curves


def options_needed_table(
    runs: Mapping[str, Sequence[dict]], targets: Sequence[float] = MAE_TARGETS
) -> Markdown:
    """How many training options each curve needs for each target test MAE
    (``helpers.training.ablation.options_needed``): "not reached" where no measured size
    reaches it, "or fewer" where the smallest size measured already does."""
    rows = []
    for prefix, results in runs.items():
        smallest = min(r["options"] for r in results)
        needed = options_needed(list(results), tuple(targets))
        for method in ("plain", "differential"):
            row = [prefix + method]
            for target in targets:
                n = needed[str(target)][method]
                if n is None:
                    row.append("not reached")
                else:
                    row.append(f"{n:,.0f}" + (" or fewer" if n == smallest else ""))
            rows.append(row)
    return report.table(rows, ["training", *(f"options for MAE {t}" for t in targets)])


FULL_SIZE = {
    "article's recipe": "full_size/article_recipe",
    "homogeneous": "full_size/prices_only",
    "with derivatives": "full_size/differential",
    "closed form": "full_size/closed_form",
    "no extra inputs": "full_size/control_labels",
    "no corner options": "full_size/extra_inputs",
    "shipped": ".",
}
"""The full-size pricers' folders under ``data/``, in the order the ingredients were added;
``"shipped"`` is the pricer Chapter 7 ships."""
NETWORKS = {
    "plain": "article's Net",
    "homogeneous": "homogeneous",
    "residual": "closed form + homogeneous",
}
"""Short names of the architectures' ``kind``."""


def full_size_folders(data_dir: Path | str) -> dict[str, Path]:
    """``{name: folder}`` of the full-size pricers (``FULL_SIZE``) under ``data_dir``."""
    return {name: Path(data_dir) / folder for name, folder in FULL_SIZE.items()}


def read_records(folders: Mapping[str, Path]) -> dict[str, dict]:
    """Each folder's ``pricer.json``.

    Raises:
        FileNotFoundError: a folder without one, named with the command that makes it.
    """
    records = {}
    for name, folder in folders.items():
        path = Path(folder) / "pricer.json"
        if not path.exists():
            raise FileNotFoundError(f"{path} ({name}) is missing: `make experiments` makes it")
        records[name] = json.loads(path.read_text())
    return records


def network_name(architecture: Mapping) -> str:
    """The network's short name (``NETWORKS``), with its extra inputs counted."""
    extra = len(architecture.get("extra_inputs", []))
    name = NETWORKS[architecture.get("kind", "plain")]
    return name + (f" + {extra} inputs" if extra else "")


def label_description(record: Mapping) -> str:
    """A pricer's price labels: estimator, paths per option, and the options added in the
    barrier's corner (their training shards only)."""
    data = record["data"]
    if data.get("estimator") == "control":
        estimator = "control variates"
    else:
        estimator = "survival" if data.get("greeks") else "plain"
    labels = f"{estimator}, {data['paths']} paths"
    corner = record.get("oversample_data")
    if corner:
        added = (corner["shards"] - corner["val_shards"]) * corner["options_per_shard"]
        labels += f", + {added:,} in the corner"
    return labels


def fitted_to(record: Mapping) -> str:
    """``"prices"``, or ``"prices, derivatives"`` when the training command set a derivative
    weight above 0."""
    words = record["command"].split()
    if "--weight" in words:
        weight = float(words[words.index("--weight") + 1])
        return "prices, derivatives" if weight > 0 else "prices"
    return "prices"


def training_machine(record: Mapping) -> str:
    """Where a pricer trained, as its ``pricer.json`` records it: the device, and the threads
    when recorded."""
    threads = record.get("threads")
    if threads is None:
        return f"{record['device']}, threads not recorded"
    return f"{record['device']}, {threads} thread" + ("s" if threads != 1 else "")


def recorded_note(records: Mapping[str, Mapping]) -> str:
    """One line for a figure of recorded figures: where they come from, and the machines the
    pricers trained on (``training_machine``), with how many pricers each."""
    machines: dict[str, list[str]] = {}
    for name, r in records.items():
        machines.setdefault(training_machine(r), []).append(name)
    trained = "; ".join(
        f"{machine} ({len(names)} pricer{'s' if len(names) > 1 else ''})"
        for machine, names in machines.items()
    )
    return (
        "Recorded in each pricer.json by make experiments and make pretrained "
        f"(python -m helpers.pretrain evaluate); trained on: {trained}"
    )


def corner_counts(record: Mapping, corner_share: float) -> dict[str, int | float]:
    """How the corner options change a recipe's training set.

    Args:
        record: the recipe's ``pricer.json``, with ``data`` and ``oversample_data`` (shards,
            validation shards, options per shard).
        corner_share: the share of the domain in the corner (``in_barrier_corner`` of uniform
            draws).

    Returns:
        ``training_options`` (the main dataset's, validation shards left out),
        ``expected_in_corner`` (of those, at ``corner_share``), ``corner_added`` (the corner
        dataset's training options), ``share_after`` (the corner's share of all training
        options) and ``more_steps`` (the relative growth of an epoch's steps).
    """
    data, corner = record["data"], record["oversample_data"]
    training = (data["shards"] - data["val_shards"]) * data["options_per_shard"]
    added = (corner["shards"] - corner["val_shards"]) * corner["options_per_shard"]
    expected = round(corner_share * training)
    return {
        "training_options": int(training),
        "expected_in_corner": int(expected),
        "corner_added": int(added),
        "share_after": (expected + added) / (training + added),
        "more_steps": added / training,
    }


def recipe_table(records: Mapping[str, Mapping]) -> Markdown:
    """One row per full-size pricer: network, labels, what it was fitted to, training minutes
    and the machine they were measured on (``training_machine``)."""
    rows = [
        [name, network_name(r["architecture"]), label_description(r), fitted_to(r),
         r["training_seconds"] / 60, training_machine(r)]
        for name, r in records.items()
    ]  # fmt: skip
    columns = ["pricer", "network", "labels", "fitted to", "training, min", "trained on"]
    return report.table(rows, columns, {"training, min": "{:.0f}"})


def example_gaps(evaluation: Mapping) -> dict[str, float]:
    """A pricer's recorded network - Monte Carlo gaps at the article's network example, each
    over its target: ``{"price", "delta", "gamma", "vega"}``; within the target is ``<= 1``
    in size."""
    gaps = {"price": evaluation["article_point"]["gap"] / ARTICLE_TARGET}
    greeks = evaluation["article_point_greeks"]
    gaps |= {g: greeks[g]["gap"] / target for g, target in GREEK_TARGETS.items()}
    return gaps


def accuracy_table(records: Mapping[str, Mapping]) -> Markdown:
    """The recorded test MAE, MAE on options worth 1 or more, largest error, and the gaps at
    the article's network example, one row per pricer, with the course's targets."""
    rows = []
    for name, r in records.items():
        e = r["evaluation"]
        gaps = [e["article_point"]["gap"]]
        gaps += [e["article_point_greeks"][g]["gap"] for g in GREEK_TARGETS]
        rows.append([name, e["test_mae"], e["mae_priced_above"], e["test_max_error"],
                     *(f"{g:+.4f}" for g in gaps)])  # fmt: skip
    targets = [f"± {t}" for t in (ARTICLE_TARGET, *GREEK_TARGETS.values())]
    rows.append(["target", ACCURATE_MAE, ACCURATE_MAE_ABOVE, None, *targets])
    columns = ["pricer", "test MAE", "MAE, price >= 1", "max error",
               *(f"{q} gap" for q in ("price", *GREEK_TARGETS))]  # fmt: skip
    formats = {"test MAE": "{:.4f}", "MAE, price >= 1": "{:.4f}", "max error": "{:.3f}"}
    return report.table(rows, columns, formats)


def corner_table(abs_errors: Mapping[str, np.ndarray], in_corner: np.ndarray) -> Markdown:
    """Each pricer's test MAE, on the test options in the barrier's corner and elsewhere.

    Args:
        abs_errors: ``{pricer: absolute errors}``, each of shape ``(n,)``, currency.
        in_corner: boolean, shape ``(n,)`` (``helpers.core.domain.in_barrier_corner``).
    """
    inside, outside = f"in the corner ({in_corner.sum()})", f"elsewhere ({(~in_corner).sum()})"
    rows = [[n, e.mean(), e[in_corner].mean(), e[~in_corner].mean()] for n, e in abs_errors.items()]
    return report.table(rows, ["pricer", "test MAE", inside, outside],
                        {c: "{:.4f}" for c in ("test MAE", inside, outside)})  # fmt: skip


def greeks_table(by_network: Mapping[str, Mapping], reference: Mapping) -> Markdown:
    """The Greeks at the article's network example: Monte Carlo's with standard errors, then
    each network's by autograd.

    Args:
        by_network: ``{pricer: helpers.inference.evaluation.article_point_greeks(...)}``.
        reference: any one of them, whose ``monte_carlo`` values head the table.
    """
    names = list(GREEK_TARGETS)
    mc = [f"{reference[g]['monte_carlo']:.4f} ± {reference[g]['monte_carlo_stderr']:.4f}"
          for g in names]  # fmt: skip
    rows = [["Monte Carlo", *mc]]
    rows += [[n, *(f"{by[g]['network']:.4f}" for g in names)] for n, by in by_network.items()]
    return report.table(rows, ["at the article's network example", *names])


def measured_table(
    records: Mapping[str, Mapping], machine: Mapping[str, str], se_ratio: float
) -> Markdown:
    """What we measured, beside the article: the machine, the shipped pricer's training, its
    gap at the article's network example and the article's network's
    (``helpers.core.domain.ARTICLE_NETWORK_PRICE``) against the same Monte Carlo reference,
    the test MAE, the article's recipe trained here, the control variates.

    Args:
        records: the full-size pricers' ``pricer.json`` (``read_records``), with
            ``"shipped"`` and ``"article's recipe"``.
        machine: ``helpers.core.machine.describe_machine()`` of this run.
        se_ratio: this run's plain over control-variate mean standard error.
    """
    shipped, before = records["shipped"], records["article's recipe"]
    point = shipped["evaluation"]["article_point"]
    reference = f"{point['monte_carlo']:.4f} ± {point['monte_carlo_stderr']:.4f}"
    article_gap = ARTICLE_NETWORK_PRICE - point["monte_carlo"]
    minutes = shipped["training_seconds"] / 60
    rows = [
        ["machine of this run", f"{machine['cpu']}, {machine['cores']} cores",
         "8 GPUs"],
        ["training the shipped pricer (recorded)",
         f"{minutes:.0f} min, {training_machine(shipped)}", "10 to 20 hours"],
        [f"article's network example: network - Monte Carlo ({reference})",
         f"{point['gap']:+.4f}", f"{article_gap:+.4f}"],
        ["test MAE, 512 options", f"{shipped['evaluation']['test_mae']:.4f}", "not reported"],
        ["the article's recipe trained here: test MAE, gap at the example",
         f"{before['evaluation']['test_mae']:.4f}, "
         f"{before['evaluation']['article_point']['gap']:+.4f}", ""],
        ["price labels' standard error, plain / control variates (this run)",
         f"{se_ratio:.1f}", "control variates not used"],
    ]  # fmt: skip
    return report.table(rows, ["", "this course", "the article"])
