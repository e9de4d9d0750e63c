"""``python -m helpers.gpu_check``: see ``helpers.gpu_check``."""

from .runner import main

raise SystemExit(main())
