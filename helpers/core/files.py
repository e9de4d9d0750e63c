"""Files the course writes: atomically (a reader never sees half a file, a killed run leaves no
torn one), with SHA-256 checksums and, beside a model file, a sidecar JSON that records them.

Every writer in ``helpers`` goes through ``written_atomically`` (for a library that wants a
path: ``torch.save``, ``np.savez``, Parquet) or ``write_atomically`` (bytes or text), and every
checksum through ``sha256``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path


def temporary_path(path: Path) -> Path:
    """Where ``path`` is written before it is renamed into place: a hidden name beside it that
    holds the writer's process id (``.NAME.PID.tmp``), so two writers never share one."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def temporaries(folder: Path, name: str = "*") -> list[Path]:
    """The temporary files that writers of ``folder/name`` (a glob) left behind."""
    return sorted(folder.glob(f".{name}.*.tmp"))


@contextlib.contextmanager
def written_atomically(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` for a writer that wants a path; renamed to ``path`` when
    the block ends without error, removed when it raises.

    Example:
        >>> with written_atomically(folder / "weights.pt") as tmp:  # doctest: +SKIP
        ...     torch.save(state, tmp)
    """
    path = Path(path)
    tmp = temporary_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path: str | Path, data: bytes | str) -> Path:
    """Writes ``data`` (text as UTF-8) to ``path`` through a temporary file and a rename;
    returns ``path``."""
    path = Path(path)
    with written_atomically(path) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def write_json(path: str | Path, data: object, indent: int = 2) -> Path:
    """Writes ``data`` as JSON (``indent`` spaces, a final newline) atomically; returns
    ``path``."""
    return write_atomically(path, json.dumps(data, indent=indent) + "\n")


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar_path(path: str | Path) -> Path:
    """Where a file's metadata lives: ``pricer.onnx`` -> ``pricer.onnx.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def write_sidecar(path: str | Path, **extra: object) -> dict:
    """Writes ``path``'s sidecar (``sidecar_path``): its name, SHA-256 and size in bytes, then
    ``extra``; returns what it wrote."""
    path = Path(path)
    meta = {"file": path.name, "sha256": sha256(path), "bytes": path.stat().st_size, **extra}
    write_json(sidecar_path(path), meta)
    return meta


def read_sidecar(path: str | Path) -> dict:
    """The metadata in ``path``'s sidecar, ``{}`` when there is none.

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
