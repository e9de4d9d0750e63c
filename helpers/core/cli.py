"""What every command line of the course shares: errors as one line, strict numbers, output folders.

A user's mistake (a bad number, an output folder that cannot be made, settings a library
function refuses) ends a command with one line on stderr, ``error: ...``, and a non-zero exit
code, never a traceback:

* ``CommandParser``: an ``argparse.ArgumentParser`` whose usage errors are that one line (exit
  code 2), with a pointer to ``--help``;
* ``whole_number`` and ``real_number``: option types that read ``4000000000`` but refuse
  ``4e9`` and ``4.0`` for a count (a count is written in digits), refuse NaN and infinities for a
  real number, and check the range, naming the allowed one;
* ``output_folder``: creates an ``--out`` folder or says in one line why it cannot;
* ``reported_failures``: turns what a command raises for its user (``ValueError``, ``OSError``,
  an interrupt) into that one line (exit code 1, or 130 after Ctrl-C);
* ``print_json``: prints valid JSON (a NaN or an infinity becomes ``null``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

USAGE_ERROR = 2
"""Exit code of a command line given bad arguments (argparse's own)."""
FAILURE = 1
"""Exit code of a command that was given good arguments but could not do its work."""
INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as a shell reports it."""

_DIGITS = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*")


def fail(message: str, code: int = FAILURE) -> None:
    """Ends the command: ``error: message`` on one line of stderr, exit code ``code``."""
    line = " ".join(str(message).split())  # one line, whatever the message held
    print(f"error: {line}", file=sys.stderr, flush=True)
    raise SystemExit(code)


class CommandParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line on stderr (exit code 2):
    ``error: argument --paths: ... (python -m helpers.datagen --help lists the options)``.
    Subcommands' parsers are of the same class."""

    def error(self, message: str) -> None:  # type: ignore[override]
        fail(f"{message} ({self.prog} --help lists the options)", USAGE_ERROR)


def whole_number(low: int | None = 1, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer written in digits (``_`` between digits allowed), in
    ``[low, high]`` (``None``: unbounded on that side).

    ``4e9`` and ``4.0`` are refused, with the digits to write instead when the number is whole:
    a count is exact, and a float's rounding would change it silently above 2**53.
    """

    def parse(text: str) -> int:
        if not _DIGITS.fullmatch(text.strip()):
            hint = ""
            with contextlib.suppress(ValueError, OverflowError):
                value = float(text)
                if math.isfinite(value) and value == int(value):
                    hint = f" (write it in digits: {int(value)})"
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{hint}")
        value = int(text.strip())
        _check_range(text, value, low, high)
        return value

    parse.__name__ = "whole number"  # what argparse names in its own messages
    return parse


def real_number(
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
) -> Callable[[str], float]:
    """An argparse ``type``: a finite real number in ``[low, high]`` (``(low, high]`` with
    ``low_open``; ``None``: unbounded on that side). NaN and infinities are refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
        if low_open and low is not None and value <= low:
            raise argparse.ArgumentTypeError(f"{text} is not > {low:g}")
        _check_range(text, value, None if low_open else low, high)
        return value

    parse.__name__ = "number"
    return parse


def _check_range(text: str, value: float, low: float | None, high: float | None) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise argparse.ArgumentTypeError(f"{text} is outside [{lo}, {hi}]")


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """Creates the folder ``path`` (and its parents) if needed and checks that it can be written.

    Raises:
        ValueError: ``cannot create --out PATH: reason`` (a parent is a file, no permission, a
            read-only or missing file system), or ``--out PATH is not writable``.
    """
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValueError(f"cannot create {option} {path}: it is a file, not a folder") from None
    except OSError as err:
        raise ValueError(f"cannot create {option} {path}: {describe_os_error(err)}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ValueError(f"{option} {path} is not writable")
    return path


def describe_os_error(err: OSError) -> str:
    """``reason (file)`` of an ``OSError``, without Python's ``[Errno N]``."""
    reason = err.strerror or str(err)
    return f"{reason} ({err.filename})" if err.filename else reason


@contextlib.contextmanager
def reported_failures(interrupted: str = "interrupted") -> Iterator[None]:
    """Runs a command's work; what it raises for its user becomes one line on stderr.

    ``ValueError`` (settings refused) and ``OSError`` (a file, a folder, a connection) end the
    command with exit code 1; Ctrl-C with 130 and the message ``interrupted`` (what is kept,
    what to do next). Anything else is a bug and keeps its traceback.
    """
    try:
        yield
    except KeyboardInterrupt:
        fail(interrupted, INTERRUPTED)
    except ValueError as err:
        fail(str(err))
    except OSError as err:
        fail(describe_os_error(err) if err.strerror else str(err))


def print_json(data: object, indent: int | None = 2) -> None:
    """Prints ``data`` as valid JSON (RFC 8259): NaN and infinities become ``null``."""
    print(json.dumps(_finite(data), indent=indent, allow_nan=False))


def _finite(data: object) -> object:
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data
