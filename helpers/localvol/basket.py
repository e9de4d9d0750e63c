"""The basket call's Monte Carlo price and its gradient with respect to the whole market.

Each pair's log forward moneyness ``y_i = log(S_i / F_i(t))`` follows, under the domestic
measure, ``dy_i = -1/2 sigma_i(t, y_i)^2 dt + sigma_i(t, y_i) dW_i`` with ``sigma_i`` the
pair's local volatility (``helpers.localvol.dupire``) and ``dW = L dZ`` correlated by the
Cholesky factor ``L`` of the correlation matrix; ``S_i(T) = F_i(T) exp(y_i(T))``, so the drift
``r_d - r_f`` is in the forwards. The payoff is ``exp(-r_d T) max(sum_i a_i S_i(T) - K, 0)``.

The gradient is one forward and one reverse sweep through the whole chain: quotes to splines,
splines to Dupire, Dupire to the per-step splines, the Euler steps, the payoff. Torch autograd
differentiates the chain; for the Euler steps there are two engines. ``"adjoint"`` is the
hand-written adjoint of ``helpers.localvol.adjoint``, joined to autograd as one operation.
``"torch"`` lets autograd record the steps too, checkpointed in blocks of ``BLOCK_STEPS``
(``torch.utils.checkpoint``): the reverse sweep keeps only each block's starting state and
recomputes the block, so the tape grows with the number of blocks, not of steps. Both draw
the normals from the same Philox counters (``adjoint.step_normals``), so a recomputed block
sees the same numbers and the two engines simulate the same paths.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from ..core.validate import check_device, check_integer
from ..mc.checks import MAX_COUNT, check_seed
from .adjoint import MonteCarloStage, step_normals
from .dupire import LocalVolTable, local_vol_table
from .market import ARRAY_FIELDS, SCALAR_FIELDS, Market, check_market

BLOCK_STEPS = 30
"""Euler steps per checkpointed block."""


@dataclass(frozen=True)
class BasketResult:
    """A basket call's price and, if asked for, its gradient.

    Attributes:
        price: the Monte Carlo price, domestic currency.
        stderr: its standard error.
        gradient: a ``Market`` whose every field holds dPrice/d(that field), or ``None``.
            ``corr[i, j]`` is the derivative with respect to the pair's correlation (both
            entries of the symmetric matrix moving together); the diagonal is zero.
        n_paths, n_steps: the simulation's size.
        floored: grid points where the local variance was floored.
        seconds: wall time of the forward sweep and, with the gradient, of the reverse one
            (with ``engine="adjoint"`` the simulation's own reverse sweep runs inside the
            forward one, which keeps its adjoints for the reverse).
    """

    price: float
    stderr: float
    gradient: Market | None
    n_paths: int
    n_steps: int
    floored: int
    seconds: dict


def _euler_block(y, coefficients, start, spacing, chol, dt, seed, first_step):
    """``y`` after the block's steps; ``coefficients`` etc. are the block's rows of the table."""
    n_block = coefficients.shape[0]
    n_paths, m = y.shape
    normals = step_normals(seed, first_step, n_block, n_paths, m)
    normals = torch.from_numpy(normals).to(dtype=y.dtype, device=y.device)
    assets = torch.arange(m, device=y.device)
    last = coefficients.shape[2] - 1
    sqrt_dt = dt.sqrt()
    for k in range(n_block):
        u = (y - start[k]) / spacing[k]
        interval = u.detach().floor().clamp(0, last).long()
        fraction = (u - interval).clamp(0.0, 1.0)
        c = coefficients[k][assets, interval]  # (n_paths, m, 4)
        sigma = c[..., 0] + fraction * (c[..., 1] + fraction * (c[..., 2] + fraction * c[..., 3]))
        y = y - 0.5 * sigma**2 * dt + sigma * sqrt_dt * (normals[k] @ chol.T)
    return y


def simulate_terminal(
    table: LocalVolTable, chol: torch.Tensor, dt: torch.Tensor, n_paths: int, seed: int,
    block_steps: int = BLOCK_STEPS, checkpointed: bool = True,
) -> torch.Tensor:  # fmt: skip
    """Every path's ``y(T)``, shape ``(n_paths, m)``; with gradients on, each block of
    ``block_steps`` steps is checkpointed unless ``checkpointed`` is false."""
    n_steps, m = table.start.shape
    y = torch.zeros((n_paths, m), dtype=chol.dtype, device=chol.device)
    for first in range(0, n_steps, block_steps):
        rows = slice(first, min(first + block_steps, n_steps))
        args = (y, table.coefficients[rows], table.start[rows], table.spacing[rows], chol, dt,
                seed, first)  # fmt: skip
        if torch.is_grad_enabled() and checkpointed:
            y = checkpoint(_euler_block, *args, use_reentrant=False)
        else:
            y = _euler_block(*args)
    return y


def _as_tensors(market: Market, device, requires_grad: bool) -> dict[str, torch.Tensor]:
    return {name: torch.tensor(np.asarray(getattr(market, name)), dtype=torch.float64,
                               device=device, requires_grad=requires_grad)
            for name in ARRAY_FIELDS + SCALAR_FIELDS}  # fmt: skip


def _device_type(device: object) -> str | None:
    """The device's type (``"cpu"``, ``"cuda"``), or None for what is not a device (refused
    next, by ``check_device``)."""
    try:
        return torch.device(device).type  # type: ignore[arg-type]
    except (RuntimeError, TypeError, ValueError):
        return None


ENGINES = ("adjoint", "torch")
"""How the Monte Carlo stage is differentiated: the hand adjoint (``helpers.localvol.adjoint``,
CPU) or torch autograd with checkpointing (any device)."""


def _stages(inputs: dict[str, torch.Tensor], n_steps: int):
    """What every engine needs from the market: the local-volatility table, the Cholesky factor,
    the step, the forwards at expiry and the discount factor."""
    x = inputs
    table = local_vol_table(x["strikes"], x["vols"], x["maturities"], x["spots"], x["rf"],
                            x["rd"], x["expiry"], n_steps)  # fmt: skip
    chol = torch.linalg.cholesky((x["corr"] + x["corr"].T) / 2)
    forwards = x["spots"] * torch.exp((x["rd"] - x["rf"]) * x["expiry"])
    discount = torch.exp(-x["rd"] * x["expiry"])
    return table, chol, x["expiry"] / n_steps, forwards, discount


def _torch_payoffs(inputs, n_paths, n_steps, seed, block_steps=BLOCK_STEPS, checkpointed=True):
    """Every path's discounted payoff by the torch engine, and the table used."""
    table, chol, dt, forwards, discount = _stages(inputs, n_steps)
    y = simulate_terminal(table, chol, dt, n_paths, seed, block_steps, checkpointed)
    basket = (forwards * torch.exp(y)) @ inputs["weights"]
    return discount * torch.relu(basket - inputs["strike"]), table


