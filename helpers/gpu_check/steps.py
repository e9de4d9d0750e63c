"""The steps of ``make gpu-check``, in the order they run, and the sizes they run at.

Each step measures one GPU section of ``make bench`` or one GPU-sized measurement of a chapter,
by calling the function that measures it there, and returns its figures as Markdown lines. A
step that cannot run here raises ``Skip`` with the reason; one that ran but found something
wrong raises ``Failed`` with the lines it has. An ``ImportError`` of a library this machine
lacks is turned into a skip by the runner (``missing_library``).

All times are wall-clock seconds; rates are per wall-clock second.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..core import config

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root: where ``tests/`` and ``data/`` are, and where pytest runs."""

OWN_PACKAGES = ("helpers", "tests")
"""Top-level packages of this repository: an import of theirs that fails is a bug, not a
missing library."""

DISTRIBUTIONS = {
    "ignite": "pytorch-ignite",
    "dask": "dask[distributed]",
    "distributed": "dask[distributed]",
    "dask_cuda": "dask-cuda",
    "QuantLib": "QuantLib",
    "fastapi": "fastapi",
    "onnx": "onnx",
    "onnxscript": "onnxscript",
    "onnxruntime": "onnxruntime",
    "torchao": "torchao",
    "cupy": "cupy (cupy-cuda13x or cupy-cuda12x)",
    "numba_cuda": "numba-cuda",
    "IPython": "ipython",
}
"""The distribution to install for a missing top-level module, where its name differs."""


class Skip(Exception):
    """A step that cannot run here; the message is the reason (``skipped: <reason>``)."""


class Failed(Exception):
    """A step that ran and found something wrong: the reason, and the figures it has."""

    def __init__(self, reason: str, lines: list[str]) -> None:
        super().__init__(reason)
        self.lines = lines


class StepTimeout(BaseException):
    """A step that ran past its time cap: the reason, and what it had printed (if it knows).

    A ``BaseException``, as ``KeyboardInterrupt`` is, so that no ``except Exception`` in the
    code a step measures swallows it.
    """

    def __init__(self, reason: str, lines: list[str] | None = None) -> None:
        super().__init__(reason)
        self.lines = lines or []


def missing_library(module: str | None) -> str | None:
    """The distribution to install when importing ``module`` failed because it is not installed.

    Args:
        module: the module an ``ImportError`` names (its ``name``), such as ``"ignite.engine"``.

    Returns:
        The distribution's name (``"pytorch-ignite"``), or ``None`` when the failure is not a
        missing library: no module named, a module of this repository, or a top-level package
        that is installed (then the import failed inside it, which is a bug or a version
        mismatch to report, not to skip).
    """
    if not module:
        return None
    top = module.split(".")[0]
    if top in OWN_PACKAGES:
        return None
    try:
        if importlib.util.find_spec(top) is not None:
            return None
    except (ImportError, ValueError):  # a broken parent package: treat as missing
        pass
    return DISTRIBUTIONS.get(top, top)


@dataclasses.dataclass(frozen=True)
class Scale:
    """How much each step does beyond ``config.Sizes``.

    Attributes:
        training_steps: timed training steps per precision (Chapter 4's comparison).
        inference_batches: batch sizes at which the network's options per second are timed.
        greeks_options: test options whose network Greeks are timed (``None``: all 512).
        mc_options: test options priced by Monte Carlo at the network's accuracy.
        mc_paths_cap: at most this many paths per option for that Monte Carlo (``None``: the
            matching paths, about 4.6 million).
        half_batches: batch sizes of the half-precision rows (Chapter 12); ``half_repeats``
            their rounds.
        basket_steps: Euler steps of the FX basket (Chapter 11; NAG's 360).
        datagen_shards: shards written per Dask cluster (Chapter 6).
        pytest_args: arguments added to the gpu-marked tests' pytest command.
    """

    training_steps: int
    inference_batches: tuple[int, ...]
    greeks_options: int | None
    mc_options: int
    mc_paths_cap: int | None
    half_batches: tuple[int, ...]
    half_repeats: int
    basket_steps: int
    datagen_shards: int
    pytest_args: tuple[str, ...]


GPU_SCALE = Scale(
    training_steps=20,
    inference_batches=(1, 1_000, 1_000_000),
    greeks_options=None,
    mc_options=1,
    mc_paths_cap=None,
    half_batches=(1, 1_000, 1_000_000),
    half_repeats=3,
    basket_steps=360,
    datagen_shards=4,
    pytest_args=(),
)

