"""Files of an exported pricer: atomic writes, SHA-256 and the sidecar JSON beside each model;
the logging and warning filters the exporters need."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

from torch import nn


def sidecar_path(path: str | Path) -> Path:
    """Where a model file's metadata lives: ``pricer.onnx`` -> ``pricer.onnx.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file (``helpers.datagen.sha256``, imported when first needed)."""
    from ..datagen import sha256 as file_sha256

    return file_sha256(path)


def write_atomically(path: Path, data: bytes) -> None:
    """Writes ``data`` to a temporary name beside ``path``, then renames it to ``path``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def written_atomically(path: Path) -> Iterator[Path]:
    """A temporary name next to ``path`` for a writer that wants a path; renamed to ``path`` when
    the block ends without error, removed when it raises."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_sidecar(path: Path, variant: str, extra: dict) -> dict:
    """Writes ``path``'s sidecar (``sidecar_path``): its name, SHA-256, size, ``variant``, the
    ONNX Runtime version and ``extra``; returns what it wrote."""
    import onnxruntime

    meta = {
        "file": path.name,
        "sha256": sha256(path),
        "variant": variant,
        "bytes": path.stat().st_size,
        "onnxruntime": onnxruntime.__version__,
        **extra,
    }
    write_atomically(sidecar_path(path), (json.dumps(meta, indent=2) + "\n").encode())
    return meta


def state_sha256(model: nn.Module) -> str:
    """Hex SHA-256 of a model's state (every parameter and buffer, by name, in order): names the
    pricer an export came from when there is no weights file to hash."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


@contextlib.contextmanager
def quiet(*loggers: str) -> Iterator[None]:
    """Raises the named loggers (``""``: the root) to ERROR for the block: torch.onnx, torchao
    and the ONNX Runtime quantizers log advice at WARNING that does not apply here."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


@contextlib.contextmanager
def no_leafspec() -> Iterator[None]:
    """Silences a FutureWarning that torch.export raises about its own use of ``LeafSpec``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
        yield


def read_sidecar(path: Path) -> dict:
    """The sidecar's metadata, ``{}`` when there is none.

    Raises:
        ValueError: a sidecar that is not JSON, naming it.
    """
    meta_path = sidecar_path(path)
    if not meta_path.exists():
        return {}
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{meta_path} (metadata of {path}) is not valid JSON: {err}") from err
