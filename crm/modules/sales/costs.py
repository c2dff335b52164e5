"""Who sees unit costs and margins (one helper for every sales area).

Holders of sales.view_costs see unit costs, cost totals and margins. When the workspace's
SalesSettings.reps_see_margin_percent is on, the other sellers (holders of sales.quote_edit or
sales.contract_edit) see a document's margin percent, never unit costs or cost totals.
"""

from __future__ import annotations

from typing import Any

from crm.platform.permissions import has_perm


def can_see_costs(user: Any) -> bool:
    """Unit costs, cost totals, margin amount and percent."""
    return has_perm(user, "sales.view_costs")


def _settings_show_margin() -> bool:
    from crm.modules.sales.models import SalesSettings

    found = SalesSettings.objects.filter(pk=1).values_list("reps_see_margin_percent", flat=True).first()
    if found is None:
        found = SalesSettings.objects.values_list("reps_see_margin_percent", flat=True).first()
    return bool(found)


def can_see_margin_percent(user: Any) -> bool:
    """The margin percent of a document: cost holders always; sellers when the setting is on."""
    if can_see_costs(user):
        return True
    is_seller = has_perm(user, "sales.quote_edit") or has_perm(user, "sales.contract_edit")
    return is_seller and _settings_show_margin()
