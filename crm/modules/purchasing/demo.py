"""Demo data of the purchasing capability: a Chinese trading firm's purchasing year, on top of the core demo's
products. Eight suppliers (general and small-scale taxpayers, special and general invoices) with contacts and
price history, six RFQs with three quotes each (four awarded), about forty purchase orders over the last
twelve months (most received into the main warehouse, some partly, a few still open, one cancelled), the
suppliers' bills and payments (some overdue).

Everything goes through the purchasing services (so stock, numbers and price history are what the screens
would produce); afterwards the dates are moved back to when things happened (see `_backdate`). Idempotent:
a second run finds the first demo supplier and does nothing."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django_tenants.utils import schema_context

from crm.kernel.tenant_time import tenant_today, tenant_zone
from crm.modules.core.public import Customer, Product
from crm.modules.inventory.public import StockMove, Warehouse
from crm.platform.errors import ServiceError
from crm.platform.permissions import Role
from crm.tenants.accounts.models import User

from . import services
from .models import PurchaseOrder, Receipt, ReceiptLine, Rfq, Supplier, SupplierBill, SupplierPrice

FIRST = "GYS001"
# code, name, tax status, invoice, payment days, bank, city/address, contacts, product codes supplied
SUPPLIERS = [
    (
        "GYS001",
        "唐山宏钢钢铁贸易有限公司",
        "general",
        "special_13",
        30,
        "中国建设银行唐山路北支行",
        "河北省唐山市路北区建设北路 126 号",
        [("刘建军", "销售经理", "13903150218"), ("孙丽", "财务", "0315-2856610")],
        ["GC-001", "GC-002", "GC-010"],
    ),
    (
        "GYS002",
        "天津荣程物资有限公司",
        "general",
        "special_13",
        45,
        "天津银行河西支行",
        "天津市河西区友谊路 35 号",
        [("王海涛", "业务员", "13820067731")],
        ["GC-001", "GC-002", "GC-010"],
    ),
    (
        "GYS003",
        "宁波恒力液压机械有限公司",
        "general",
        "special_13",
        60,
        "宁波银行江北支行",
        "浙江省宁波市江北区长兴路 688 号",
        [("陈国强", "销售总监", "13857420915"), ("周敏", "商务", "0574-87651230")],
        ["JX-101", "JX-102"],
    ),
    (
        "GYS004",
        "温州瑞安通用减速机厂",
        "small_scale",
        "general_3",
        0,
        "瑞安农商银行塘下支行",
        "浙江省瑞安市塘下镇罗凤街道 18 号",
        [("林志明", "厂长", "13706776523")],
        ["JX-101", "JX-102"],
    ),
    (
        "GYS005",
        "深圳市华智工控科技有限公司",
        "general",
        "special_13",
        30,
        "招商银行深圳南山支行",
        "广东省深圳市南山区科技园南区高新南七道 9 号",
        [("黄晓东", "大客户经理", "13602591170"), ("吴静", "技术支持", "0755-26713345")],
        ["DZ-201", "DZ-202"],
    ),
    (
        "GYS006",
        "东莞市凯联电子经营部",
        "small_scale",
        "general_1",
        15,
        "东莞农商银行长安支行",
        "广东省东莞市长安镇振安中路 221 号",
        [("张伟", "老板", "13929205586")],
        ["DZ-201", "DZ-202"],
    ),
    (
        "GYS007",
        "佛山市南海金意陶瓷有限公司",
        "general",
        "special_13",
        60,
        "中国工商银行佛山南海支行",
        "广东省佛山市南海区西樵镇太平工业区",
        [("梁嘉欣", "区域经理", "13690882450")],
        ["BC-301"],
    ),
    (
        "GYS008",
        "临沂兰山建材批发部",
        "small_scale",
        "none",
        0,
        "",
        "山东省临沂市兰山区通达路建材市场 B 区 12 号",
        [("赵磊", "店主", "15806395521")],
        ["BC-301", "GC-001"],
    ),
]
# Typical order quantities per product (in its unit).
QUANTITIES = {
    "GC-001": (20, 120),
    "GC-002": (20, 100),
    "GC-010": (15, 80),
    "JX-101": (5, 40),
    "JX-102": (3, 20),
    "DZ-201": (20, 150),
    "DZ-202": (5, 30),
    "BC-301": (200, 1500),
}
RFQ_TITLES = [
    "一季度螺纹钢集中采购",
    "液压泵年度框架询价",
    "工控主板批量采购",
    "展厅瓷砖备货",
    "二季度钢材补库",
    "减速机替代供应商比价",
]


def seed(tenant: Any) -> None:
    """Add the purchasing demo to `tenant` once (a second run finds the first demo supplier and stops)."""
    with schema_context(tenant.schema_name):
        if Supplier.objects.filter(code=FIRST).exists():
            return
        _seed(random.Random(f"purchasing:{tenant.schema_name}"))


def _q(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _price(rng: random.Random, product: Product, supplier: Supplier, month_factor: float) -> Decimal:
    """A tax-inclusive price around the product's cost: small-scale shops are a little cheaper on paper."""
    base = (product.cost or product.price or Decimal("100")) * Decimal(str(month_factor))
    markup = Decimal("1.13") if supplier.invoice_type == "special_13" else Decimal("1.06")
    return _q(base * markup * Decimal(str(rng.uniform(0.97, 1.04))))


