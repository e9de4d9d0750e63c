"""``python -m helpers.export --out DIR``: the shipped pricer exported to ONNX, float32 and int8
(Chapter 12). The code is ``helpers.inference.export``; ``--help`` lists the options.

An ``--out`` that cannot be created, and any file error on the way, end the command with one
line on stderr (``error: ...``) and exit code 1; bad arguments with exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .core.cli import output_folder, reported_failures
from .inference.export import command


def main(argv: Sequence[str] | None = None) -> None:
    """``helpers.inference.export.command.main``, with ``--out`` created (or refused in one line)
    before anything is loaded, and file errors reported in one line."""
    args = list(sys.argv[1:] if argv is None else argv)
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("--out")
    peek.add_argument("-h", "--help", action="store_true")
    known, _ = peek.parse_known_args(args)
    with reported_failures():
        if known.out is not None and not known.help:
            output_folder(known.out, "--out")
        command.main(args)


if __name__ == "__main__":
    main()
