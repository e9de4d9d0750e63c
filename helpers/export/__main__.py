"""``python -m helpers.export``: see ``helpers.export.command``."""

from .command import main

main()
