"""The readable reference for the Monte Carlo Greeks: the estimators in PyTorch, differentiated
by ``torch.autograd`` (Chapter 8).

The same Euler scheme and the same estimators as ``helpers.mc.adjoint``, written over a tensor of
all paths of all options at once, in float64, on the very same random numbers
(``helpers.mc.streams``): for the survival estimator, each step's plain normal ``Z_0``, itself
more than ``FAR`` standard deviations from the barrier, turned into the conditioned draw
``-Phi^-1(Phi(-Z_0) p)`` nearer to it. Every input is a separate leaf per path, so one backward
pass gives every path's derivatives, whose mean is the Greek and whose spread its standard
error. Autograd keeps every intermediate tensor of every step for the backward pass (its
*tape*); ``tape_bytes`` measures it.

``method="plain"`` differentiates the hard knock-out as it stands, for Chapter 8 to show what
that misses: the indicator has no gradient, so the barrier's contribution is lost.
"""

from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from ..core.domain import COLUMNS
from . import streams
from .adjoint import DEFAULT_WIDTH, FAR

METHODS: tuple[str, ...] = ("survival", "smoothed", "plain")


def _paths(params, n_steps: int, T: float, seed: int, method: str, width: float,
           functions: str = "exact"):  # fmt: skip
    """Discounted payoff of every path, shape ``(n, n_paths)``, as a function of ``params``."""
    import torch

    from .lane_special import torch_normal_tails, torch_survival_draw

    n_options, n_paths, _ = params.shape
    K, B, S0, sigma, mu, r = params.unbind(-1)
    dt = T / n_steps
    c = 1.0 + mu * dt
    vol = sigma * math.sqrt(dt)
    normals = torch.from_numpy(streams.normals(n_options, n_paths, n_steps, seed)).double()
    s, S = S0, torch.zeros_like(S0)
    log_weight = torch.zeros_like(S0)
    alive = torch.ones_like(S0, dtype=torch.bool)
    for n in range(n_steps):
        z0 = normals[:, :, n]
        if method == "survival":
            a = ((n + 1) * B - S - s * c) / (s * vol)  # survive iff Z > a
            far = a < -FAR  # survival certain in float64: Z_0 itself, as in the kernels
        if method == "survival" and functions == "lanes":  # the block kernel's approximations
            v, v_c = torch_normal_tails(z0)
            z, p, log_p = torch_survival_draw(v, v_c, a)
            alive = alive & (p > 0.0)
        elif method == "survival":
            # log_ndtr: torch.special.ndtr loses the lower tail (2% off at -8, 0 below -9.5)
            log_p = torch.special.log_ndtr(-a)
            impossible = log_p < -700.0  # p = 0 in float64: the path dies, as in the kernel
            alive = alive & ~impossible
            log_p = torch.where(impossible, torch.zeros_like(log_p), log_p)
            v = torch.exp(torch.special.log_ndtr(-z0))  # V = Phi(-Z_0)
            q = v * torch.exp(log_p)
            q_c = torch.exp(torch.special.log_ndtr(z0)) + v * torch.exp(torch.special.log_ndtr(a))
            lower = q < 0.5  # Z | Z > a: -Phi^-1(q), from 1 - q above 1/2
            z = torch.where(
                lower,
                -torch.special.ndtri(torch.where(lower, q, 0.5)),
                torch.special.ndtri(torch.where(lower, 0.5, q_c)),
            )
        else:
            z = z0
        if method == "survival":
            z = torch.where(far, z0, z)
            log_weight = log_weight + torch.where(far, torch.zeros_like(log_p), log_p)
        s = s * (c + vol * z)
        S = S + s
        if method == "smoothed":
            d = (S - (n + 1) * B) / ((n + 1) * width * B)
            log_weight = log_weight + torch.nn.functional.logsigmoid(d)
        elif method == "plain":
            alive = alive & (S > (n + 1) * B)  # a step function: no gradient flows through it
    payoff = torch.exp(-r * T + log_weight) * torch.relu(S / n_steps - K)
    return torch.where(alive, payoff, torch.zeros_like(payoff))


def price_and_greeks(
    X: object,
    n_paths: int,
    n_steps: int = 365,
    T: float = 1.0,
    seed: int = 0,
    method: str = "survival",
    width: float = DEFAULT_WIDTH,
    functions: str = "exact",
) -> dict[str, np.ndarray | dict[str, np.ndarray]]:
    """Price and the six first-order Greeks of each option, by autograd through its paths.

    Args:
        X: options, shape ``(n, 6)``, columns ``helpers.core.domain.COLUMNS``, with ``sigma > 0``,
            ``S0 > 0`` and, for ``"smoothed"``, ``B > 0``.
        n_paths, n_steps, T, seed: as in ``helpers.mc.price_options``.
        method: ``"survival"``, ``"smoothed"`` or ``"plain"`` (the hard knock-out, whose
            pathwise Greeks miss the barrier).
        width: the smoothed knock-out's width, a fraction of ``B``.
        functions: for ``"survival"``, the normal distribution and its inverse as PyTorch
            computes them (``"exact"``: ``log_ndtr``, ``ndtri``, as ``helpers.mc.adjoint``'s
            one-path kernel does) or as the block kernel approximates them (``"lanes"``:
            ``helpers.mc.lane_special``), so that autograd differentiates those approximations.

    Returns:
        ``{"price", "stderr", "greeks", "greeks_stderr"}``: arrays of shape ``(n,)``; the
        Greeks are dicts keyed by ``COLUMNS``.

    Raises:
        ValueError: an unknown method, a non-positive width, or an input outside the above.
    """
    import torch

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: choose one of {list(METHODS)}")
    if functions not in ("exact", "lanes"):
        raise ValueError(f"functions must be 'exact' or 'lanes', got {functions!r}")
    if not width > 0.0:
        raise ValueError(f"width must be > 0 (a fraction of the barrier), got {width!r}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(COLUMNS):
        raise ValueError(f"X must have shape (n, 6), got {X.shape}")
    for name in ("S0", "sigma") + (("B",) if method == "smoothed" else ()):
        col = COLUMNS.index(name)
        if not (X[:, col] > 0).all():
            raise ValueError(f"the autograd reference needs {name} > 0 in every row")
    params = torch.tensor(X)[:, None, :].repeat(1, n_paths, 1).requires_grad_(True)
    payoff = _paths(params, n_steps, T, seed, method, width, functions)
    (grads,) = torch.autograd.grad(payoff.sum(), params)
    payoff, grads = payoff.detach().numpy(), grads.numpy()

    def mean_se(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return v.mean(axis=1), v.std(axis=1, ddof=1) / math.sqrt(n_paths)

    price, stderr = mean_se(payoff)
    greeks, greeks_stderr = {}, {}
    for j, name in enumerate(COLUMNS):
        greeks[name], greeks_stderr[name] = mean_se(grads[:, :, j])
    return {"price": price, "stderr": stderr, "greeks": greeks, "greeks_stderr": greeks_stderr}


@contextmanager
def tape_bytes():
    """Counts the bytes autograd saves for the backward pass inside the ``with`` block.

    Each distinct tensor storage saved by an operation is counted once; the count is read from
    the yielded one-element list after the block.

    Example:
        >>> with tape_bytes() as saved:
        ...     result = price_and_greeks([[100.0, 90.0, 100.0, 0.2, 0.05, 0.05]], 8, 4)
        >>> saved[0] > 0
        True
    """
    import torch

    seen: set[int] = set()
    total = [0]

    def pack(tensor):
        key = tensor.untyped_storage().data_ptr()
        if key not in seen:
            seen.add(key)
            total[0] += tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield total
