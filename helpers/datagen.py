"""``python -m helpers.datagen``: a Monte Carlo dataset on disk, made with Dask (Chapter 6).

The command line and the code are ``helpers.data.generate``; ``--help`` lists the options.
"""

from .data.generate import main

if __name__ == "__main__":
    main()
