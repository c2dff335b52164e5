from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import translation
from django_tenants.utils import schema_context


@pytest.fixture
def pur(beta: Any) -> Iterator[Any]:
    """Inside beta's schema (beta has purchasing on through the trade module)."""
    with schema_context(beta.schema), translation.override("en"):
        yield beta
