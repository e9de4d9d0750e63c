"""``python -m helpers.serve``: the pricing service on uvicorn, on loopback by default (Chapter
13). The code is ``helpers.inference.service``; ``--help`` lists the options.
"""

from .inference.service.command import main

if __name__ == "__main__":
    main()
