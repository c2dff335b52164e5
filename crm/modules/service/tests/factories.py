"""Test data for the service module (call inside the tenant's schema)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from crm.modules.core.models import Customer
from crm.modules.service import services
from crm.modules.service.models import Agreement, Entitlement, ServiceOrder
from crm.tenants.accounts.models import User

SHANGHAI = ZoneInfo("Asia/Shanghai")


def to_public() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def at(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=SHANGHAI)


@dataclass
class Desk:
    tech: User
    tech2: User
    customer: Customer  # owned by the rep "sales"
    other: Customer  # owned by "sales2"
    agreement: Agreement  # 10 hours, 2 visits
    hours: Entitlement
    visits: Entitlement


def make_desk(users: dict[str, Any]) -> Desk:
    tech = User.objects.create_user("tech@svc.example.com", "x", name="技术员甲", role="technician")
    tech2 = User.objects.create_user("tech2@svc.example.com", "x", name="技术员乙", role="technician")
    customer = Customer.objects.create(name="上海启明科技有限公司", owner=users["sales"])
    other = Customer.objects.create(name="北京华远物流集团", owner=users["sales2"])
    agreement = services.agreement_create(
        actor=users["owner"],
        customer=customer,
        title="年度运维",
        start_date=date(2026, 1, 1),
        end_date=date(2026, 12, 31),
        value=Decimal("60000"),
        entitlements=[
            services.EntitlementInput("服务工时", Decimal("10")),
            services.EntitlementInput("现场巡检", Decimal("2"), Entitlement.Unit.VISITS),
        ],
    )
    hours, visits = list(agreement.entitlements.order_by("id"))
    return Desk(tech, tech2, customer, other, agreement, hours, visits)


def make_order(desk: Desk, users: dict[str, Any], *, assignee: User | None = None, **kw: Any) -> ServiceOrder:
    kw.setdefault("customer", desk.customer)
    kw.setdefault("agreement", desk.agreement if kw["customer"] == desk.customer else None)
    kw.setdefault("subject", "服务器宕机")
    return services.order_create(actor=users["manager"], assignee=assignee or desk.tech, **kw)


def login(tenant: Any, user: User) -> Client:
    client = Client(HTTP_HOST=tenant.host)
    with schema_context(tenant.schema):
        client.force_login(user, backend="crm.tenants.accounts.backends.EmailBackend")
    to_public()
    return client
