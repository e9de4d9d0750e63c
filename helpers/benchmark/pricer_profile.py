"""Where the shipped pricer's time goes, and the machine's matrix-product ceiling (Chapter 12).

Quantizing a network speeds up its matrix products, and only those. Before quantizing the
shipped pricer (``helpers.networks.residual.ResidualPricer``: Levy's closed form plus a network
that corrects it) a chapter should know what share of its time the network takes, and how close
the network's matrix products already come to what this CPU can do. ``profile_pricer`` times
the pricer's pieces by calling the very functions and sub-modules its ``forward`` calls
(``pricer_pieces``); ``matmul_ceiling`` measures a large square matrix product in float32 and
bfloat16 on the same threads.

Example:
    >>> from helpers.networks.loading import load_pretrained
    >>> from helpers.data.test_set import load_test_set
    >>> from helpers.core.config import DATA_DIR
    >>> profile = profile_pricer(load_pretrained(), load_test_set(DATA_DIR)[0], batches=(1, 64))
    >>> sorted(profile["batches"])
    ['1', '64']
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..core.validate import check_integer, check_real
from ..mc.moments import levy_price
from ..networks.homogeneous import HomogeneousPricer, extra_input_columns
from ..networks.residual import ResidualPricer
from .common import best_seconds

SINGLE_RUN_ROWS = 100_000
"""Batches above this many options are timed once after the warm-up, not best of ``repeats``."""

MATMUL_CALL_SECONDS = 10.0
"""``matmul_ceiling`` shrinks a dtype's matrices when one product at the asked size would take
longer than this (a bfloat16 product on a CPU with no bfloat16 instructions can be a hundred
times slower than float32's)."""


@dataclass(frozen=True)
class PricerPieces:
    """The pieces of a pricer's ``forward``, each the very function or sub-module it calls.

    For a ``ResidualPricer``, ``forward(x)`` is ``max(closed_form(x) + level * network(h), 0)``
    with ``h = network_inputs(x)`` and ``level = K + S0`` (``HomogeneousPricer.forward``); the
    level, the sum and the floor are a few elementwise operations written inline in the two
    ``forward`` methods, so they are no piece.

    Attributes:
        closed_form: ``levy_price(x, T, n_steps)`` with the pricer's ``T`` and ``n_steps``:
            ``(..., 6)`` options to ``(...)`` prices; ``None`` for a ``HomogeneousPricer``.
        extra_inputs: ``extra_input_columns(x, names)`` with the pricer's names: ``(..., 6)`` to
            ``(..., len(names))``; ``None`` when it has none.
        network_inputs: everything ``HomogeneousPricer.forward`` computes from the six columns
            before its network (the ratios ``K / (K + S0)`` and ``B / (K + S0)``, the scaled
            ``sigma, mu, r``, the extra inputs, joined): ``(..., 6)`` to ``(..., width)``. It
            runs that ``forward`` itself and stops it where the network is called, so nothing of
            it is written twice.
        network: the MLP (``HomogeneousPricer.body``, an ``nn.Sequential``): ``(..., width)`` to
            ``(..., 1)``.
        layers: the network cut after each ``nn.Linear`` and the modules that follow it (its
            activation): one ``nn.Sequential`` of the network's own modules per linear layer.
    """

    closed_form: Callable[[torch.Tensor], torch.Tensor] | None
    extra_inputs: Callable[[torch.Tensor], torch.Tensor] | None
    network_inputs: Callable[[torch.Tensor], torch.Tensor]
    network: nn.Sequential
    layers: tuple[nn.Sequential, ...]

    @property
    def flop_per_option(self) -> int:
        """The network's floating-point operations per option: ``2 * in * out`` per linear
        layer, summed (biases and activations not counted)."""
        return sum(2 * lin.in_features * lin.out_features for lin in self.linears)

    @property
    def linears(self) -> list[nn.Linear]:
        """The network's linear layers, in order."""
        return [m for m in self.network if isinstance(m, nn.Linear)]


def pricer_pieces(model: nn.Module) -> PricerPieces:
    """The pieces of ``model.forward`` (``PricerPieces``), for timing them one by one.

    Example:
        >>> pricer = ResidualPricer(hidden=16, layers=2, extra_inputs=["barrier_distance"])
        >>> pieces = pricer_pieces(pricer)
        >>> [tuple(layer[0].weight.shape) for layer in pieces.layers]
        [(16, 6), (16, 16), (1, 16)]
        >>> pieces.flop_per_option  # 2 (6 * 16 + 16 * 16 + 16 * 1)
        736
        >>> pieces.network_inputs(torch.ones(3, 6)).shape
        torch.Size([3, 6])

    Args:
        model: a ``ResidualPricer`` (the shipped pricer) or a ``HomogeneousPricer``.

    Raises:
        ValueError: another kind of model (the article's ``Net`` has no such pieces).
    """
    if isinstance(model, ResidualPricer):
        homogeneous = model.residual
        closed_form = functools.partial(levy_price, T=model.T, n_steps=model.n_steps)
    elif isinstance(model, HomogeneousPricer):
        homogeneous, closed_form = model, None
    else:
        raise ValueError(
            f"model: a ResidualPricer or a HomogeneousPricer, not a {type(model).__name__}"
        )
    names = homogeneous.extra_inputs
    extra = functools.partial(extra_input_columns, names=names) if names else None
    layers: list[list[nn.Module]] = []
    for module in homogeneous.body:
        if isinstance(module, nn.Linear) or not layers:
            layers.append([])
        layers[-1].append(module)
    return PricerPieces(
        closed_form=closed_form,
        extra_inputs=extra,
        network_inputs=homogeneous.network_inputs,
        network=homogeneous.body,
        layers=tuple(nn.Sequential(*group) for group in layers),
    )


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[int]:
    """While open, PyTorch's intra-op threads are ``threads`` (unchanged when ``None``);
    restored on leaving. Yields the number in use."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_integer("threads", threads, low=1))
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _seconds(run: Callable[[], object], repeats: int) -> float:
    """Best of ``repeats`` runs of ``run`` after a warm-up, without autograd."""

    def timed() -> None:
        with torch.no_grad():
            run()

    return best_seconds(timed, repeats)


def profile_pricer(
    model: nn.Module,
    X: np.ndarray,
    batches: Sequence[int] = (1, 1_000, 1_000_000),
    threads: int | None = None,
    repeats: int = 3,
    *,
    seed: int = 0,
) -> dict:
    """Wall time of the pricer and of each of its pieces, by batch size, on the CPU.

    For each batch size, ``batch`` options are drawn with replacement from ``X`` (one
    ``numpy`` generator seeded with ``seed`` for all batches) as a float32 tensor on the
    model's device (the CPU: the clock does not wait for a GPU). Each of the following is
    timed best of ``repeats`` after a warm-up (once above ``SINGLE_RUN_ROWS`` options) under
    ``torch.no_grad()`` (``pricer_pieces`` says what each piece is):

    - ``whole_s``: ``model(x)``;
    - ``closed_form_s``: Levy's closed form (``None`` for a pricer without one);
    - ``extra_inputs_s``: everything the pricer computes from the six columns before its
      network (ratios, scaled parameters and the extra inputs, joined);
    - ``extra_input_columns_s``: the extra inputs named in the architecture alone
      (``extra_input_columns``; ``None`` without any), a part of ``extra_inputs_s``;
    - ``network_s``: the MLP on its actual inputs;
    - ``layers_s``: each linear layer with its activation, on its actual inputs (the previous
      layer's outputs).

    The level ``K + S0``, the sum and the floor at zero are not timed alone: the difference
    between ``whole_s`` and the pieces' sum is theirs, plus the noise of the clock.

    Args:
        model: the pricer, a ``ResidualPricer`` or ``HomogeneousPricer`` on the CPU.
        X: options to draw from, shape ``(n, 6)``, columns ``helpers.core.domain.COLUMNS``.
        batches: batch sizes, each ``>= 1``.
        threads: PyTorch's threads while timing (restored after); ``None`` keeps the current.
        repeats: timed runs per measurement, ``>= 1``.
        seed: seed of the draw.

    Returns:
        A JSON-ready ``dict``: ``threads`` (in use), ``repeats``, ``flop_per_option`` (the
        network's, ``2 * in * out`` per linear layer), ``layers`` (``[in, out, activation]`` per
        linear layer) and ``batches``: ``{str(batch): {"whole_s", "closed_form_s", "extra_inputs_s",
        "extra_input_columns_s", "network_s", "layers_s", "network_gflops", "flop_per_option",
        "repeats"}}``, times in seconds, ``network_gflops`` the network's floating-point work
        over ``network_s`` in 1e9 operations per second.

    Raises:
        ValueError: ``X`` not of shape ``(n, 6)`` with ``n >= 1``, a batch or ``repeats``
            below 1, a model on a GPU or of another kind (``pricer_pieces``).
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 6 or len(X) == 0:
        raise ValueError(f"X: options of shape (n, 6) with n >= 1, not {X.shape}")
    batches = [check_integer("batches", b, low=1) for b in batches]
    repeats = check_integer("repeats", repeats, low=1)
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"model: on the CPU for this profile, not on {device}")
    pieces = pricer_pieces(model)
    flop = pieces.flop_per_option
    rng = np.random.default_rng(seed)
    result: dict = {
        "flop_per_option": flop,
        "layers": [
            [
                layer[0].in_features,
                layer[0].out_features,
                " ".join(type(m).__name__ for m in layer[1:]) or "none",
            ]
            for layer in pieces.layers
        ],
        "repeats": repeats,
        "batches": {},
    }
    with torch_threads(threads) as in_use:
        result["threads"] = in_use
        for batch in batches:
            n_runs = repeats if batch <= SINGLE_RUN_ROWS else 1
            x = torch.as_tensor(X[rng.integers(0, len(X), batch)], dtype=torch.float32)
            row = {"repeats": n_runs, "whole_s": _seconds(lambda x=x: model(x), n_runs)}
            row["closed_form_s"] = (
                None if pieces.closed_form is None
                else _seconds(lambda x=x: pieces.closed_form(x), n_runs)
            )  # fmt: skip
            row["extra_inputs_s"] = _seconds(lambda x=x: pieces.network_inputs(x), n_runs)
            row["extra_input_columns_s"] = (
                None if pieces.extra_inputs is None
                else _seconds(lambda x=x: pieces.extra_inputs(x), n_runs)
            )  # fmt: skip
            with torch.no_grad():
                h = pieces.network_inputs(x)
            row["network_s"] = _seconds(lambda h=h: pieces.network(h), n_runs)
            row["layers_s"] = []
            for layer in pieces.layers:
                row["layers_s"].append(_seconds(lambda h=h, layer=layer: layer(h), n_runs))
                with torch.no_grad():
                    h = layer(h)  # the next layer's actual input; one activation held at a time
            del h
            row["flop_per_option"] = flop
            row["network_gflops"] = flop * batch / row["network_s"] / 1e9
            result["batches"][str(batch)] = row
    return result


def _matmul_seconds(n: int, dtype: torch.dtype, repeats: int, warm_up: bool = True) -> float:
    generator = torch.Generator().manual_seed(n)
    a = torch.randn(n, n, generator=generator).to(dtype)
    b = torch.randn(n, n, generator=generator).to(dtype)
    c = torch.empty(n, n, dtype=dtype)
    return best_seconds(lambda: torch.matmul(a, b, out=c), repeats, warm_up)


PROBE_SIZE = 512
"""``matmul_ceiling`` first times one product of this size, to size the real one."""


def matmul_ceiling(
    n: int = 4096,
    dtypes: Sequence[str] = ("float32", "bfloat16"),
    threads: int | None = None,
    repeats: int = 3,
    *,
    max_call_s: float = MATMUL_CALL_SECONDS,
) -> dict:
    """The CPU's matrix-product rate: GFLOP/s of an ``n x n`` by ``n x n`` ``torch.matmul``.

    Each dtype's product (``2 n^3`` floating-point operations, into a preallocated output) is
    timed best of ``repeats`` after a warm-up, on ``threads`` PyTorch threads. A product of
    ``PROBE_SIZE`` is timed first; where it says one product at ``n`` would take more than
    ``max_call_s`` (bfloat16 without bfloat16 instructions, where PyTorch may fall back to a
    slow path), that dtype is measured at the largest multiple of 64 below ``n`` that fits,
    and ``n_by_dtype`` says so. A dtype whose product fails gets NaN and its error in
    ``errors``.

    Args:
        n: matrix size, ``>= 1``.
        dtypes: names of ``torch`` dtypes (``"float32"``, ``"bfloat16"``, ``"float16"``...).
        threads: PyTorch's threads while timing (restored after); ``None`` keeps the current.
        repeats: timed runs per dtype, ``>= 1``.
        max_call_s: seconds one product may take before the size is cut, ``> 0``.

    Returns:
        ``{dtype: GFLOP/s for each of dtypes, "n": n, "threads": threads in use, "repeats":
        repeats, "n_by_dtype": {dtype: size measured}}``, and ``"errors": {dtype: message}`` when a
        product failed.

    Raises:
        ValueError: ``n`` or ``repeats`` below 1, an unknown dtype name, ``max_call_s`` not
            positive.
    """
    n = check_integer("n", n, low=1)
    repeats = check_integer("repeats", repeats, low=1)
    max_call_s = check_real("max_call_s", max_call_s, low=0.0, low_open=True, unit="seconds")
    resolved = {}
    for name in dtypes:
        dtype = getattr(torch, str(name), None)
        if not isinstance(dtype, torch.dtype):
            raise ValueError(f"dtypes: {name!r} is not a torch dtype name")
        resolved[str(name)] = dtype
    result: dict = {"n": n, "repeats": repeats, "n_by_dtype": {}}
    errors = {}
    with torch_threads(threads) as in_use:
        result["threads"] = in_use
        for name, dtype in resolved.items():
            try:
                size = n
                probe = min(n, PROBE_SIZE)
                probe_s = _matmul_seconds(probe, dtype, 1)
                if probe_s * (n / probe) ** 3 > max_call_s:
                    size = int(probe * (max_call_s / probe_s) ** (1 / 3)) // 64 * 64
                    size = max(min(size, n), probe)
                seconds = _matmul_seconds(size, dtype, repeats)
                result[name] = 2.0 * size**3 / seconds / 1e9
                result["n_by_dtype"][name] = size
            except RuntimeError as error:  # no kernel for this dtype on this CPU
                result[name] = math.nan
                errors[name] = str(error).splitlines()[0]
    if errors:
        result["errors"] = errors
    return result


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else 1e3 * seconds


def profile_table(profile: dict, ceiling: dict):
    """``profile_pricer``'s and ``matmul_ceiling``'s results as one table, a row per batch.

    Columns: the batch, the whole pricer's time, the closed form's and its share of the whole,
    the extra inputs' (everything computed before the network), the network's, the network's
    GFLOP/s and its share of the float32 matrix-product ceiling. Times in milliseconds; a piece
    the pricer lacks shows as a dash.

    Returns:
        An ``IPython.display.Markdown`` table (``helpers.core.report.table``).
    """
    from ..core.report import table

    ceiling_gflops = ceiling.get("float32", math.nan)
    rows = []
    for batch, row in profile["batches"].items():
        closed = row["closed_form_s"]
        rows.append([
            int(batch),
            _ms(row["whole_s"]),
            _ms(closed),
            None if closed is None else 100.0 * closed / row["whole_s"],
            _ms(row["extra_inputs_s"]),
            _ms(row["network_s"]),
            row["network_gflops"],
            100.0 * row["network_gflops"] / ceiling_gflops,
        ])  # fmt: skip
    columns = ["batch", "whole ms", "closed form ms", "closed form % of whole",
               "extra inputs ms", "network ms", "network GFLOP/s",
               "% of float32 ceiling"]  # fmt: skip
    formats = {"batch": "{:,}", "whole ms": "{:,.3f}", "closed form ms": "{:,.3f}",
               "closed form % of whole": "{:.0f}", "extra inputs ms": "{:,.3f}",
               "network ms": "{:,.3f}", "network GFLOP/s": "{:,.2f}",
               "% of float32 ceiling": "{:.1f}"}  # fmt: skip
    return table(rows, columns, formats)


def _threads(n: int) -> str:
    return "1 PyTorch thread" if n == 1 else f"{n} PyTorch threads"


def _ceiling_line(ceiling: dict) -> str:
    rates = []
    for name, size in ceiling.get("n_by_dtype", {}).items():
        rate = ceiling[name]
        shown = "failed" if math.isnan(rate) else f"{rate:,.1f} GFLOP/s"
        at = "" if size == ceiling["n"] else f" (measured at n = {size:,}: too slow at n)"
        rates.append(f"{name} {shown}{at}")
    return (
        f"Matrix-product ceiling on the same {_threads(ceiling['threads'])} (`torch.matmul`,"
        f" n x n by n x n, n = {ceiling['n']:,}, best of {ceiling.get('repeats', 3)} after a"
        " warm-up): " + "; ".join(rates) + "."
    )


NETWORK_SHARE_GOAL = 0.30
"""The course's goal for the network at the largest batch: this share of the float32
matrix-product ceiling of the same threads."""


def _network_verdict(profile: dict, ceiling: dict) -> str:
    largest = max(profile["batches"], key=int)
    share = profile["batches"][largest]["network_gflops"] / ceiling["float32"]
    verdict = "met" if share >= NETWORK_SHARE_GOAL else "MISSED"
    return (
        f"The network at a batch of {int(largest):,}: {share:.0%} of the float32 ceiling;"
        f" the course's goal {NETWORK_SHARE_GOAL:.0%}: {verdict}."
    )


def profile_lines(result: dict, *, heading: str = "###") -> list[str]:
    """The pricer's profile as a Markdown section of ``bench/results.md``.

    Args:
        result: ``measure``'s ``{"profile": ..., "ceiling": ...}`` (``"machine"`` optional).
        heading: the section's heading marks (the benchmark's topic modules write ``"##"``,
            which ``helpers.benchmark.runner`` turns into ``"###"`` on the page).

    Returns:
        The section's lines: heading, what was timed, the table, the ceiling.
    """
    profile, ceiling = result["profile"], result["ceiling"]
    shape = " -> ".join(
        [str(profile["layers"][0][0])] + [str(layer[1]) for layer in profile["layers"]]
    )
    machine = f" on {result['machine']}" if result.get("machine") else ""
    return [
        f"{heading} Where the shipped pricer's time goes (Chapter 12)",
        "",
        f"The shipped pricer, float32, on {_threads(profile['threads'])}{machine}; options"
        " drawn with replacement from the test set, each piece timed alone by calling the"
        f" function or module the pricer's `forward` calls, best of {profile.get('repeats', 3)}"
        " after a warm-up (one run"
        f" above {SINGLE_RUN_ROWS:,} options). Extra inputs: all the pricer computes from the six"
        " columns before its network (ratios, scaled parameters, extra inputs). The network"
        f" ({shape}) does {profile['flop_per_option']:,} floating-point operations per option.",
        "",
        profile_table(profile, ceiling).data,
        "",
        _ceiling_line(ceiling),
        "",
        _network_verdict(profile, ceiling),
    ]


def measure_profile(threads: int | None = None) -> dict:
    """The shipped pricer's profile on the test set's options (batches of 1, 1,000 and
    1,000,000) and the matrix-product ceiling (n = 4096) on the same threads.

    Args:
        threads: PyTorch's threads; ``None`` keeps the current number.

    Returns:
        ``{"profile": profile_pricer(...), "ceiling": matmul_ceiling(...)}``.
    """
    from ..core.config import DATA_DIR
    from ..data.test_set import load_test_set
    from ..networks.loading import load_pretrained

    model = load_pretrained("cpu")
    X = load_test_set(DATA_DIR)[0]
    return {
        "profile": profile_pricer(model, X, threads=threads, repeats=10),
        "ceiling": matmul_ceiling(threads=threads),
    }


def measure(sizes: object = None, anchor_paths: int = 0) -> dict:
    """``results.json``'s ``pricer_profile`` (``make bench``'s topic ``profile``), on all of
    PyTorch's threads; the arguments are the runner's, unused."""
    return {"pricer_profile": measure_profile()}


def lines(result: dict) -> list[str]:
    """The profile's section of ``bench/results.md``."""
    if "pricer_profile" not in result:
        return []
    return profile_lines(result["pricer_profile"], heading="##")
