"""``make gpu-check``: the course's GPU code measured on a real CUDA GPU, in a few minutes.

On a machine with a CUDA GPU, ``python -m helpers.gpu_check`` runs, one after another, the
gpu-marked tests, the GPU sections of ``make bench`` and the chapters' GPU-sized Monte Carlo,
training-step and inference measurements (``steps.STEPS``), and writes what it measured (the
date, the device, the driver's, CUDA's and the libraries' versions, each step's figures and
wall time, the tests' pytest summary) to ``bench/gpu.md``. Each step calls the function that
measures the same thing in ``make bench`` or in its chapter, at ``config.GPU_SIZES``.

* Without a GPU it prints ``No CUDA GPU here: make gpu-check has nothing to measure``, writes
  nothing and exits 0.
* ``--dry-run`` (``make gpu-check DRY_RUN=1``) runs the same steps on the CPU at tiny sizes
  (numba for CuPy, torch on the CPU) and writes ``_build/gpu-dry-run.md``, never
  ``bench/gpu.md``; ``tests/test_gpu_check.py`` runs it, so the command is known to work before
  the day a GPU is there.
* Each step has its own time cap and the whole check ``--timeout-s`` (240 s by default, so that
  two runs fit in ten minutes of GPU time; the steps' sizes were chosen for about two minutes
  on an H100, an estimate not yet measured on one). A step
  that needs a library missing here is skipped with a line ``skipped: needs <library>``; one
  step's failure does not stop the others. The exit status is 1 only when a gpu-marked test
  failed or a step raised an unexpected error or ran past its cap.

The GPU machine this project can use has no network and its own Python 3.12 with torch, CuPy
(cupy-cuda13x), Numba with numba-cuda, ONNX Runtime, pytest, SciPy, pandas and pyarrow, but no
Ignite, Dask, QuantLib, FastAPI, nbval or Jupyter Book, and at most 64 MiB of files travel to it.
So ``make gpu-check`` needs no virtual environment: it runs that Python with ``PYTHONPATH=.``,
and installs the pure-Python wheels found in ``.gpu-wheels/`` (git-ignored) into a temporary
folder first (``pip install --no-index --no-deps --target``). Fill that folder on a machine
with a network, before the files travel::

    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        -d .gpu-wheels pytorch-ignite==0.5.5

``pytorch-ignite`` (370 kB; it needs only torch and packaging, both there) is the one worth
carrying: Chapter 4's training step and ``tests/test_train.py``'s GPU test need it. The rest is
skipped with its line: QuantLib is a compiled wheel of tens of MB and only the CPU's anchors use
it (``helpers.benchmark.mc`` imports it only when they run); Chapter 6's ``datagen`` step
needs ``dask[distributed]`` and ``dask-cuda`` with a dozen dependencies of their own (partd,
locket, tblib, zict, tornado, rapids-dask-dependency, ...); FastAPI serves Chapter 13's service,
which is measured on CPUs; QAT needs torchao, a compiled wheel, and is not a GPU measurement.

Modules: ``steps`` (the steps and their sizes), ``runner`` (caps, the report, ``main``) and
``plugin`` (the pytest plugin that reports a gpu-marked test needing a missing library as
skipped, not failed).
"""

from .runner import DEFAULT_OUT, NO_GPU, main
from .steps import STEPS

__all__ = ["DEFAULT_OUT", "NO_GPU", "STEPS", "main"]
