"""The course's package: every function the chapters call lives here.

Modules, one job each:

* ``domain``: the option's columns and the article's parameter domain;
* ``config``: the machine, and the sizes every chapter runs at;
* ``mc``: batched Monte Carlo with several backends (CUDA C in ``kernels/``);
* ``quantlib_ref``: independent reference prices from QuantLib;
* ``data``: the streaming and the on-disk datasets for PyTorch; ``datagen``: datasets on disk
  generated with Dask;
* ``model``: the pricing network and the shipped pretrained one; ``train``: Ignite training;
  ``distributed``: torchrun and DDP plumbing; ``pretrain``: how the shipped model is made;
* ``pricing``, ``greeks``, ``iv``: the network's prices, Greeks and implied volatilities, inside
  its training domain; ``widgets``: delta and gamma curves with sliders;
* ``benchmark`` (``make bench``) and ``plotting``.

On a machine with no CUDA driver, importing ``helpers`` turns on Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) unless the variable is already set, so the numba.cuda backend runs
everywhere. Numba reads the variable once, when it is first imported: import ``helpers`` first.

Importing ``helpers`` also points Numba's on-disk cache at a folder keyed on the kernels' source
(``kernel_cache``): the kernels compile once, and every later process loads them.
"""

import ctypes.util
import os

__version__ = "0.1.0"

if "NUMBA_ENABLE_CUDASIM" not in os.environ and ctypes.util.find_library("cuda") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

from .kernel_cache import use_kernel_cache  # noqa: E402  (after the simulator's variable)

use_kernel_cache()
