"""``python -m mockserver`` is ``medimock serve``."""

from .cli import main

raise SystemExit(main())