def price_and_square_sum(
    inputs: dict[str, torch.Tensor], n_paths: int, n_steps: int, seed: int,
    engine: str = "adjoint", block_steps: int = BLOCK_STEPS, checkpointed: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, LocalVolTable]:  # fmt: skip
    """The Monte Carlo price (a scalar tensor that autograd can differentiate) and the sum of
    the squared discounted payoffs, from the market's fields as tensors (``Market``'s names);
    and the local-volatility table used."""
    if engine == "adjoint":
        table, chol, dt, forwards, discount = _stages(inputs, n_steps)
        price, square_sum = MonteCarloStage.apply(table.coefficients, table.start,
                                                  table.spacing, chol, dt, forwards,
                                                  inputs["weights"], inputs["strike"],
                                                  discount, seed, n_paths)  # fmt: skip
        return price, square_sum, table
    payoffs, table = _torch_payoffs(inputs, n_paths, n_steps, seed, block_steps, checkpointed)
    return payoffs.mean(), payoffs.detach().pow(2).sum(), table


def autograd_tape_bytes(
    market: Market,
    n_paths: int,
    n_steps: int,
    *,
    seed: int = 0,
    block_steps: int = BLOCK_STEPS,
    checkpointed: bool = True,
) -> int:
    """Bytes autograd keeps for the reverse sweep of the torch engine (distinct storages saved
    by its operations, ``helpers.mc.autograd.tape_bytes``). With ``checkpointed``, the blocks'
    insides are not kept: they are recomputed one block at a time during the reverse sweep,
    which then holds one block's tape on top of this."""
    from ..mc.autograd import tape_bytes

    inputs = _as_tensors(check_market(market), "cpu", requires_grad=True)
    with tape_bytes() as saved:
        price_and_square_sum(inputs, n_paths, n_steps, seed, "torch", block_steps, checkpointed)
    return int(saved[0])


