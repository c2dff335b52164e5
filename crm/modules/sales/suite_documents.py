"""Suite rows for the documents routes (see suite.py)."""

from __future__ import annotations

from collections.abc import Callable

LIST_FACTORIES: dict[str, Callable[..., None]] = {}
