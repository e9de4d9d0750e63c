"""The course's package: every function the chapters call lives here.

Its subpackages are layers that follow the book; each imports only from the layers below it
(``make lint`` checks it with import-linter):

* ``core``: the option's domain (``domain``), the sizes every chapter runs at (``config``),
  the machine (``machine``), tables (``report``), atomic files and checksums (``files``), the
  compiled kernels' cache (``kernel_cache``);
* ``mc``: the Monte Carlo, every backend (CUDA C in ``kernels/``), the random streams, the
  estimators and their adjoints, the Euler average's moments and Levy's closed form
  (``moments``), bump-and-revalue (``bumps``), the QuantLib reference (``quantlib_ref``);
* ``data``: the streaming dataset (``streaming``), datasets on disk (``generate``, ``on_disk``),
  shards read ahead (``readahead``), the held-out test set (``test_set``);
* ``networks``: the article's MLP (``mlp``), the homogeneous and residual pricers, building and
  loading them (``loading``);
* ``training``: Ignite training (``trainer``), the differential loss (``differential``),
  distributed training, the shipped pricer's recipe, the ablation, sweeps, training on shards
  read ahead;
* ``inference``: the pricer in use: prices, Greeks, implied volatility, widgets, evaluation,
  export and quantization, the service and its load test;
* ``localvol``: NAG's local-volatility FX basket, beside them (it needs only ``core`` and
  ``mc``); ``plotting``, ``benchmark`` (``make bench``) and ``gpu_check`` on top.

The command lines are modules at the top: ``python -m helpers.datagen``, ``helpers.pretrain``,
``helpers.export``, ``helpers.serve``, ``helpers.loadtest``, ``helpers.benchmark``,
``helpers.gpu_check``, and ``helpers.localvol.market``.

What a reader types is importable from here (``from helpers import price_options``): the names
in ``__all__``, listed with a line each in the README. They resolve when first used (PEP 562),
so ``import helpers`` stays fast for every ``python -m``, Dask worker and torchrun rank.

On a machine with no CUDA driver, importing ``helpers`` turns on Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) unless the variable is already set, so the numba.cuda backend runs
everywhere. Numba reads the variable once, when it is first imported: import ``helpers`` first.
Importing ``helpers`` also points Numba's on-disk cache at a folder keyed on the kernels' source
(``core.kernel_cache``): the kernels compile once, and every later process loads them; and, on
an x86-64 CPU with AVX-512, has LLVM prefer 512-bit vectors where its tuning for Intel's CPUs
would pick 256-bit ones (``core.vector_width``).
"""

import ctypes.util
import importlib
import os

__version__ = "0.1.0"

if "NUMBA_ENABLE_CUDASIM" not in os.environ and ctypes.util.find_library("cuda") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

from .core.kernel_cache import use_kernel_cache  # noqa: E402  (after the simulator's variable)
from .core.vector_width import use_full_vector_width  # noqa: E402

use_full_vector_width()
use_kernel_cache()

_PUBLIC_MODULES = {
    "helpers.core.domain": (
        "COLUMNS",
        "DOMAIN_LOW",
        "DOMAIN_HIGH",
        "BARRIER_FRACTION",
        "ARTICLE_MC_EXAMPLE",
        "ARTICLE_MC_PRICES",
        "ARTICLE_NETWORK_EXAMPLE",
        "ARTICLE_NETWORK_PRICE",
        "sample_options",
        "sobol_options",
        "sample_barrier_corner",
        "in_barrier_corner",
    ),
    "helpers.core.config": ("sizes", "Sizes", "DATA_DIR"),
    "helpers.core.machine": ("describe_machine", "gpu_available", "default_device"),
    "helpers.core.report": ("table",),
    "helpers.mc": ("price_options", "available_backends"),
    "helpers.mc.result": ("MCResult",),
    "helpers.mc.moments": ("average_moments", "levy_price"),
    "helpers.mc.bumps": ("mc_delta_gamma", "mc_bumped_greeks"),
    "helpers.data.streaming": ("OptionDataSet",),
    "helpers.data.on_disk": ("FileOptionDataSet",),
    "helpers.data.generate": ("generate_dataset", "load_split", "load_greeks", "verify"),
    "helpers.data.test_set": ("load_test_set",),
    "helpers.networks.mlp": ("Net",),
    "helpers.networks.homogeneous": ("HomogeneousPricer",),
    "helpers.networks.residual": ("ResidualPricer",),
    "helpers.networks.loading": ("build_pricer", "make_pricer", "load_pretrained"),
    "helpers.training.trainer": ("setup_training",),
    "helpers.training.differential": ("LabelledOptions", "label_options", "fit_pricer"),
    "helpers.inference.pricing": ("price",),
    "helpers.inference.sensitivities": ("greeks", "curves"),
    "helpers.inference.implied_volatility": ("implied_vol",),
    "helpers.inference.export": ("OnnxPricer", "export_onnx", "quantize_onnx"),
    "helpers.localvol": ("load_market", "price_basket"),
}
_HOME = {name: module for module, names in _PUBLIC_MODULES.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str) -> object:
    """Resolves a public name on first use (PEP 562) and keeps it."""
    if name not in _HOME:
        raise AttributeError(f"module 'helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
