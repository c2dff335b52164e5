"""Reads of the money area: sales settings, invoicing requests, fapiao, targets and achievement."""

from __future__ import annotations

from crm.modules.sales.models import SalesSettings


def sales_settings() -> SalesSettings:
    """The workspace's one SalesSettings row, created with the defaults on first read."""
    row = SalesSettings.objects.order_by("pk").first()
    if row is None:
        row, _created = SalesSettings.objects.get_or_create(pk=1)
    return row
