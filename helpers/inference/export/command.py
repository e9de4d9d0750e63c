"""``python -m helpers.export --out DIR``: the shipped pricer to ``DIR/pricer.onnx`` and
``DIR/pricer.int8.onnx``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ...core.cli import CommandParser, reported_failures
from ...core.files import read_sidecar
from .onnx_export import export_onnx
from .quantize import INT8_VARIANTS, RECOMMENDED_INT8, quantize_onnx


def export_pricer(
    out: str | Path, *, model_dir: str | Path | None = None, variant: str = RECOMMENDED_INT8
) -> tuple[Path, Path]:
    """What the command line does: the pretrained pricer of ``model_dir`` (default: the
    repository's ``data/``) to ``out/pricer.onnx`` and ``out/pricer.int8.onnx`` (``variant``),
    each with its sidecar; the sidecars name the weights file and its SHA-256.

    Returns:
        The two paths, float32 first.

    Raises:
        ValueError: see ``helpers.networks.loading.load_pretrained`` and ``quantize_onnx``.
    """
    from ...core.config import DATA_DIR
    from ...networks.loading import load_pretrained

    folder = Path(model_dir) if model_dir is not None else DATA_DIR
    model = load_pretrained(folder=folder)
    meta = json.loads((folder / "pricer.json").read_text())
    source = {
        "file": meta["file"],
        "sha256": meta["sha256"],
        "architecture": meta.get("architecture"),
    }
    out = Path(out)
    float_path = export_onnx(model, out / "pricer.onnx", source=source)
    int8_path = quantize_onnx(float_path, out / "pricer.int8.onnx", variant)
    return float_path, int8_path


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = CommandParser(
        prog="python -m helpers.export",
        description="Exports the shipped pricer to ONNX, float32 and int8.",
    )
    parser.add_argument(
        "--out", required=True, help="output folder for pricer.onnx and pricer.int8.onnx (required)"
    )
    parser.add_argument(
        "--model-dir",
        default=None,
        help="folder of pricer.json and its weights (default: the repository's data/)",
    )
    parser.add_argument(
        "--int8",
        choices=INT8_VARIANTS,
        default=RECOMMENDED_INT8,
        help=f"which int8 variant to write (default: {RECOMMENDED_INT8})",
    )
    args = parser.parse_args(argv)
    with reported_failures():  # a missing or corrupt model: one line, exit code 1
        paths = export_pricer(args.out, model_dir=args.model_dir, variant=args.int8)
    for path in paths:
        meta = read_sidecar(path)
        print(f"{path}: {meta['variant']}, {meta['bytes']} bytes, sha256 {meta['sha256'][:12]}")
