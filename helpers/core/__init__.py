"""Foundations: the option's domain (``domain``), the sizes every chapter runs at (``config``),
the machine (``machine``), tables (``report``), atomic files and checksums (``files``), and the
compiled kernels' cache (``kernel_cache``). Imports nothing else from ``helpers``."""
