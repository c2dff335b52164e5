"""Rows for the service list routes, for the generic module suite (see crm/modules/core/suite.py):
``make_rows(*, n, owner)`` bulk-creates ``n`` more rows the route lists. Runs inside the tenant's schema."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from crm.modules.core.public import Customer

from .models import Agreement, Entitlement, ReturnVisit, ServiceOrder


def _customer(owner: Any) -> Customer:
    customer, _created = Customer.objects.get_or_create(name="套件服务客户", defaults={"owner": owner})
    return customer


def agreements(*, n: int, owner: Any) -> None:
    start, customer, today = Agreement.objects.count(), _customer(owner), timezone.localdate()
    made = Agreement.objects.bulk_create(
        Agreement(
            number=f"SU-FW-{start + i:07d}",
            title=f"运维服务{start + i}",
            customer=customer,
            owner=owner,
            start_date=today - timedelta(days=300),
            end_date=today + timedelta(days=20 + i % 60),
            value=Decimal("12000"),
        )
        for i in range(n)
    )
    Entitlement.objects.bulk_create(
        Entitlement(agreement=a, description="服务工时", sold=Decimal("40")) for a in made
    )


def orders(*, n: int, owner: Any) -> None:
    start, customer, now = ServiceOrder.objects.count(), _customer(owner), timezone.now()
    ServiceOrder.objects.bulk_create(
        ServiceOrder(
            number=f"SU-GD-{start + i:07d}",
            customer=customer,
            owner=owner,
            assignee=owner,
            subject=f"故障处理{start + i}",
            opened_at=now,
            response_due=now + timedelta(hours=4),
            resolution_due=now + timedelta(hours=16),
        )
        for i in range(n)
    )


def visits(*, n: int, owner: Any) -> None:
    customer, today = _customer(owner), timezone.localdate()
    ReturnVisit.objects.bulk_create(
        ReturnVisit(customer=customer, owner=owner, scheduled_on=today + timedelta(days=i % 30))
        for i in range(n)
    )


LIST_FACTORIES: dict[str, Callable[..., None]] = {
    "service:order_list": orders,
    "api-service:order-list": orders,
    "service:agreement_list": agreements,
    "api-service:agreement-list": agreements,
    "service:visit_list": visits,
    "api-service:visit-list": visits,
}