DRY_SCALE = Scale(
    training_steps=3,
    inference_batches=(1, 100, 1_000),
    greeks_options=32,
    mc_options=1,
    mc_paths_cap=2_000,
    half_batches=(1, 100),
    half_repeats=1,
    basket_steps=12,
    datagen_shards=2,
    pytest_args=("--collect-only",),
)

DRY_SIZES = dataclasses.replace(
    config.CPU_SIZES,
    profile="dry run",
    backend="numba",
    example_paths=20_000,
    throughput_options=8,
    throughput_paths=256,
    dataset_paths=1_000,
    train_batch=64,
    train_paths=16,
    hidden=32,
    adjoint_paths=2_000,
    basket_paths=256,
    basket_device="cpu",
    options_per_shard=256,
    shard_paths=16,
)
"""The dry run's sizes: every step's code path on the CPU in a few seconds."""


@dataclasses.dataclass(frozen=True)
class Context:
    """What every step gets: the mode, the sizes and where the repository is.

    Attributes:
        dry_run: the CPU rehearsal (numba for CuPy, torch on the CPU, tiny sizes).
        sizes: ``config.GPU_SIZES``, or ``DRY_SIZES`` in the dry run.
        scale: ``GPU_SCALE`` or ``DRY_SCALE``.
        root: the repository's root.
    """

    dry_run: bool
    sizes: config.Sizes
    scale: Scale
    root: Path = ROOT

    @property
    def device(self) -> str:
        """Where torch runs: ``"cuda"``, or ``"cpu"`` in the dry run."""
        return "cpu" if self.dry_run else "cuda"

    @property
    def backend(self) -> str:
        """The Monte Carlo backend: ``"cupy"``, or ``"numba"`` in the dry run."""
        return "numba" if self.dry_run else "cupy"


def context(dry_run: bool) -> Context:
    """The context of a real run (article's sizes on the GPU) or of the dry run."""
    if dry_run:
        return Context(True, DRY_SIZES, DRY_SCALE)
    return Context(False, config.GPU_SIZES, GPU_SCALE)


@dataclasses.dataclass(frozen=True)
class Step:
    """One named step.

    Attributes:
        name: its short name in the report (``mc-backends``).
        title: what it measures, and for which chapter or section of ``make bench``.
        cap_s: its wall-time cap on a GPU, seconds (the dry run's is ``DRY_CAP_S``).
        run: ``run(context, cap_s)`` returns the step's Markdown lines.
    """

    name: str
    title: str
    cap_s: float
    run: Callable[[Context, float], list[str]]


DRY_CAP_S = 60.0
"""Each step's cap in the dry run, seconds (a cold Numba cache costs tens of seconds)."""


def _need_cuda(ctx: Context) -> None:
    """Raises ``Skip`` on a real run where CuPy or torch sees no CUDA device (an ``ImportError``
    of CuPy or torch propagates: the runner reports the library as missing)."""
    if ctx.dry_run:
        return
    import cupy
    import torch

    if cupy.cuda.runtime.getDeviceCount() < 1:
        raise Skip("CuPy sees no CUDA device")
    if not torch.cuda.is_available():
        raise Skip(f"this torch ({torch.__version__}) sees no CUDA device")


def _pricer_or_skip() -> Path:
    """The shipped pricer's folder, or ``Skip`` where ``data/pricer.json`` is absent."""
    from ..core.config import DATA_DIR

    if not (DATA_DIR / "pricer.json").exists():
        raise Skip(f"the shipped pricer is absent ({DATA_DIR / 'pricer.json'})")
    return DATA_DIR


def gpu_test_files(root: Path) -> list[str]:
    """The test files, relative to ``root``, that hold a ``@pytest.mark.gpu`` test."""
    return sorted(
        str(path.relative_to(root))
        for path in (root / "tests").glob("test_*.py")
        if "pytest.mark.gpu" in path.read_text(encoding="utf-8")
    )


