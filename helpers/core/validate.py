"""The checks every public function applies to its numeric and device arguments: validate first,
compute second.

One validator for the keyword arguments that are numbers (tolerances, grids, sizes, seeds) and one
for a device, so that every function refuses the same inputs in the same words: a ``ValueError``
that names the argument, the value and the allowed range. Three rules hold everywhere:

- a bool is not a number (``True`` is not one path) and a string is not one (``"10"`` is refused,
  not parsed);
- an integer argument takes an integer: ``1e5`` paths is refused (a float may have lost digits),
  write ``100_000``;
- NaN and the infinities lie in no range, so a tolerance of NaN is refused instead of silently
  stopping a loop at once.

Example:
    >>> check_integer("n_paths", 1_000, low=1)
    1000
    >>> check_real("tol", 0.0, low=0.0, low_open=True)
    Traceback (most recent call last):
    ...
    ValueError: tol must be a finite number in (0, inf), got 0.0
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def _interval(low, high, low_open: bool = False, high_open: bool = False) -> str:
    """``[low, high]`` with open ends as parentheses; a missing bound is infinite."""
    left = "(" if low is None or low_open else "["
    right = ")" if high is None or high_open else "]"
    return f"{left}{_show(low, '-inf')}, {_show(high, 'inf')}{right}"


def _show(bound, missing: str) -> str:
    """An integer bound in full, a float one as ``%g``, a missing one as ``missing``."""
    if bound is None:
        return missing
    return str(bound) if isinstance(bound, numbers.Integral) else f"{bound:g}"


def check_integer(name: str, value: object, *, low: int | None = None,
                  high: int | None = None) -> int:  # fmt: skip
    """``value`` as an ``int`` if it is an integer in ``[low, high]`` (a missing bound is
    infinite).

    Args:
        name: the argument's name, for the message.
        value: what the caller passed: an ``int`` or a NumPy integer.
        low, high: the allowed range, both ends included.

    Returns:
        ``int(value)``.

    Raises:
        ValueError: a bool, a float (even ``3.0``), a string or anything else that is not an
            integer; an integer outside the range. The message names the argument, the value
            and the range.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(
            f"{name} must be an integer in {_interval(low, high)}, got {value!r}"
            f" ({type(value).__name__})"
        )
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise ValueError(f"{name} must be an integer in {_interval(low, high)}, got {number}")
    return number


def check_real(
    name: str, value: object, *, low: float | None = None, high: float | None = None,
    low_open: bool = False, high_open: bool = False, unit: str = "",
) -> float:  # fmt: skip
    """``value`` as a ``float`` if it is a finite real number in the range.

    Args:
        name: the argument's name, for the message.
        value: an ``int``, a ``float`` or a NumPy number.
        low, high: the allowed range (a missing bound is infinite); ``low_open`` and
            ``high_open`` leave that end out.
        unit: said after the range in the message (``"years"``, ``"volatility units"``).

    Returns:
        ``float(value)``.

    Raises:
        ValueError: a bool, a string or another non-number; NaN or an infinity; a number
            outside the range. The message names the argument, the value and the range.
    """
    interval = _interval(low, high, low_open, high_open) + (f" ({unit})" if unit else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(
            f"{name} must be a finite number in {interval}, got {value!r} ({type(value).__name__})"
        )
    number = float(value)
    outside = not math.isfinite(number)
    if low is not None:
        outside |= number <= low if low_open else number < low
    if high is not None:
        outside |= number >= high if high_open else number > high
    if outside:
        raise ValueError(f"{name} must be a finite number in {interval}, got {number!r}")
    return number


def check_device(device: object, name: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` that this machine has.

    ``"cpu"`` always passes; ``"cuda"`` or ``"cuda:i"`` passes where PyTorch sees a CUDA GPU
    (and at least ``i + 1`` of them); ``"mps"`` where PyTorch sees Apple's GPU.

    Example:
        >>> check_device("cpu")
        device(type='cpu')

    Raises:
        ValueError: a string PyTorch does not read as a device, a device this machine lacks
            (``"cuda"`` without a usable CUDA GPU: the message says so, instead of the
            ``AssertionError`` PyTorch raises on first use), or another device type.
    """
    import torch

    if isinstance(device, bool) or not isinstance(device, (str, torch.device)):
        raise ValueError(f"{name} must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    try:
        parsed = torch.device(device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"{name} {device!r} is not a device ({err}): use 'cpu' or 'cuda'"
        ) from None
    if parsed.type == "cpu":
        return parsed
    if parsed.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(
                f"{name}={device!r} needs a CUDA GPU, and PyTorch sees none on this machine"
                " (torch.cuda.is_available() is False): use device='cpu'"
            )
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"{name}={device!r}: this machine has {count} CUDA GPU(s),"
                f" cuda:0 to cuda:{count - 1}"
            )
        return parsed
    if parsed.type == "mps":
        if not torch.backends.mps.is_available():
            raise ValueError(f"{name}={device!r}: PyTorch sees no Apple GPU (MPS) here: use 'cpu'")
        return parsed
    raise ValueError(
        f"{name}={device!r}: device type {parsed.type!r} is not supported: use 'cpu' or 'cuda'"
    )