def path_payoffs(market: Market, n_paths: int = 10_000, n_steps: int = 360,
                 seed: int = 0) -> np.ndarray:  # fmt: skip
    """Every path's discounted payoff, shape ``(n_paths,)``: the numbers ``price_basket``
    averages (the same paths for the same ``seed``). Finite differences with common random
    numbers take their standard error from the spread of the per-path differences."""
    inputs = _as_tensors(check_market(market), "cpu", requires_grad=False)
    with torch.no_grad():
        payoffs, _ = _torch_payoffs(inputs, n_paths, n_steps, seed)
    return payoffs.numpy()


def price_basket(
    market: Market,
    n_paths: int = 10_000,
    n_steps: int = 360,
    seed: int = 0,
    gradient: bool = True,
    *,
    engine: str = "adjoint",
    device: torch.device | str = "cpu",
    block_steps: int = BLOCK_STEPS,
) -> BasketResult:
    """Prices the basket call of ``market`` by Monte Carlo under local volatility and, with
    ``gradient``, differentiates the price with respect to every field of the market.

    Example:
        >>> from helpers.localvol import load_market
        >>> result = price_basket(load_market(), n_paths=2_000, n_steps=60, gradient=False)
        >>> round(result.price, 2)
        0.03

    Args:
        market: the market (``load_market()``); checked first.
        n_paths: Monte Carlo paths, an integer ``>= 2``.
        n_steps: Euler steps to expiry, an integer ``>= 1``.
        seed: seeds every block's normals: an integer in ``[0, 2**64)``, as
            ``helpers.mc.price_options``' seed.
        gradient: also run the reverse sweep.
        engine: ``"adjoint"`` (the hand adjoint of the Monte Carlo stage, CPU) or
            ``"torch"`` (autograd through checkpointed blocks; any device).
        device: where the tensors live (``"cuda"`` on a GPU, with ``engine="torch"``); checked
            against the machine (``helpers.core.validate.check_device``).
        block_steps: Euler steps per checkpointed block, an integer ``>= 1``.

    Returns:
        A ``BasketResult``; its ``gradient`` is a ``Market`` of the same shapes.

    Raises:
        ValueError: a market ``check_market`` refuses, bad sizes or seed (not integers, or out of
            range), an unknown engine, the adjoint engine off the CPU, a device this machine
            does not have (``"cuda"`` without a CUDA GPU).
    """
    market = check_market(market)
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: choose one of {list(ENGINES)}")
    if engine == "adjoint" and _device_type(device) not in ("cpu", None):
        raise ValueError("engine='adjoint' runs on the CPU: use engine='torch' on a GPU")
    device = check_device(device)
    n_paths = check_integer("n_paths", n_paths, low=2, high=MAX_COUNT)
    n_steps = check_integer("n_steps", n_steps, low=1, high=MAX_COUNT)
    block_steps = check_integer("block_steps", block_steps, low=1, high=MAX_COUNT)
    seed = check_seed(seed)
    inputs = _as_tensors(market, device, requires_grad=gradient)
    start = time.perf_counter()
    with torch.set_grad_enabled(gradient):
        price, square_sum, table = price_and_square_sum(inputs, n_paths, n_steps, seed, engine,
                                                        block_steps)  # fmt: skip
    seconds = {"forward": time.perf_counter() - start}
    mean, mean_sq = float(price.detach()), float(square_sum.detach()) / n_paths
    stderr = float(np.sqrt(max(mean_sq - mean**2, 0.0) * n_paths / (n_paths - 1) / n_paths))
    grad_market = None
    if gradient:
        start = time.perf_counter()
        names = list(inputs)
        grads = torch.autograd.grad(price, [inputs[k] for k in names], allow_unused=True)
        seconds["reverse"] = time.perf_counter() - start
        fields = {}
        for name, g in zip(names, grads, strict=True):
            g = torch.zeros_like(inputs[name]) if g is None else g
            fields[name] = g.detach().cpu().numpy() if name in ARRAY_FIELDS else float(g)
        corr = fields["corr"]
        corr = corr + corr.T  # both entries of a pair move together
        np.fill_diagonal(corr, 0.0)
        fields["corr"] = corr
        grad_market = dataclasses.replace(market, **fields)
    return BasketResult(mean, stderr, grad_market, n_paths, n_steps, table.floored,
                        seconds)  # fmt: skip