def _short_summary(output: str) -> tuple[str, list[str]]:
    """pytest's summary line (``12 passed, 2 skipped in 40.1s``), and its ``-ra`` lines and
    ``--durations`` lines (the slowest tests)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    timed = [line for line in lines if re.search(r" in [\d.]+s( \([\d:]+\))?\W*$", line)]
    summary = (timed or lines or ["(no output)"])[-1].strip("= ")
    outcomes = ("SKIPPED", "FAILED", "ERROR", "XFAIL", "XPASS")
    slowest = re.compile(r"^\d+\.\d+s (setup|call|teardown) ")
    return summary, [line for line in lines if line.startswith(outcomes) or slowest.match(line)]


def gpu_tests(ctx: Context, cap_s: float) -> list[str]:
    """The gpu-marked tests: ``pytest -m gpu`` over the test files that hold one, in a child
    process (the dry run only collects them); the report keeps pytest's summary line, its skip
    and failure lines and its five slowest tests, or on a timeout the last lines it printed
    (which file it was in).

    A test module or a test that fails only because a library is missing here is reported as
    skipped by ``helpers.gpu_check.plugin``; any other collection error, failure or error
    fails the step. The child gets at most ``cap_s`` seconds.
    """
    files = gpu_test_files(ctx.root)
    if not files:
        raise Skip("no test file holds a gpu-marked test")
    options = "-m gpu -p no:cacheprovider -p helpers.gpu_check.plugin --durations=5"
    command = [sys.executable, "-m", "pytest", *files, *options.split(),
               "--continue-on-collection-errors", *ctx.scale.pytest_args]  # fmt: skip
    paths = [str(ctx.root), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = os.environ | {"PYTHONPATH": os.pathsep.join(paths)}
    shown = "pytest " + " ".join(command[3:])
    timeout = max(1.0, cap_s - 2.0)  # before the step's own alarm: keep pytest's output
    try:
        done = subprocess.run(command, cwd=ctx.root, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
    except subprocess.TimeoutExpired as expired:
        printed = expired.stdout or ""
        printed = printed.decode(errors="replace") if isinstance(printed, bytes) else printed
        tail = ["```", *printed.strip().splitlines()[-20:], "```"]
        raise StepTimeout(f"pytest ran past {timeout:.0f} s", [f"`{shown}`", "", *tail]) from None
    summary, outcomes = _short_summary(done.stdout)
    lines = [f"`{shown}`", "", f"Result: `{summary}` (exit status {done.returncode}).", ""]
    lines += [f"- `{line}`" for line in outcomes]
    if not ctx.dry_run and " passed" not in summary:
        lines += ["", "No gpu-marked test passed on this GPU: see the skip reasons above."]
    if done.returncode not in (0, 5):  # 5: nothing collected
        tail = (done.stdout + done.stderr).strip().splitlines()[-40:]
        raise Failed(f"pytest exited with {done.returncode}", [*lines, "", "```", *tail, "```"])
    return lines


def mc_backends(ctx: Context, cap_s: float) -> list[str]:
    """``make bench``'s GPU backends (Chapter 1): ``time_backend`` on ``cupy`` and
    ``numba-cuda`` at ``workload``'s sizes, and the cupy rate against ``GPU_TARGET``."""
    _need_cuda(ctx)
    from ..benchmark import mc as bench_mc
    from ..mc import available_backends

    usable = available_backends()
    names = ["numba"] if ctx.dry_run else ["cupy", "numba-cuda"]
    lines = [
        "| backend | options | paths | steps | seconds | path-steps/s |",
        "|---|---|---|---|---|---|",
    ]
    problems, rates = [], {}
    for name in names:
        if name not in usable:
            problems.append(f"{name} is not usable here")
            continue
        try:
            t = bench_mc.time_backend(name, *bench_mc.workload(name, ctx.sizes))
        except Exception as error:  # one backend's failure must not hide the other's figures
            problems.append(f"{name} failed: {type(error).__name__}: {error}")
            continue
        rates[name] = t.path_steps_per_second
        lines.append(
            f"| {name} | {t.options:,} | {t.paths:,} | {t.steps} | {t.seconds:.4f}"
            f" | {t.path_steps_per_second:.3g} |"
        )
    lines.append("")
    lines.append("Best of 3 after a warm-up call (compilation not timed); Asian options (B = 0).")
    if "cupy" in rates:
        verdict = "met" if rates["cupy"] >= bench_mc.GPU_TARGET else "MISSED"
        lines += [
            "",
            f"The course's GPU target: cupy (in-kernel Philox) at least {bench_mc.GPU_TARGET:.0e}"
            f" path-steps/s on an H100: {rates['cupy']:.3g}, {verdict}.",
        ]
    if problems:
        raise Failed("; ".join(problems), lines)
    return lines