_ZONE: list[Any] = []


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=_ZONE[0])


@transaction.atomic
def _seed(rng: random.Random) -> None:
    actor = (
        User.objects.filter(is_active=True, role=Role.OWNER).order_by("id").first()
        or User.objects.filter(is_active=True, role=Role.ADMIN).order_by("id").first()
    )
    products = {p.code: p for p in Product.objects.filter(code__in=QUANTITIES, is_active=True)}
    if actor is None or not products:
        return  # no owner or no core demo products: nothing to buy
    by_pk = {p.pk: p for p in products.values()}
    warehouse = Warehouse.objects.filter(is_active=True, kind=Warehouse.Kind.STOCK).order_by(
        "id"
    ).first() or Warehouse.objects.create(code="MAIN", name="主仓库")
    today = tenant_today()
    _ZONE[:] = [tenant_zone()]  # one look-up of the workspace's time zone for every date below
    services.settings_get()

    # --- suppliers, contacts, opening price history
    suppliers: list[tuple[Supplier, list[Product]]] = []
    for code, name, tax, invoice, days, bank, address, contacts, codes in SUPPLIERS:
        s = services.supplier_create(
            actor=actor,
            code=code,
            name=name,
            tax_status=tax,
            invoice_type=invoice,
            payment_days=days,
            bank_name=bank,
            bank_account=f"{rng.randrange(10**15, 10**16)}" if bank else "",
            address=address,
            phone=contacts[0][2],
        )
        for person, title, phone in contacts:
            services.supplier_contact_add(actor=actor, supplier=s, name=person, title=title, phone=phone)
        goods = [products[c] for c in codes if c in products]
        suppliers.append((s, goods))
        SupplierPrice.objects.bulk_create(
            SupplierPrice(
                supplier=s,
                product=p,
                unit_price_incl=_price(rng, p, s, 0.98),
                vat_rate=s.vat_rate,
                valid_from=today - timedelta(days=380),
                source="年度报价单",
            )
            for p in goods
        )
    # A customer of the core demo that also sells to us (the steel trader also buys machine parts).
    customer = Customer.objects.filter(tags__contains=["演示"], supplier__isnull=True).order_by("id").first()
    if customer is not None:
        services.supplier_update(actor=actor, supplier=suppliers[1][0], customer=customer)

    # --- RFQs with three quotes each; four awarded (their orders join the year's orders)
    dated: list[tuple[date, PurchaseOrder]] = []
    by_product: dict[int, list[Supplier]] = {}
    for s, goods in suppliers:
        for p in goods:
            by_product.setdefault(p.pk, []).append(s)
    families = [
        ["GC-001", "GC-002"],
        ["JX-101"],
        ["DZ-201", "DZ-202"],
        ["BC-301"],
        ["GC-010", "GC-001"],
        ["JX-102"],
    ]
    for i, (title, family) in enumerate(zip(RFQ_TITLES, families, strict=True)):
        goods = [products[c] for c in family if c in products]
        if not goods:
            continue
        day = today - timedelta(days=330 - i * 55)
        bidders = list(dict.fromkeys(s for p in goods for s in by_product.get(p.pk, [])))
        others = [s for s, _g in suppliers if s not in bidders]
        bidders = (bidders + rng.sample(others, len(others)))[:3]
        rfq = services.rfq_create(
            actor=actor,
            title=title,
            due_date=day + timedelta(days=7),
            lines=[services.RfqLineInput(p.pk, Decimal(rng.randrange(*QUANTITIES[p.code]))) for p in goods],
            suppliers=bidders,
        )
        lines = list(rfq.lines.all())
        for s in bidders:
            services.quote_save(
                actor=actor,
                rfq=rfq,
                supplier=s,
                prices=[
                    services.QuotePrice(ln.pk, _price(rng, by_pk[ln.product_id], s, 1.0)) for ln in lines
                ],
                freight=Decimal(rng.choice([0, 0, 200, 350, 500, 800])),
            )
        Rfq.objects.filter(pk=rfq.pk).update(created_at=_at(day, 10), updated_at=_at(day, 10))
        if i < 4:
            for order in services.rfq_award(actor=actor, rfq=rfq):
                dated.append((day + timedelta(days=8), order))

    # --- the year's other orders
    for _n in range(36):
        s, goods = rng.choice(suppliers)
        if not goods:
            continue
        day = today - timedelta(days=rng.randrange(5, 360))
        factor = 0.95 + 0.1 * (360 - (today - day).days) / 360  # prices drift up over the year
        picked = rng.sample(goods, rng.randint(1, min(2, len(goods))))
        order = services.order_create(
            actor=actor,
            supplier=s,
            warehouse=warehouse,
            expected_on=day + timedelta(days=rng.choice([3, 5, 7, 10])),
            lines=[
                services.OrderLineInput(
                    p.pk, Decimal(rng.randrange(*QUANTITIES[p.code])), _price(rng, p, s, factor)
                )
                for p in picked
            ],
        )
        dated.append((day, order))

    # Post in date order, so the moving average cost follows the year as it happened.
    dated.sort(key=lambda pair: (pair[0], pair[1].pk))
    bills: list[SupplierBill] = []
    for n, (day, order) in enumerate(dated):
        age = (today - day).days
        if order.warehouse_id is None:
            PurchaseOrder.objects.filter(pk=order.pk).update(warehouse=warehouse)
            order.warehouse = warehouse
        if n == len(dated) - 1:
            continue  # the newest order is still a draft
        services.order_transition(actor=actor, order=order, name="submit")
        if n == len(dated) - 2:
            continue  # waiting for confirmation
        try:
            services.order_transition(actor=actor, order=order, name="confirm")
        except ServiceError:
            continue  # the workspace's approval rules want an approver first: left submitted
        if n == 7:
            services.order_transition(
                actor=actor, order=order, name="cancel", reason="供应商缺货，改从他处采购"
            )
            _backdate(order, day, [])
            continue
        receipts: list[tuple[Receipt, date]] = []
        if age > 12:
            arrived = day + timedelta(days=rng.choice([3, 5, 7]))
            if n % 7 == 3:  # partly delivered: the rest is still to come
                partial = [
                    services.ReceiveInput(ln.pk, max(Decimal("1"), _q(ln.quantity * Decimal("0.6"), "1")))
                    for ln in order.lines.all()
                ]
                receipts.append((services.receipt_create(actor=actor, order=order, lines=partial), arrived))
            else:
                receipts.append((services.receipt_create(actor=actor, order=order), arrived))
                if age > 60 and n % 3 == 0:
                    services.order_transition(actor=actor, order=order, name="complete")
        _backdate(order, day, receipts)
        for receipt, arrived in receipts:
            amount = sum(
                (
                    r.quantity * r.order_line.unit_price_incl
                    for r in receipt.lines.select_related("order_line")
                ),
                Decimal("0"),
            )
            bill = services.bill_create(
                actor=actor,
                supplier=order.supplier,
                number=f"FP{arrived:%y%m%d}{order.pk:04d}",
                amount_incl=_q(amount),
                bill_date=arrived,
                order=order,
            )
            bills.append(bill)

    # --- payments: most bills due more than a fortnight ago are paid, a few are left overdue or half paid
    for i, bill in enumerate(bills):
        if bill.due_date > today - timedelta(days=15) or i % 6 == 5:
            continue  # not due yet, or overdue (the payables page shows them)
        amount = bill.amount_incl if i % 9 != 4 else _q(bill.amount_incl / 2)
        paid_on = min(bill.due_date + timedelta(days=rng.randrange(0, 10)), today)
        services.payment_create(
            actor=actor,
            supplier=bill.supplier,
            amount=amount,
            paid_on=paid_on,
            method=rng.choice(["bank", "bank", "bank", "acceptance"]),
            reference=f"网银 {paid_on:%Y%m%d}",
            allocations={bill.pk: amount},
            idempotency_key=f"demo:payment:{bill.pk}",
        )


def _backdate(order: PurchaseOrder, day: date, receipts: list[tuple[Receipt, date]]) -> None:
    """Demo only: the services stamp everything "now" (the ledger's posted_at too); a purchasing year needs
    its history on the days it happened, so the order, its price-history rows, its receipts and their
    stock moves are moved back to those days, in the seeder's transaction (never done outside the demo)."""
    created = _at(day, 9)
    PurchaseOrder.objects.filter(pk=order.pk).update(
        created_at=created, updated_at=created, confirmed_at=_at(day, 15)
    )
    SupplierPrice.objects.filter(supplier_id=order.supplier_id, source=order.number).update(valid_from=day)
    for receipt, arrived in receipts:
        at = _at(arrived, 14)
        Receipt.objects.filter(pk=receipt.pk).update(created_at=at, updated_at=at)
        line_ids = list(ReceiptLine.objects.filter(receipt=receipt).values_list("pk", flat=True))
        StockMove.objects.filter(
            kind="receipt", document_id=receipt.pk, document_line_id__in=line_ids
        ).update(posted_at=at)
