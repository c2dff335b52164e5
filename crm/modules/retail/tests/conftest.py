from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_context

from .factories import Shop, make_shop


@pytest.fixture
def shop(alpha: Any) -> Iterator[Shop]:
    with schema_context(alpha.schema):
        yield make_shop(alpha.users)
