"""Suite rows for the pipeline routes (see suite.py)."""

from __future__ import annotations

from collections.abc import Callable

LIST_FACTORIES: dict[str, Callable[..., None]] = {}
