"""``make bench``: every topic's measurements in one run, or the topics named, into
``bench/results.json`` and the page ``bench/results.md``.

Each topic is a module with ``measure(sizes, anchor_paths)``, which returns its keys of a run,
and ``lines(result)``, which returns its section of the run's page (nothing when its keys are
absent). ``TOPICS`` lists them in the page's order.

The project's machines differ from one run to the next (an AMD EPYC one day, an Intel Xeon the
next), so the files keep one run per machine (``machine_key``: its CPU model and cores):
``results.json`` is ``{"machines": {key: run}}`` and ``results.md`` has one section per machine,
newest first. A run replaces only its own machine's figures; another machine's stand beside it.
"""

from __future__ import annotations

import argparse
import importlib
import json
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

from ..core import config, machine
from ..core.files import write_atomically

TOPICS = {
    "mc": "helpers.benchmark.mc",
    "data": "helpers.benchmark.data",
    "training": "helpers.benchmark.training",
    "inference": "helpers.benchmark.inference",
    "adjoint": "helpers.benchmark.adjoint",
    "differential": "helpers.benchmark.differential",
    "localvol": "helpers.localvol.timing",
    "profile": "helpers.benchmark.pricer_profile",
    "quantized": "helpers.inference.export.benchmark",
    "service": "helpers.inference.service.benchmark",
    "peers": "helpers.inference.service.peers.benchmark",
}
"""Each topic's module, in the order of ``bench/results.md``: the Monte Carlo backends
(Chapter 1), the data pipeline (2, 6), training (4), inference (7), adjoint Greeks (8),
derivative and control-variate labels (9, 10), the local-volatility basket (11), where the
shipped pricer's time goes and quantized inference (12), and the pricing service and its
peers (13)."""


SECTION_KEYS = {
    "mc": ("timings", "kernel_parts", "article_kernel"),
    "data": ("dataset", "datagen", "training_sources"),
    "training": ("training_step",),
    "profile": ("pricer_profile",),
}
"""The keys of ``results.json`` each topic writes, where they are not the topic's own name."""

NEEDS_PRICER = ("inference", "profile", "quantized", "service", "peers")
"""Topics that measure the shipped pricer: skipped where ``data/pricer.json`` is absent."""


def _measure(name: str, sizes: config.Sizes, anchor_paths: int) -> dict:
    """One topic's keys of ``results.json``; none for a pricer topic without the pricer."""
    from ..core.config import DATA_DIR

    if name in NEEDS_PRICER and not (DATA_DIR / "pricer.json").exists():
        return {}
    return topic(name).measure(sizes, anchor_paths)


def topic(name: str) -> ModuleType:
    """A topic's module.

    Raises:
        ValueError: an unknown topic, naming the known ones.
    """
    if name not in TOPICS:
        raise ValueError(f"unknown benchmark topic {name!r}: choose from {list(TOPICS)}")
    return importlib.import_module(TOPICS[name])


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_all(sizes: config.Sizes | None = None, anchor_paths: int = 20_000) -> dict:
    """Every topic's measurements, in one run, as a JSON-ready dictionary."""
    sizes = sizes or config.sizes()
    result = {"date": _now(), "machine": machine.describe_machine()}
    result["machine_line"] = machine.machine_line()
    for name in TOPICS:
        result |= _measure(name, sizes, anchor_paths)
    return result


def run_topics(
    names: list[str], previous: dict, sizes: config.Sizes | None = None, anchor_paths: int = 20_000
) -> dict:
    """``previous`` with the named topics measured again; each fresh section that is a dict gets
    its own ``date``."""
    sizes = sizes or config.sizes()
    result = dict(previous)
    result.setdefault("date", _now())
    result.setdefault("machine", machine.describe_machine())
    result.setdefault("machine_line", machine.machine_line())
    for name in names:
        fresh = _measure(name, sizes, anchor_paths)
        for value in fresh.values():
            if isinstance(value, dict):
                value["date"] = _now()
                value["machine_line"] = machine.machine_line()
        result |= fresh
    return result


def machine_of(result: dict) -> str:
    """The machine line of a run (``helpers.core.machine.machine_line``), or, for results
    recorded before it existed, the same facts from the run's ``machine`` dictionary."""
    if "machine_line" in result:
        return result["machine_line"]
    m = {key: "not recorded" for key in ("cpu", "cores", "simd", "gpu", "python", "numpy")}
    m |= result.get("machine", {})
    return (
        f"{m['cpu']}, {m['cores']} cores; widest vector instructions {m['simd']} (the "
        f"run recorded no others); GPU {m['gpu']}; Python {m['python']}, NumPy "
        f"{m['numpy']}, Numba {m.get('numba', 'none')}"
    )


def remeasured(result: dict, name: str) -> str | None:
    """A line saying when (and, where recorded, on which machine) topic ``name`` was measured
    again after the run that made the page (``run_topics``), or ``None`` if it was not."""
    sections = [result.get(key) for key in SECTION_KEYS.get(name, (name,))]
    dated = [s for s in sections if isinstance(s, dict) and "date" in s]
    if not dated:
        return None
    dates = sorted({s["date"] for s in dated})
    machines = sorted({s["machine_line"] for s in dated if "machine_line" in s})
    where = f" on {'; '.join(machines)}" if machines else ", the machine not recorded"
    return f"Measured again {', '.join(dates)} (`python -m helpers.benchmark {name}`){where}."