def mc_example(ctx: Context, cap_s: float) -> list[str]:
    """Chapter 1's example: the article's Monte Carlo example at ``example_paths`` (2,048,000
    on the GPU), timed after a warm-up call, against the article's prices in standard errors."""
    _need_cuda(ctx)
    from ..core.domain import ARTICLE_MC_EXAMPLE, ARTICLE_MC_PRICES
    from ..mc import price_options

    n_paths = ctx.sizes.example_paths
    price_options(ARTICLE_MC_EXAMPLE, 1_000, backend=ctx.backend)  # warm-up: compiles, loads
    start = time.perf_counter()
    res = price_options(ARTICLE_MC_EXAMPLE, n_paths, seed=2024, backend=ctx.backend)
    seconds = time.perf_counter() - start
    rate = len(ARTICLE_MC_EXAMPLE) * n_paths * 365 / seconds
    lines = [
        f"{len(ARTICLE_MC_EXAMPLE)} options x {n_paths:,} paths x 365 steps on {res.backend}:"
        f" {seconds:.4f} s ({rate:.3g} path-steps/s; the article's: 0.0139 s on a V100)."
    ]
    for price, se, theirs in zip(res.price, res.stderr, ARTICLE_MC_PRICES, strict=True):
        lines.append(
            f"- {price:.4f} ± {se:.4f}; article {theirs:.4f},"
            f" {(price - theirs) / se:+.1f} standard errors"
        )
    return lines


def article_kernel(ctx: Context, cap_s: float) -> list[str]:
    """The article's launch split into drawing its normals and pricing (``make bench``'s
    ``article_kernel`` at ``workload("cupy-article")``, and Chapter 1's at its example)."""
    if ctx.dry_run:
        raise Skip("the article's kernel draws its normals with CuPy: GPU only")
    _need_cuda(ctx)
    from ..benchmark import mc as bench_mc

    X, paths = bench_mc.workload("cupy-article", ctx.sizes)
    lines = bench_mc.article_kernel_lines(bench_mc.time_article_kernel(len(X), paths))
    example = bench_mc.time_article_kernel(2, ctx.sizes.example_paths)
    return [*lines, "", *bench_mc.article_kernel_lines(example)]


def dataset(ctx: Context, cap_s: float) -> list[str]:
    """Chapter 2's labelling rate: ``time_dataset`` (``make bench``'s ``dataset``) at the
    training batch, on the GPU's CuPy kernel and DLPack hand-over."""
    _need_cuda(ctx)
    from ..benchmark.data import time_dataset

    d = time_dataset(ctx.sizes)
    return [
        f"OptionDataSet on {d['device']}, {d['batch']:,} options x {d['paths']:,} paths per"
        f" item: {d['items_per_second']:.2f} items/s, {d['options_per_second']:,.0f}"
        f" options/s, {d['path_steps_per_second']:.3g} path-steps/s."
    ]


def training_step(ctx: Context, cap_s: float) -> list[str]:
    """Chapter 4's training step in float32 and mixed precision: ``time_precisions`` (``make
    bench``'s ``training_step``) at the article's batch and width."""
    _need_cuda(ctx)
    from ..benchmark import training

    t = training.time_precisions(ctx.sizes, steps=ctx.scale.training_steps)
    return training.lines({"training_step": t})[2:]


def adjoint_greeks(ctx: Context, cap_s: float) -> list[str]:
    """Chapter 8 on the GPU: the survival estimator's price, price and six Greeks, and with
    gamma, on the article's options at ``adjoint_paths``, and the cost ratio R against
    ``ADJOINT_TARGET`` (best of 3 after a warm-up)."""
    _need_cuda(ctx)
    from ..benchmark.adjoint import ADJOINT_TARGET
    from ..benchmark.common import best_seconds
    from ..core.domain import ARTICLE_MC_EXAMPLE
    from ..mc import price_options

    X, n, b = ARTICLE_MC_EXAMPLE, ctx.sizes.adjoint_paths, ctx.backend
    seconds = {
        "price": best_seconds(lambda: price_options(X, n, seed=1, method="survival", backend=b), 3),
        "price + 6 Greeks": best_seconds(
            lambda: price_options(X, n, seed=1, greeks=True, gamma=False, backend=b), 3
        ),
        "price + 6 Greeks + gamma": best_seconds(
            lambda: price_options(X, n, seed=1, greeks=True, backend=b), 3
        ),
    }
    R = seconds["price + 6 Greeks"] / seconds["price"]
    verdict = "met" if R <= ADJOINT_TARGET else "MISSED"
    return [
        f"Survival estimator on {b}, {len(X)} options x {n:,} paths x 365 steps:",
        "",
        "| what | seconds | / price |",
        "|---|---|---|",
        *(f"| {k} | {v:.4f} | {v / seconds['price']:.2f} |" for k, v in seconds.items()),
        "",
        "The course's target: R = time(price + 6 Greeks) / time(price), both by the survival"
        f" estimator, at most {ADJOINT_TARGET}:"
        f" {R:.2f}, {verdict}.",
    ]


