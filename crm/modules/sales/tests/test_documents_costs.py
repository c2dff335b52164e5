from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm.modules.sales import costs
from crm.modules.sales.models import SalesSettings


@pytest.mark.parametrize(
    ("role", "sees_costs", "sees_margin_off", "sees_margin_on"),
    [
        ("owner", True, True, True),
        ("admin", True, True, True),
        ("finance", True, True, True),
        ("manager", False, False, True),
        ("sales", False, False, True),
        ("clerk", False, False, False),
        ("warehouse", False, False, False),
    ],
)
def test_cost_and_margin_visibility(
    alpha: Any, role: str, sees_costs: bool, sees_margin_off: bool, sees_margin_on: bool
) -> None:
    with schema_context(alpha.schema):
        user = alpha.users[role]
        assert costs.can_see_costs(user) is sees_costs
        assert costs.can_see_margin_percent(user) is sees_margin_off
        SalesSettings.objects.update_or_create(pk=1, defaults={"reps_see_margin_percent": True})
        assert costs.can_see_margin_percent(user) is sees_margin_on
        assert costs.can_see_costs(user) is sees_costs  # the setting never shows unit costs
