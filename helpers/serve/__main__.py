"""``python -m helpers.serve``: the pricing service on uvicorn (see ``helpers.serve``)."""

from .command import main

main()
