from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import schema_context

from tests.test_module_contract import set_module

from .factories import Desk, make_desk, to_public


@pytest.fixture
def desk(alpha: Any) -> Desk:
    set_module(alpha.tenant, "service", True)
    with schema_context(alpha.schema):
        made = make_desk(alpha.users)
    to_public()
    return made
