"""Purchasing services: validation changes nothing, receipts cost and idempotency, over-receipt, returns at
the received price, the comparison ranking (with the VAT-deductible switch) and an idempotent award."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from crm.modules.inventory.public import StockBalance, StockMove
from crm.modules.purchasing import services
from crm.modules.purchasing.costing import real_cost
from crm.modules.purchasing.models import PurchaseOrder, Receipt, SupplierBill, SupplierPrice
from crm.modules.purchasing.selectors import aging, payables_total, rfq_comparison
from crm.platform.errors import PermissionDenied, ServiceError

from .factories import confirmed_order, make_product, make_supplier, make_warehouse

D = Decimal


def bal(p: Any, wh: Any) -> StockBalance:
    return StockBalance.objects.get(product=p, warehouse=wh)


def test_bad_order_input_writes_nothing(pur: Any) -> None:
    owner = pur.users["owner"]
    s, p = make_supplier(), make_product()
    with pytest.raises(ServiceError):
        services.order_create(
            actor=owner,
            supplier=s,
            lines=[
                services.OrderLineInput(p.pk, D("1"), D("10")),
                services.OrderLineInput(p.pk, D("-1"), D("1")),
            ],
        )
    with pytest.raises(PermissionDenied):
        services.order_create(
            actor=pur.users["sales"], supplier=s, lines=[services.OrderLineInput(p.pk, D("1"), D("1"))]
        )
    assert PurchaseOrder.objects.count() == 0


def test_receipt_costs_tax_exclusive_with_special_invoice_and_updates_average(pur: Any) -> None:
    # Given 10 in stock at 10.00 and an order at 11.30 incl. 13 % from a special-invoice supplier
    owner, wh, p = pur.users["owner"], make_warehouse(), make_product()
    first = confirmed_order(owner, make_supplier(), [(p, "10", "11.30")], wh)
    services.receipt_create(actor=owner, order=first)
    assert bal(p, wh).average_cost == D("10.0000")
    # When 10 more arrive at 22.60 incl. (20.00 excl.)
    second = confirmed_order(owner, make_supplier(), [(p, "10", "22.60")], wh)
    services.receipt_create(actor=owner, order=second)
    # Then the moving average is (100 + 200) / 20
    assert (bal(p, wh).on_hand, bal(p, wh).average_cost) == (D("20"), D("15.0000"))


def test_receipt_costs_tax_inclusive_when_not_deductible(pur: Any) -> None:
    owner, wh, p = pur.users["owner"], make_warehouse(), make_product()
    small = confirmed_order(owner, make_supplier("general_3"), [(p, "2", "10.30")], wh)
    services.receipt_create(actor=owner, order=small)
    assert bal(p, wh).average_cost == D("10.3000")
    # The workspace switch: not deductible at all, even with a special invoice
    services.settings_update(actor=owner, input_vat_deductible=False, capital_rate_percent=D("6"))
    p2 = make_product()
    special = confirmed_order(owner, make_supplier(), [(p2, "1", "11.30")], wh)
    services.receipt_create(actor=owner, order=special)
    assert bal(p2, wh).average_cost == D("11.3000")


def test_over_receipt_refused_unless_confirmed_and_partial_status(pur: Any) -> None:
    owner, wh, p = pur.users["owner"], make_warehouse(), make_product()
    order = confirmed_order(owner, make_supplier(), [(p, "10", "11.30")], wh)
    (line,) = order.lines.all()
    services.receipt_create(actor=owner, order=order, lines=[services.ReceiveInput(line.pk, D("4"))])
    order.refresh_from_db()
    assert order.receipt_status == "partial"
    with pytest.raises(ServiceError) as err:
        services.receipt_create(actor=owner, order=order, lines=[services.ReceiveInput(line.pk, D("7"))])
    assert err.value.code == "over_receipt"
    assert Receipt.objects.filter(order=order).count() == 1 and bal(p, wh).on_hand == D("4")
    services.receipt_create(
        actor=owner, order=order, lines=[services.ReceiveInput(line.pk, D("7"))], allow_over=True
    )
    order.refresh_from_db()
    assert order.receipt_status == "full" and bal(p, wh).on_hand == D("11")


def test_receiving_on_draft_or_cancelled_order_is_refused(pur: Any) -> None:
    owner, wh, p = pur.users["owner"], make_warehouse(), make_product()
    draft = services.order_create(
        actor=owner,
        supplier=make_supplier(),
        warehouse=wh,
        lines=[services.OrderLineInput(p.pk, D("1"), D("1"))],
    )
    with pytest.raises(ServiceError):
        services.receipt_create(actor=owner, order=draft)
    services.order_transition(actor=owner, order=draft, name="cancel", reason="不要了")
    with pytest.raises(ServiceError):
        services.receipt_create(actor=owner, order=draft)
    assert StockMove.objects.filter(product=p).count() == 0


def test_retried_receipt_posts_once(pur: Any) -> None:
    owner, wh, p = pur.users["warehouse"], make_warehouse(), make_product()
    order = confirmed_order(pur.users["owner"], make_supplier(), [(p, "5", "11.30")], wh)
    a = services.receipt_create(actor=owner, order=order, idempotency_key="tok-1")
    b = services.receipt_create(actor=owner, order=order, idempotency_key="tok-1")
    assert a.pk == b.pk
    assert StockMove.objects.filter(product=p).count() == 1 and bal(p, wh).on_hand == D("5")


def test_return_leaves_at_the_price_received(pur: Any) -> None:
    owner, wh, p = pur.users["owner"], make_warehouse(), make_product()
    cheap = confirmed_order(owner, make_supplier(), [(p, "10", "11.30")], wh)  # 10.00 excl.
    receipt = services.receipt_create(actor=owner, order=cheap)
    dear = confirmed_order(owner, make_supplier(), [(p, "10", "33.90")], wh)  # 30.00 excl.
    services.receipt_create(actor=owner, order=dear)
    assert bal(p, wh).average_cost == D("20.0000")
    (rl,) = receipt.lines.all()
    ret = services.return_create(actor=owner, order=cheap, lines=[services.ReceiveInput(rl.pk, D("4"))])
    move = StockMove.objects.get(document_type="purchasing.receipt", document_id=ret.pk)
    assert (move.kind, move.unit_cost, move.value) == ("return_out", D("10.0000"), D("-40.00"))
    b = bal(p, wh)
    assert (b.on_hand, b.value) == (D("16"), D("360.00"))
    cheap.refresh_from_db()
    assert cheap.receipt_status == "partial"
    with pytest.raises(ServiceError):
        services.return_create(actor=owner, order=cheap, lines=[services.ReceiveInput(rl.pk, D("7"))])


def test_confirm_writes_price_history(pur: Any) -> None:
    owner, s, p = pur.users["owner"], make_supplier(), make_product()
    order = confirmed_order(owner, s, [(p, "3", "12.50")], make_warehouse())
    row = SupplierPrice.objects.get(supplier=s, product=p)
    assert (row.unit_price_incl, row.source) == (D("12.5000"), order.number)


def test_real_cost_parts() -> None:
    c = real_cost(
        price_incl=D("113"),
        vat_rate=D("0.13"),
        deductible=True,
        freight=D("50"),
        goods_total=D("1130"),
        capital_rate_percent=D("6"),
        payment_days=73,
    )
    assert (c.base, c.freight, c.terms) == (D("100.0000"), D("5.0000"), D("-1.2000"))
    assert c.total == D("103.8000")


def test_comparison_ranking_follows_the_vat_switch_and_award_is_idempotent(pur: Any) -> None:
    owner, p = pur.users["owner"], make_product()
    special, small = make_supplier("special_13"), make_supplier("general_3")
    rfq = services.rfq_create(
        actor=owner, lines=[services.RfqLineInput(p.pk, D("100"))], suppliers=[special, small]
    )
    (line,) = rfq.lines.all()
    # 113 incl. with a special invoice (100 excl.) against 105 incl. with a 3 % general invoice
    services.quote_save(
        actor=owner,
        rfq=rfq,
        supplier=special,
        prices=[services.QuotePrice(line.pk, D("113"))],
        payment_days=0,
    )
    services.quote_save(
        actor=owner, rfq=rfq, supplier=small, prices=[services.QuotePrice(line.pk, D("105"))], payment_days=0
    )
    (row,) = rfq_comparison(rfq=rfq)
    assert [o.quote.supplier_id for o in row.offers] == [special.pk, small.pk] and row.offers[0].cheapest
    services.settings_update(actor=owner, input_vat_deductible=False, capital_rate_percent=D("6"))
    (row,) = rfq_comparison(rfq=rfq)
    assert [o.quote.supplier_id for o in row.offers] == [small.pk, special.pk]
    # Award the cheapest (now the small-scale supplier), twice: one order
    first = services.rfq_award(actor=owner, rfq=rfq)
    again = services.rfq_award(actor=owner, rfq=rfq)
    assert [o.pk for o in first] == [o.pk for o in again] and len(first) == 1
    assert first[0].supplier_id == small.pk and first[0].state == "draft"
    assert SupplierPrice.objects.filter(source=rfq.number).count() == 2


def test_bills_payments_and_aging(pur: Any) -> None:
    from datetime import timedelta

    from crm.kernel.tenant_time import tenant_today

    owner = pur.users["owner"]
    s = make_supplier(payment_days=30)
    today = tenant_today()
    old = services.bill_create(
        actor=owner, supplier=s, number="F1", amount_incl=D("1000"), bill_date=today - timedelta(days=75)
    )
    new = services.bill_create(actor=owner, supplier=s, number="F2", amount_incl=D("500"), bill_date=today)
    assert new.due_date == today + timedelta(days=30)
    with pytest.raises(ServiceError):
        services.bill_create(actor=owner, supplier=s, number="F1", amount_incl=D("1"), bill_date=today)
    services.payment_create(actor=owner, supplier=s, amount=D("300"), paid_on=today, idempotency_key="p1")
    services.payment_create(actor=owner, supplier=s, amount=D("300"), paid_on=today, idempotency_key="p1")
    old.refresh_from_db()
    assert old.paid == D("300.00")
    (row,) = list[Any](aging(actor=owner))
    assert (row.not_due, row.d31_60, row.total) == (D("500.00"), D("700.00"), D("1200.00"))
    assert payables_total() == D("1200.00")
    with pytest.raises(ServiceError):
        services.payment_create(
            actor=owner, supplier=s, amount=D("10"), paid_on=today, allocations={new.pk: D("600")}
        )
    assert SupplierBill.objects.get(pk=new.pk).paid == 0
