"""Files of an exported pricer: the sidecar JSON beside each model (``helpers.core.files`` writes
it, atomically, with its SHA-256), the state's checksum, and the logging and warning filters the
exporters need."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

from torch import nn

from ...core import files


def write_sidecar(path: Path, variant: str, extra: dict) -> dict:
    """Writes ``path``'s sidecar (``helpers.core.files.write_sidecar``) with ``variant``, the
    ONNX Runtime version and ``extra``; returns what it wrote."""
    import onnxruntime

    return files.write_sidecar(path, variant=variant, onnxruntime=onnxruntime.__version__, **extra)


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
