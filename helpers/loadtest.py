"""``python -m helpers.loadtest``: a bounded load test of the pricing service on loopback
(Chapter 13). The code is ``helpers.inference.loadtest``; ``--help`` lists the options.
"""

from .inference.loadtest import main

if __name__ == "__main__":
    main()
