"""Demo data: selling from stock for the trade demo workspace (called by the trade seeder after its
purchases and orders exist). `seed_fulfilment` ships the confirmed orders' stock-tracked lines (most fully,
about one in five partially, within the stock there is), records a few customer returns and issues about
ten samples in each state (out, overdue, returned, consumed, turned into an order).

Idempotent: every document has a key derived from what it belongs to (the order, the delivery, the
sample's position), so a second run finds them and writes nothing new."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

import crm.modules.sales.public as sales
from crm.kernel.tenant_time import tenant_today, tenant_zone
from crm.modules.core.public import Customer
from crm.platform.errors import ServiceError
from crm.platform.permissions import Role
from crm.tenants.accounts.models import User

from . import services_fulfilment as ful
from .models import Delivery, Sample, SampleLine, StockBalance, Warehouse

SAMPLES_PER_STATE = 10
STATES = ("out", "overdue", "returned", "consumed", "converted")
CARRIERS = ("顺丰速运", "德邦物流", "中通快递", "京东物流", "自提")
CONSUME_REASONS = ("客户试用损耗", "样品留存客户处", "展会消耗")


def _actor() -> Any:
    return (
        User.objects.filter(role=Role.WAREHOUSE, is_active=True).order_by("id").first()
        or User.objects.filter(role=Role.OWNER, is_active=True).order_by("id").first()
    )


def _at(day: Any) -> datetime:
    return datetime.combine(day, time(15, 0), tzinfo=tenant_zone())


def _ship_orders(actor: Any, rng: random.Random, months: int) -> list[Delivery]:
    since = timezone.now() - timedelta(days=31 * months)
    made: list[Delivery] = []
    wh = ful.default_warehouse()
    if wh is None:
        return made
    for contract in ful_to_ship(actor).filter(confirmed_at__gte=since):
        lines = ful_open_lines(contract)
        partial = rng.random() < 0.2
        wanted = []
        for ln in lines:
            b = StockBalance.objects.filter(product_id=ln.product_id, warehouse=wh).first()
            free = (b.on_hand - b.reserved) if b else Decimal("0")
            mine = ln.open_quantity  # reserved for this order when it was confirmed
            qty = ln.open_quantity
            if partial:
                qty = max(Decimal("1"), (qty / 2).quantize(Decimal("1")))
            if qty > free + mine or qty <= 0:
                continue
            wanted.append((ln.pk, qty))
        if not wanted:
            continue
        shipped_on = (contract.confirmed_at or timezone.now()) + timedelta(days=rng.randint(1, 6))
        try:
            made.append(
                ful.delivery_create(
                    actor=actor,
                    contract=contract,
                    warehouse=wh,
                    lines=wanted,
                    waybill=f"SF{rng.randint(10**11, 10**12 - 1)}",
                    carrier=rng.choice(CARRIERS),
                    idempotency_key=f"demo:order:{contract.pk}",
                    shipped_at=min(shipped_on, timezone.now()),
                )
            )
        except ServiceError:
            continue  # not enough stock left for this one: it stays on the "to ship" list
    return made


def ful_to_ship(actor: Any) -> Any:
    from .selectors_fulfilment import to_ship

    return to_ship(actor=actor)


def ful_open_lines(contract: Any) -> list[Any]:
    from .selectors_fulfilment import open_lines_of

    return open_lines_of(contract)


def _returns(actor: Any, rng: random.Random) -> None:
    shipped = list(
        Delivery.objects.filter(idempotency_key__startswith="inventory:delivery:demo:").order_by("id")
    )
    for d in shipped[:: max(1, len(shipped) // 6 or 1)][:6]:
        line = d.lines.order_by("id").first()
        if line is None or line.returnable <= 0:
            continue
        try:
            ful.return_create(
                actor=actor,
                delivery=d,
                lines=[(line.pk, min(line.returnable, Decimal("1")))],
                reason=rng.choice(["包装破损", "型号发错", "质量问题"]),
                idempotency_key=f"demo:return:{d.pk}",
            )
        except ServiceError:
            continue


def _samples(rng: random.Random) -> None:
    wh = ful.default_warehouse()
    if wh is None:
        return
    stocked = list(
        StockBalance.objects.filter(warehouse=wh, on_hand__gte=10)
        .order_by("product_id")
        .values_list("product_id", flat=True)[:30]
    )
    customers = list(Customer.objects.filter(owner__isnull=False).select_related("owner").order_by("id")[:40])
    if not stocked or not customers:
        return
    today = tenant_today()
    n = 0
    for state in STATES:
        for _i in range(SAMPLES_PER_STATE):
            n += 1
            customer = customers[(n * 7) % len(customers)]
            products = rng.sample(stocked, min(len(stocked), rng.randint(1, 2)))
            expected = today + timedelta(days=rng.randint(5, 30))
            if state == "overdue":
                expected = today - timedelta(days=rng.randint(3, 40))
            try:
                sample = ful.sample_issue(
                    actor=customer.owner,
                    customer=customer,
                    warehouse=wh,
                    lines=[(pid, Decimal(rng.choice([1, 1, 2, 3]))) for pid in products],
                    expected_return=expected,
                    idempotency_key=f"demo:sample:{n}",
                )
            except ServiceError:
                continue
            open_lines = list(sample.lines.filter(outcome=SampleLine.Outcome.OUT))
            if not open_lines:
                continue
            try:
                if state == "returned":
                    for line in open_lines:
                        ful.sample_line_return(actor=customer.owner, line=line)
                elif state == "consumed":
                    for line in open_lines:
                        ful.sample_line_consume(
                            actor=customer.owner, line=line, reason=rng.choice(CONSUME_REASONS)
                        )
                elif state == "converted":
                    ful.sample_convert(actor=customer.owner, sample=sample)
            except ServiceError:
                continue


def seed_fulfilment(*, months: int = 12) -> dict[str, int]:
    """Run inside the trade demo tenant's schema after its stock and orders exist. Returns counts."""
    actor = _actor()
    if actor is None or not Warehouse.objects.filter(kind=Warehouse.Kind.STOCK, is_active=True).exists():
        return {"deliveries": 0, "samples": 0}
    rng = random.Random("fulfilment-demo")
    # Shipping once: a second run would meet fewer open orders, draw other partial quantities from the same
    # random sequence and ship orders the first run had to leave for lack of stock.
    if not Delivery.objects.filter(idempotency_key__startswith="inventory:delivery:demo:order:").exists():
        _ship_orders(actor, rng, months)
    _returns(actor, rng)
    # Samples once, for the same reason: a sample the first run could not issue (stock it lacked then) would
    # go out on the second.
    if not Sample.objects.filter(idempotency_key__startswith="inventory:sample:demo:").exists():
        _samples(rng)
    return {
        "deliveries": Delivery.objects.count(),
        "samples": Sample.objects.count(),
        "orders": sales.Contract.objects.filter(deliveries__isnull=False).distinct().count(),
    }