def inference(ctx: Context, cap_s: float) -> list[str]:
    """Chapter 7's inference: the shipped pricer's options per second at batches of 1, 1,000
    and 1,000,000 (``network_rates``), its Greeks, and Monte Carlo at the paths whose standard
    error equals the network's test MAE (``equal_accuracy_paths``)."""
    _need_cuda(ctx)
    folder = _pricer_or_skip()
    from ..benchmark.common import best_seconds
    from ..benchmark.inference import equal_accuracy_paths, network_rates
    from ..data.test_set import load_test_set
    from ..inference import sensitivities as greeks
    from ..mc import price_options
    from ..networks.loading import load_pretrained

    model = load_pretrained(ctx.device)
    X = load_test_set(folder)[0]
    mae, matched = equal_accuracy_paths(model)
    rates = network_rates(model, X, ctx.scale.inference_batches)
    X_greeks = X[: ctx.scale.greeks_options]
    greeks_rate = len(X_greeks) / best_seconds(lambda: greeks.greeks(model, X_greeks), 3)
    cap = ctx.scale.mc_paths_cap
    paths = matched if cap is None else min(cap, matched)
    sample = X[: ctx.scale.mc_options]
    price_options(sample[:1], 16, seed=3, backend=ctx.backend)  # warm-up: compiles, loads
    mc_seconds = best_seconds(
        lambda: price_options(sample, paths, seed=3, backend=ctx.backend), 1, warm_up=False
    )
    mc_rate = len(sample) / mc_seconds * paths / matched  # options/s at the matching paths
    shown = ", ".join(f"batch {int(b):,}: {r:,.0f}" for b, r in rates.items())
    scaled = "" if paths == matched else f" (timed at {paths:,} paths, scaled to {matched:,})"
    return [
        f"Network on {ctx.device} (test MAE {mae:.4f}), options per second: {shown}.",
        f"Its Greeks (6 first derivatives and gamma) on {len(X_greeks)} test options:"
        f" {greeks_rate:,.0f} options/s.",
        f"Monte Carlo on {ctx.backend} at the matching {matched:,} paths per option,"
        f" {len(sample)} option(s): {mc_rate:,.2f} options/s{scaled}; the network's best batch"
        f" is {max(rates.values()) / mc_rate:,.0f}x faster at equal accuracy.",
    ]


def half_precision(ctx: Context, cap_s: float) -> list[str]:
    """Chapter 12's GPU rows (``make bench``'s ``quantized`` on a GPU): the shipped pricer in
    float32, float16 and bfloat16 autocast on the device (``device_candidates``), measured by
    ``compare`` on the test set. No ONNX file is written, so it runs without ``onnx``."""
    _need_cuda(ctx)
    folder = _pricer_or_skip()
    from ..data.test_set import load_test_set
    from ..inference.export.comparison import compare, device_candidates
    from ..networks.loading import load_pretrained

    X, y, _ = load_test_set(folder)
    found = device_candidates(load_pretrained(), ctx.device)
    batches = ctx.scale.half_batches
    rows = compare(found, X, y, batches=batches, repeats=ctx.scale.half_repeats)
    lines = [
        "| way | test MAE | mean difference from float32 | "
        + " | ".join(f"options/s, batch {b:,}" for b in batches)
        + " |",
        "|---|---|---|" + "---|" * len(batches),
    ]
    for r in rows:
        speeds = " | ".join(f"{r['per_second'][b]:,.0f}" for b in batches)
        lines.append(f"| {r['name']} | {r['mae']:.4f} | {r['vs_float32']:.2e} | {speeds} |")
    return lines


