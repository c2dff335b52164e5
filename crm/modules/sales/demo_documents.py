"""Demo data: documents. Quotes (some revised into a second version) and about 80 contracts and orders
over the last 12 months on the demo customers, with consulting-style lines (实施服务, 年度运维, 培训 ...), or,
when the caller passes the workspace's goods (`products`, as a trading firm's seeder does), orders of those
products at their list prices with their costs as the estimate: most confirmed, a few completed, some
cancelled, a few drafts. Idempotent: a second run finds the demo contracts (their titles start with
DEMO_MARK) and does nothing."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction

from crm.kernel.documents import LineData, document_create
from crm.kernel.tenant_time import tenant_today, tenant_zone
from crm.modules.core.public import Customer

from .models import Contract, Quote

DEMO_MARK = "演示·"
CONTRACTS = 80
QUOTES = 30
# description, unit, price incl. tax, VAT rate, unit cost excl. tax
ITEMS = (
    ("实施服务", "人天", "2120", "0.06", "900"),
    ("年度运维", "年", "31800", "0.06", "15000"),
    ("培训", "场", "5300", "0.06", "1800"),
    ("需求调研与方案设计", "项", "21200", "0.06", "8000"),
    ("数据迁移", "项", "15900", "0.06", "7000"),
    ("软件许可", "套", "22600", "0.13", "12000"),
    ("驻场技术支持", "人月", "26500", "0.06", "14000"),
)
GOODS_TITLES = ("月度备货", "项目供货", "补货订单", "年度框架采购", "急单", "样品转正式订单")
TITLES = ("ERP 实施项目", "CRM 年度运维", "数字化转型咨询", "系统集成服务", "员工培训项目", "数据平台建设")


def _goods_lines(rng: random.Random, products: Sequence[Any]) -> list[LineData]:
    """1-3 products of the catalogue, a few to a few dozen units each, priced from the product."""
    return [
        LineData(
            description=p.name,
            quantity=Decimal(rng.choice([2, 3, 5, 5, 8, 10, 12, 20, 30])),
            unit=p.unit,
            unit_price_incl=p.price,
            vat_rate=p.vat_rate,
            discount_percent=Decimal(rng.choice(["0", "0", "0", "3", "5"])),
            product_id=p.pk,
            unit_cost_excl=p.cost,
        )
        for p in rng.sample(list(products), min(len(products), rng.randint(1, 3)))
    ]


def _lines(rng: random.Random, products: Sequence[Any] = ()) -> list[LineData]:
    if products:
        return _goods_lines(rng, products)
    out = []
    for desc, unit, price, rate, cost in rng.sample(ITEMS, rng.randint(1, 4)):
        qty = Decimal(rng.choice([1, 1, 2, 3, 5, 10, 20]) if unit in ("人天", "场") else 1)
        out.append(
            LineData(
                description=desc,
                quantity=qty,
                unit=unit,
                unit_price_incl=Decimal(price),
                vat_rate=Decimal(rate),
                discount_percent=Decimal(rng.choice(["0", "0", "0", "5", "10"])),
                unit_cost_excl=Decimal(cost),
            )
        )
    return out


def _at(day: Any) -> datetime:
    return datetime.combine(day, time(10, 0), tzinfo=tenant_zone())


def seed(tenant: Any, products: Sequence[Any] = ()) -> None:
    """Runs inside the tenant schema; idempotent. `products`: core products to sell instead of services."""
    if Contract.objects.filter(title__startswith=DEMO_MARK).exists():
        return
    customers = list(Customer.objects.filter(owner__isnull=False).select_related("owner").order_by("id")[:60])
    if not customers:
        return
    rng = random.Random(f"documents-{tenant.schema_name}")
    today = tenant_today()
    with transaction.atomic():
        for i in range(QUOTES):
            customer = rng.choice(customers)
            day = today - timedelta(days=rng.randint(0, 360))
            quote = document_create(
                actor=customer.owner,
                model=Quote,
                lines=_lines(rng, products),
                customer=customer,
                owner=customer.owner,
                title=DEMO_MARK + rng.choice(GOODS_TITLES if products else TITLES),
                valid_until=day + timedelta(days=30),
            )
            state = rng.choice(["sent", "accepted", "rejected", "expired", "draft", "accepted"])
            Quote.objects.filter(pk=quote.pk).update(state=state, created_at=_at(day), sent_at=_at(day))
            if i % 5 == 0 and state in ("sent", "rejected"):  # revised: v1 superseded, v2 sent
                Quote.objects.filter(pk=quote.pk).update(state="superseded")
                v2 = document_create(
                    actor=customer.owner,
                    model=Quote,
                    lines=_lines(rng, products),
                    customer=customer,
                    owner=customer.owner,
                    title=quote.title,
                    root=quote,
                    version=2,
                    valid_until=day + timedelta(days=45),
                )
                Quote.objects.filter(pk=v2.pk).update(state="sent", created_at=_at(day + timedelta(days=7)))
        for _ in range(CONTRACTS):
            customer = rng.choice(customers)
            signed = today - timedelta(days=rng.randint(0, 364))
            contract = document_create(
                actor=customer.owner,
                model=Contract,
                lines=_lines(rng, products),
                customer=customer,
                owner=customer.owner,
                kind=Contract.Kind.ORDER
                if products and rng.random() < 0.8
                else rng.choice([Contract.Kind.CONTRACT] * 4 + [Contract.Kind.ORDER]),
                title=DEMO_MARK + rng.choice(GOODS_TITLES if products else TITLES),
                payment_days=rng.choice([30, 30, 60, 90]),
                prepayment_percent=Decimal(rng.choice(["0", "30", "50"])),
                start_date=signed,
                end_date=signed + timedelta(days=365),
                signed_on=signed,
            )
            roll = rng.random()
            state = (
                "confirmed"
                if roll < 0.75
                else "completed"
                if roll < 0.85
                else "cancelled"
                if roll < 0.95
                else "draft"
            )
            update: dict[str, Any] = {"state": state, "created_at": _at(signed)}
            if state in ("confirmed", "completed", "cancelled"):
                update["confirmed_at"] = _at(signed)
            if state == "cancelled":
                update["cancel_reason"] = rng.choice(["客户预算取消", "项目延期", "改为分期采购"])
            Contract.objects.filter(pk=contract.pk).update(**update)
