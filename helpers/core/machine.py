"""The machine a chapter runs on: its CPU, its vector instructions, its GPU if any, and the
device PyTorch should use."""

from __future__ import annotations

import os
import platform

import numpy as np

from .vector_width import host_features as _host_features  # LLVM's host features


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one CUDA device (what ``backend="auto"`` and
    ``helpers.core.config.sizes`` use)."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no cupy, no driver, no device: all mean "not usable"
        return False


def default_device():
    """``torch.device("cuda")`` when both PyTorch and CuPy see a CUDA GPU, else ``"cpu"``."""
    import torch

    if torch.cuda.is_available() and gpu_available():
        return torch.device("cuda")
    return torch.device("cpu")


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux: fall back to what platform knows
        pass
    return platform.processor() or platform.machine()


def simd_width() -> str:
    """The widest SIMD instruction set that Numba's compiler (LLVM) targets on this CPU.

    The CPU kernel's speed depends on it: AVX-512 multiplies 16 float32 numbers at once, AVX2 8.
    """
    features = _host_features()
    if features is None:
        return "unknown"
    for name in ("avx512f", "avx2", "avx", "sse2", "neon", "sve"):
        if features.get(name):
            return name
    return "none found"


def int8_dot_product() -> bool:
    """Whether the CPU has an int8 dot-product instruction (VNNI: ``avx512_vnni`` or
    ``avx_vnni``; AMX's ``amx_int8``). Without one, int8 matrix products on x86 go through
    AVX2's ``vpmaddubsw`` and gain at most about twice float32's arithmetic rate."""
    features = _host_features()
    if features is None:
        return False
    return any(features.get(name) for name in ("avx512vnni", "avxvnni", "amx-int8"))


def describe_machine() -> dict[str, str]:
    """A short description of this machine for 'What we measured' tables and benchmark files."""
    info = {
        "cpu": _cpu_name(),
        "cores": str(os.cpu_count()),
        "simd": simd_width(),
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:  # numba is a dependency, but the description should never fail
        pass
    if gpu_available():
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        info["gpu"] = props["name"].decode()
        info["cupy"] = cupy.__version__
    else:
        info["gpu"] = "none"
    return info


def instruction_sets() -> dict[str, str]:
    """The CPU's vector and matrix instructions that matter to this course's kernels.

    Returns ``{"vector": ..., "matrix": ...}``: the widest vector set (``AVX-512``, ``AVX2``,
    ...) with its int8 and bfloat16 dot products where present (``VNNI``, ``BF16``), and the
    matrix unit (``AMX`` with its data types) or ``"none"``. Read from LLVM's view of the host
    CPU, the compiler Numba uses; ``"unknown"`` where LLVM cannot be asked.
    """
    features = _host_features()
    if features is None:
        return {"vector": "unknown", "matrix": "unknown"}
    names = {
        "avx512f": "AVX-512",
        "avx2": "AVX2",
        "avx": "AVX",
        "sse2": "SSE2",
        "sve": "SVE",
        "neon": "NEON",
    }
    vector = next((label for key, label in names.items() if features.get(key)), "none found")
    extras = [
        label
        for key, label in (("avx512vnni", "VNNI"), ("avxvnni", "AVX-VNNI"), ("avx512bf16", "BF16"))
        if features.get(key)
    ]
    if extras:
        vector += f" ({', '.join(extras)})"
    amx = [
        label
        for key, label in (("amx-int8", "int8"), ("amx-bf16", "bf16"), ("amx-fp16", "fp16"))
        if features.get(key)
    ]
    matrix = f"AMX ({', '.join(amx)})" if amx else ("AMX" if features.get("amx-tile") else "none")
    return {"vector": vector, "matrix": matrix}


def machine_line() -> str:
    """One line naming this machine: CPU model, cores, vector and matrix instructions, GPU.

    The same line opens every chapter (:func:`machine_admonition`) and ``bench/results.md``,
    so that a figure can always be traced to the machine that measured it.
    """
    info = describe_machine()
    isa = instruction_sets()
    return (
        f"{info['cpu']}, {info['cores']} cores; vector instructions {isa['vector']}; "
        f"matrix instructions {isa['matrix']}; GPU {info['gpu']}"
    )


def machine_admonition():
    """The admonition that opens every chapter: the machine that ran this page's cells.

    Returns an ``IPython.display.Markdown`` holding a MyST ``note`` admonition (the built book
    renders it; JupyterLab with jupyterlab-myst too).
    """
    from IPython.display import Markdown

    return Markdown(
        ":::{admonition} The machine that ran this page\n:class: note\n"
        f"{machine_line()}.\n\nEvery number and figure on this page comes from this run on "
        "this machine; a number measured elsewhere says where.\n:::"
    )