def basket(ctx: Context, cap_s: float) -> list[str]:
    """Chapter 11 on the GPU: the FX basket's torch engine on the device at ``basket_paths``
    (100,000 on a GPU), the price alone and the price with its whole gradient, after a small
    warm-up, beside NAG's K20X figures."""
    _need_cuda(ctx)
    from ..localvol import load_market, price_basket
    from ..localvol.timing import NAG_SECONDS, input_counts

    market = load_market()
    n_paths, n_steps = ctx.sizes.basket_paths, ctx.scale.basket_steps

    def run(gradient: bool):
        return price_basket(
            market,
            n_paths=n_paths,
            n_steps=n_steps,
            gradient=gradient,
            engine="torch",
            device=ctx.device,
        )

    warm = {"n_paths": min(512, n_paths), "n_steps": min(12, n_steps)}
    price_basket(market, **warm, engine="torch", device=ctx.device)  # warm-up: first calls
    timed = {}
    for gradient in (False, True):
        start = time.perf_counter()
        result = run(gradient)
        timed[gradient] = time.perf_counter() - start
    n_inputs = sum(input_counts(market).values())
    return [
        f"Torch engine on {ctx.device}, {market.n_assets} pairs, {n_paths:,} paths x {n_steps}"
        f" steps: price {result.price:.6f} ± {result.stderr:.6f}.",
        f"Price alone {timed[False]:.3f} s; price and its whole gradient ({n_inputs} entries)"
        f" {timed[True]:.3f} s, R = {timed[True] / timed[False]:.2f}. NAG (K20X, 10,000 paths,"
        f" 360 steps): {NAG_SECONDS['forward']} s and {NAG_SECONDS['gradient']} s.",
    ]


def datagen(ctx: Context, cap_s: float) -> list[str]:
    """Chapter 6's datasets on disk on the GPU: ``time_datagen`` (``make bench``'s
    ``datagen``) with one Dask worker per GPU (``dask_cuda.LocalCUDACluster``). The dry run
    checks the imports only: starting a cluster takes longer than the whole dry run should."""
    import dask.distributed  # noqa: F401  (ImportError: the runner reports it missing)

    if ctx.dry_run:
        raise Skip("dry run: Dask imports, but its cluster is not started on the CPU")
    _need_cuda(ctx)
    import dask_cuda  # noqa: F401

    from ..benchmark.data import time_datagen

    with tempfile.TemporaryDirectory() as folder:
        d = time_datagen(ctx.sizes, Path(folder), shards=ctx.scale.datagen_shards)
    return [
        f"{d['shards']} shards x {d['options_per_shard']:,} options x {d['paths']:,} paths,"
        f" whole generate_dataset() call with the cluster's start: {d['options_per_second_1']:,.0f}"
        f" options/s (second run {d['options_per_second_2']:,.0f})."
    ]


STEPS = (
    Step("gpu-tests", "the gpu-marked tests (pytest -m gpu)", 120.0, gpu_tests),
    Step(
        "mc-backends", "Monte Carlo backends on the GPU (make bench, Chapter 1)", 45.0, mc_backends
    ),
    Step(
        "mc-example",
        "the article's Monte Carlo example at 2,048,000 paths (Chapter 1)",
        20.0,
        mc_example,
    ),
    Step(
        "article-kernel",
        "the article's launch: normals, then pricing (make bench)",
        30.0,
        article_kernel,
    ),
    Step("dataset", "streaming dataset's labelling rate (make bench, Chapter 2)", 20.0, dataset),
    Step(
        "training-step",
        "training step, float32 and mixed (make bench, Chapter 4)",
        40.0,
        training_step,
    ),
    Step("adjoint-greeks", "adjoint Greeks on the GPU (Chapter 8)", 30.0, adjoint_greeks),
    Step("inference", "the shipped pricer's inference (make bench, Chapter 7)", 45.0, inference),
    Step(
        "half-precision",
        "the pricer in float16 and bfloat16 (make bench, Chapter 12)",
        30.0,
        half_precision,
    ),
    Step("basket", "FX basket and its gradient, torch engine (Chapter 11)", 45.0, basket),
    Step("datagen", "datasets on disk with Dask on the GPU (make bench, Chapter 6)", 40.0, datagen),
)
"""Every step, in the order it runs: the tests first (they also fill the kernel caches)."""
