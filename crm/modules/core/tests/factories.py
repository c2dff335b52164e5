"""Test data helpers for the core (run inside a tenant schema_context)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from crm.modules.core.models import Customer
from crm.modules.core.services import initials, normalize_name, normalize_phone


def customer(owner: Any, name: str = "明达科技有限公司", **kw: Any) -> Customer:
    """A customer written directly (no duplicate check), for arranging a test."""
    phone = normalize_phone(kw.pop("phone", ""))
    return Customer.objects.create(
        name=name,
        name_normalized=normalize_name(name),
        name_initials=initials(name),
        phone=phone,
        owner=owner,
        last_activity_at=kw.pop("last_activity_at", timezone.now()),
        **kw,
    )


def many_customers(
    owner: Any, n: int, prefix: str = "客户", last_activity_at: datetime | None = None
) -> None:
    now = last_activity_at or timezone.now()
    Customer.objects.bulk_create(
        Customer(
            name=f"{prefix}{i}",
            name_normalized=f"{prefix}{i}",
            owner=owner,
            last_activity_at=now,
            tags=["vip"] if i % 2 else [],
        )
        for i in range(n)
    )
