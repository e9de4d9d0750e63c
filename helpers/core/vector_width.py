"""Full-width SIMD vectors for the Numba kernels on every x86-64 CPU with AVX-512.

Numba compiles for the host CPU as LLVM names it (``znver4`` for an AMD EPYC, ``sapphirerapids``
or ``emeraldrapids`` for an Intel Xeon) and with the host's instruction-set features. LLVM's
*tuning* for Intel's AVX-512 server CPUs includes the pseudo-feature ``prefer-256-bit``: its
loop vectoriser then uses 256-bit vectors even though 512-bit ones exist (a choice made for
Skylake-SP, whose clock dropped under 512-bit work). For the course's lane loops that halves the
work per instruction: measured on 2026-12-06 on an Intel Xeon (``emeraldrapids``), the plain
price kernel ran at 237M path-steps/s with the default tuning and at 461M with 512-bit vectors,
with bit-identical prices; AMD's tuning (``znver4``) has no such preference.

``use_full_vector_width()`` turns the preference off the way a C compiler's
``-mprefer-vector-width=512`` does, for Numba: it sets ``NUMBA_CPU_FEATURES`` to the host's own
features (as Numba would read them) plus ``-prefer-256-bit``. The CPU name and its instruction
set stay the host's, so no instruction the CPU lacks can appear; only the vector width LLVM
prefers changes. Numba keys its cache on the features, so kernels compiled before are not
reused. ``import helpers`` calls it before Numba is imported; child processes inherit the
variable.

Results do not depend on it: Numba does not allow floating-point reassociation (no fast-math),
so the lanes' arithmetic is the same at any width (``tests/test_vector_width.py`` checks the
prices bit for bit).
"""

from __future__ import annotations

import os
import platform

FEATURE = "-prefer-256-bit"
"""LLVM's x86 tuning flag turned off: the vectoriser may then use 512-bit vectors."""

VARIABLE = "NUMBA_CPU_FEATURES"


def full_width_features(features: str) -> str:
    """``features`` (LLVM's ``+a,-b,...`` string) with 512-bit vectors preferred: any
    ``prefer-256-bit`` entry replaced by ``-prefer-256-bit``."""
    kept = [f for f in features.split(",") if f and f.lstrip("+-") != FEATURE[1:]]
    return ",".join([*kept, FEATURE])


def host_features() -> dict[str, bool] | None:
    """LLVM's features of the host CPU (the compiler Numba uses), or ``None`` where LLVM cannot
    be asked: neither a description of the machine (``helpers.core.machine``) nor ``import
    helpers`` should ever fail on it."""
    try:
        import llvmlite.binding as llvm

        return dict(llvm.get_host_cpu_features())
    except Exception:  # the course still runs, at LLVM's preferred width
        return None


def use_full_vector_width() -> str | None:
    """Sets ``NUMBA_CPU_FEATURES`` for 512-bit vectors on an x86-64 CPU with AVX-512.

    Does nothing (and returns ``None``) when the user already set ``NUMBA_CPU_FEATURES`` or
    turned AVX off (``NUMBA_ENABLE_AVX=0``), on other architectures, and on CPUs without
    AVX-512F, whose widest vectors are 256-bit anyway.

    Returns:
        The feature string set, or ``None``.
    """
    if VARIABLE in os.environ or os.environ.get("NUMBA_ENABLE_AVX", "1") == "0":
        return None
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    features = host_features()
    if not features or not features.get("avx512f"):
        return None
    flat = ",".join(f"{'+' if on else '-'}{name}" for name, on in sorted(features.items()))
    os.environ[VARIABLE] = full_width_features(flat)
    return os.environ[VARIABLE]
