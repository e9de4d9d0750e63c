"""Numba's on-disk cache of the compiled kernels, keyed on the kernels' source.

Compiling the Monte Carlo kernels takes 10 to 20 s per process on two cores; every chapter, test
process, Dask worker and torchrun rank would pay it again. Kernels marked ``cache=True`` are
written to disk once and loaded by every later process (well under a second).

Numba checks a cached function against its own file only: it does not notice when a function it
inlines from another file (Philox, the normals, the special functions, the Euler step) changes,
and would run stale machine code. So the cache lives in a folder named after a SHA-256 of every
source file of the packages that hold kernels (``KERNEL_PACKAGES``): any change to any of them
starts a new, empty folder. ``import helpers`` sets ``NUMBA_CACHE_DIR`` to it before Numba is
imported; child processes inherit the variable and find the same folder.

The folder's root is ``$NUMBA_CACHE_DIR`` when the user set one, else ``$XDG_CACHE_HOME`` or
``~/.cache``, under ``gpu-exotics-course/``. Old folders are left for the user to delete
(``make clean`` does).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

KERNEL_PACKAGES = ("mc", "localvol")
"""The subpackages of ``helpers`` whose files hold Numba kernels or what they inline
(``tests/test_kernel_cache.py`` checks that no kernel lives elsewhere)."""

PREFIX = "kernels-"
"""Start of a cache folder's name; the rest is the sources' hash."""

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def sources_hash(package_dir: Path = PACKAGE_DIR) -> str:
    """The first 16 hex digits of a SHA-256 over the names and bytes of every ``.py`` file of
    ``KERNEL_PACKAGES`` under ``package_dir``, in sorted order."""
    digest = hashlib.sha256()
    for name in KERNEL_PACKAGES:
        for path in sorted((package_dir / name).rglob("*.py")):
            digest.update(path.relative_to(package_dir).as_posix().encode())
            digest.update(b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def default_root() -> Path:
    """Where cache folders go when the user named none: ``$XDG_CACHE_HOME`` or ``~/.cache``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "gpu-exotics-course"


def cache_dir(package_dir: Path = PACKAGE_DIR) -> Path:
    """The cache folder for these sources: ``<root>/kernels-<hash>``.

    The root is ``$NUMBA_CACHE_DIR``, unless that already names a ``kernels-`` folder (set by
    a parent process), in which case its parent.
    """
    given = os.environ.get("NUMBA_CACHE_DIR")
    if given:
        root = Path(given)
        if root.name.startswith(PREFIX):
            root = root.parent
    else:
        root = default_root()
    return root / f"{PREFIX}{sources_hash(package_dir)}"


def use_kernel_cache() -> Path:
    """Points Numba's cache (``NUMBA_CACHE_DIR``, and Numba's config if it is already
    imported) at ``cache_dir()``; returns the folder."""
    folder = cache_dir()
    os.environ["NUMBA_CACHE_DIR"] = str(folder)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:
        numba_config.CACHE_DIR = str(folder)
    return folder
