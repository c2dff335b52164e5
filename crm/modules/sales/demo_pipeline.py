"""Demo data: pipeline (filled by its area)."""

from __future__ import annotations

from typing import Any


def seed(tenant: Any) -> None:
    """Runs inside the tenant schema; idempotent."""
