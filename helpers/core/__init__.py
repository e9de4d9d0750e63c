"""Foundations: the option's domain (``domain``), the sizes every chapter runs at (``config``),
the machine (``machine``), tables (``report``), atomic files and checksums (``files``), the
compiled kernels' cache (``kernel_cache``), the checks of numeric and device arguments
(``validate``) and what every command line shares (``cli``). Imports nothing else from
``helpers``."""