def to_markdown(result: dict) -> str:
    """The results as the Markdown page ``bench/results.md``: a header, then each topic's
    section, each one measured again later saying when."""
    lines = [
        "# Benchmark results",
        "",
        f"Measured {result['date']} by `make bench` (`python -m helpers.benchmark`).",
        "",
        f"Machine: {machine_of(result)}. Every figure below comes from this run on this "
        "machine, except in the sections that say they were measured again later; the book's "
        "chapters print their own machine, which may differ.",
    ]
    for name in TOPICS:
        section = topic(name).lines(result)
        if not section:
            continue
        again = remeasured(result, name)
        if again and not any(line.startswith("Measured ") for line in section):
            section = [section[0], "", again, *section[1:]]
        lines += ["", *section]
    return "\n".join(lines) + "\n"


def machine_key(run: dict) -> str:
    """The name a run is kept under: its CPU model and cores (``"AMD EPYC, 2 cores"``)."""
    m = run.get("machine", {})
    return f"{m.get('cpu', 'machine not recorded')}, {m.get('cores', '?')} cores"


def load_runs(path: Path) -> dict[str, dict]:
    """The runs of ``path`` (``results.json``) by machine; a file written before runs were kept
    per machine is one run, under its own machine's key; a missing file is none."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    if "machines" in data:
        return dict(data["machines"])
    return {machine_key(data): data} if data else {}


def recorded_run(key: str, path: Path | None = None) -> dict:
    """The newest recorded run (``bench/results.json``) that holds ``key`` (a topic's section,
    ``"localvol"`` say): a whole run, with its ``machine`` and ``date``, as the chapters quote
    ``make bench``'s figures beside the machine that measured them.

    Args:
        key: a key of a run (``SECTION_KEYS``, or a topic's name).
        path: the results file (default: the repository's ``bench/results.json``).

    Raises:
        ValueError: no recorded run holds ``key``.
    """
    from ..core.config import DATA_DIR

    path = path or DATA_DIR.parent / "bench" / "results.json"
    runs = [run for run in load_runs(path).values() if key in run]
    if not runs:
        raise ValueError(f"no run in {path} holds {key!r}: run make bench")

    def newest(run: dict) -> str:
        section = run[key]
        return section.get("date", run.get("date", "")) if isinstance(section, dict) else ""

    return max(runs, key=newest)


def _demoted(page: str) -> list[str]:
    """A run's page below a machine's heading: its title dropped, every heading one level
    deeper."""
    lines = page.rstrip("\n").split("\n")[1:]  # the run's "# Benchmark results"
    return [f"#{line}" if line.startswith("#") else line for line in lines]


def to_page(runs: dict[str, dict]) -> str:
    """``bench/results.md``: one section per machine, the newest run first."""
    lines = [
        "# Benchmark results",
        "",
        "`make bench` (`python -m helpers.benchmark`) on each machine that ran it: one section per"
        " machine (its CPU model and cores), the newest first. A run replaces its own machine's"
        " section and leaves the others; ratios are taken within one run, never across"
        " machines.",
    ]
    for key, run in sorted(runs.items(), key=lambda item: item[1].get("date", ""), reverse=True):
        lines += ["", f"## {key}: measured {run.get('date', 'on a date not recorded')}"]
        lines += _demoted(to_markdown(run))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """``python -m helpers.benchmark [TOPIC ...] --out DIR``: measure every topic, or the ones
    named (keeping this machine's others from ``DIR/results.json``), and write
    ``DIR/results.{md,json}`` with this machine's run beside the other machines'."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.benchmark", description="Measure the course's code (make bench)."
    )
    parser.add_argument(
        "topics", nargs="*", metavar="TOPIC",
        help=f"topics to measure again, keeping the others: {', '.join(TOPICS)} (default: all)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench"), help="folder for the results")
    parser.add_argument(
        "--anchor-paths", type=int, default=20_000, help="paths for the QuantLib anchor"
    )
    parser.add_argument("--only", choices=list(TOPICS), help="one topic (the same as TOPIC)")
    args = parser.parse_args(argv)
    names = [*args.topics, *([args.only] if args.only else [])]
    unknown = [name for name in names if name not in TOPICS]
    if unknown:
        parser.error(f"unknown topic(s) {', '.join(unknown)}: choose from {', '.join(TOPICS)}")
    previous_file = args.out / "results.json"
    runs = load_runs(previous_file)
    key = machine_key({"machine": machine.describe_machine()})
    if names:
        result = run_topics(names, runs.get(key, {}), anchor_paths=args.anchor_paths)
    else:
        result = run_all(anchor_paths=args.anchor_paths)
    runs[key] = result
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomically(previous_file, json.dumps({"machines": runs}, indent=2) + "\n")
    write_atomically(args.out / "results.md", to_page(runs))
    print(to_markdown(result))
