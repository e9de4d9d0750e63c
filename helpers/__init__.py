"""The course's package: every function the chapters call lives here.

Modules: ``domain`` (the option's columns and the article's parameter domain), ``config`` (the
machine and the sizes each chapter runs at), ``mc`` (batched Monte Carlo, several backends),
``quantlib_ref`` (independent reference prices), ``benchmark`` and ``plotting``.

On a machine with no CUDA driver, importing ``helpers`` turns on Numba's CUDA simulator
(``NUMBA_ENABLE_CUDASIM=1``) unless the variable is already set, so the numba.cuda backend runs
everywhere. Numba reads the variable once, when it is first imported: import ``helpers`` first.
"""

import ctypes.util
import os

__version__ = "0.1.0"

if "NUMBA_ENABLE_CUDASIM" not in os.environ and ctypes.util.find_library("cuda") is None:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
