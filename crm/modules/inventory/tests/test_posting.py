"""The posting rules of `stock_post`: average cost, refusal below zero, idempotency, negative-stock cost
correction, returns, units, transfers, counts, stock as of a date, reservations, the ledger check."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from crm.kernel.models import Notice
from crm.kernel.tenant_time import tenant_today
from crm.modules.inventory import selectors, services
from crm.modules.inventory.models import StockBalance, StockDocument, StockMove, UnitConversion
from crm.platform.errors import PermissionDenied, ServiceError

from .factories import bal, ledger, make_product, make_warehouse, mv, post

D = Decimal
K = StockMove.Kind


def test_moving_average_cost_follows_a_hand_computed_sequence(inv: Any) -> None:
    # Given a product in a warehouse
    u, p, w = inv.users["owner"], make_product(), make_warehouse()
    # When receipts and deliveries alternate; then the average is value / quantity to 4 places
    post(u, mv(p, w, "10", K.RECEIPT, "3.00"))
    assert (bal(p, w).on_hand, bal(p, w).value, bal(p, w).average_cost) == (D("10"), D("30.00"), D("3.0000"))
    post(u, mv(p, w, "5", K.RECEIPT, "4.10"))
    assert (bal(p, w).value, bal(p, w).average_cost) == (D("50.50"), D("3.3667"))
    (out,) = post(u, mv(p, w, "4", K.DELIVERY))
    assert (out.quantity, out.unit_cost, out.value) == (D("-4"), D("3.3667"), D("-13.47"))
    assert (bal(p, w).value, bal(p, w).average_cost) == (D("37.03"), D("3.3664"))
    post(u, mv(p, w, "9", K.RECEIPT, "2.50"))
    assert (bal(p, w).on_hand, bal(p, w).value, bal(p, w).average_cost) == (D("20"), D("59.53"), D("2.9765"))
    # Emptying the balance takes the whole remaining value: no value is left on zero stock
    (last,) = post(u, mv(p, w, "20", K.DELIVERY))
    assert last.value == D("-59.53")
    assert (bal(p, w).on_hand, bal(p, w).value) == (D("0"), D("0.00"))
    # A customer return comes back at the cost it left with
    post(u, mv(p, w, "2", K.RETURN_IN, "2.9765"))
    assert (bal(p, w).value, bal(p, w).average_cost) == (D("5.95"), D("2.9750"))
    assert ledger(p, w) == (bal(p, w).on_hand, bal(p, w).value)


def test_return_to_supplier_leaves_at_the_price_received(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product(), make_warehouse()
    post(u, mv(p, w, "10", K.RECEIPT, "1.00"), mv(p, w, "10", K.RECEIPT, "3.00"))
    assert bal(p, w).average_cost == D("2.0000")
    (ret,) = post(u, mv(p, w, "5", K.RETURN_OUT, "3.00"))
    assert (ret.unit_cost, ret.value) == (D("3.0000"), D("-15.00"))
    assert (bal(p, w).on_hand, bal(p, w).value, bal(p, w).average_cost) == (D("15"), D("25.00"), D("1.6667"))


def test_shipping_more_than_on_hand_is_refused_and_writes_nothing(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product("螺丝"), make_warehouse()
    post(u, mv(p, w, "3", K.RECEIPT, "5"))
    moves_before = StockMove.objects.count()
    with pytest.raises(ServiceError, match="Not enough stock of 螺丝"):
        post(u, mv(p, w, "1", K.RECEIPT, "5"), mv(p, w, "5", K.DELIVERY), key="refused")
    assert StockMove.objects.count() == moves_before
    assert bal(p, w).on_hand == D("3")
    # The refused key was rolled back with everything else: a corrected retry may use it
    post(u, mv(p, w, "3", K.DELIVERY), key="refused")
    assert bal(p, w).on_hand == D("0")


@pytest.mark.parametrize(
    ("qty", "kind", "cost", "field"),
    [
        ("0", K.RECEIPT, "1", "quantity"),
        ("-2", K.DELIVERY, None, "quantity"),
        ("2", K.RECEIPT, None, "unit_cost"),
        ("2", K.RECEIPT, "-1", "unit_cost"),
        ("2", "teleport", None, "kind"),
    ],
)
def test_bad_moves_are_refused_with_the_field(
    inv: Any, qty: str, kind: str, cost: str | None, field: str
) -> None:
    u, p, w = inv.users["owner"], make_product(), make_warehouse()
    with pytest.raises(ServiceError) as err:
        post(u, mv(p, w, qty, kind, cost))
    assert err.value.field == field
    assert not StockMove.objects.filter(product=p).exists()


def test_unknown_or_inactive_warehouse_is_refused(inv: Any) -> None:
    u, p = inv.users["owner"], make_product()
    off = make_warehouse(is_active=False)
    with pytest.raises(ServiceError, match="inactive"):
        post(u, mv(p, off, "1", K.RECEIPT, "1"))
    with pytest.raises(ServiceError, match="Unknown warehouse"):
        services.stock_post(
            actor=u,
            moves=[
                services.MoveData(
                    product_id=p.pk, warehouse_id=987654, quantity=D("1"), kind=K.RECEIPT, unit_cost=D("1")
                )
            ],
            idempotency_key="x-unknown",
        )


def test_same_key_twice_posts_once_and_returns_the_first_moves(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product(), make_warehouse()
    first = post(u, mv(p, w, "4", K.RECEIPT, "2"), key="delivery-task-17")
    again = post(u, mv(p, w, "4", K.RECEIPT, "2"), key="delivery-task-17")
    assert [m.pk for m in again] == [m.pk for m in first]
    assert bal(p, w).on_hand == D("4")
    assert StockMove.objects.filter(product=p).count() == 1


def test_negative_stock_when_allowed_gets_a_visible_cost_correction(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product(), make_warehouse(allows_negative=True)
    post(u, mv(p, w, "2", K.RECEIPT, "10"))
    post(u, mv(p, w, "5", K.DELIVERY))  # 3 shipped ahead of stock at the last average (10)
    assert (bal(p, w).on_hand, bal(p, w).value, bal(p, w).average_cost) == (
        D("-3"),
        D("-30.00"),
        D("10.0000"),
    )
    moves = post(u, mv(p, w, "10", K.RECEIPT, "12"))
    receipt, correction = moves
    assert (receipt.kind, receipt.value) == (K.RECEIPT, D("120.00"))
    # The 7 left are worth 7 × 12 = 84; the books said −30 + 120 = 90: a −6 adjustment, quantity 0
    assert (correction.kind, correction.quantity, correction.value) == (K.ADJUSTMENT, D("0"), D("-6.00"))
    assert "Cost correction" in correction.reason
    assert (bal(p, w).on_hand, bal(p, w).value, bal(p, w).average_cost) == (D("7"), D("84.00"), D("12.0000"))
    assert ledger(p, w) == (D("7"), D("84.00"))


def test_workspace_setting_allows_negative_and_caller_may_override(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product(), make_warehouse()
    with pytest.raises(ServiceError):
        post(u, mv(p, w, "1", K.DELIVERY))
    services.settings_update(actor=u, allow_negative=True)
    post(u, mv(p, w, "1", K.DELIVERY))
    assert bal(p, w).on_hand == D("-1")
    with pytest.raises(ServiceError):
        post(u, mv(p, w, "1", K.DELIVERY), allow_negative=False)
    with pytest.raises(PermissionDenied):
        services.settings_update(actor=inv.users["warehouse"], allow_negative=False)


def test_unit_conversion_turns_boxes_into_pieces(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product(unit="件"), make_warehouse()
    services.unit_conversion_set(actor=u, product=p, unit="箱", factor=D("12"))
    (m,) = post(u, mv(p, w, "2", K.RECEIPT, "60", unit="箱"))  # 60 per box = 5 per piece
    assert (m.quantity, m.unit_cost, m.value) == (D("24"), D("5.0000"), D("120.00"))
    post(u, mv(p, w, "3", K.DELIVERY, unit="件"))
    assert bal(p, w).on_hand == D("21")
    with pytest.raises(ServiceError, match="no conversion"):
        post(u, mv(p, w, "1", K.DELIVERY, unit="托"))
    with pytest.raises(ServiceError):
        services.unit_conversion_set(actor=u, product=p, unit="托", factor=D("0"))
    assert UnitConversion.objects.filter(product=p).count() == 1


def test_transfer_moves_quantity_and_value_atomically(inv: Any) -> None:
    u, p, a, b = inv.users["warehouse"], make_product(), make_warehouse(), make_warehouse()
    post(u, mv(p, a, "10", K.RECEIPT, "3"), mv(p, a, "10", K.RECEIPT, "4"))
    doc = services.transfer_create(
        actor=u, from_warehouse=a, to_warehouse=b, lines=[services.LineInput(p.pk, D("6"))], reason="补货"
    )
    assert doc.number.startswith("DB-")
    out, into = StockMove.objects.filter(document_id=doc.pk).order_by("id")
    assert (out.kind, out.quantity, out.value) == (K.TRANSFER_OUT, D("-6"), D("-21.00"))
    assert (into.kind, into.quantity, into.value, into.unit_cost) == (
        K.TRANSFER_IN,
        D("6"),
        D("21.00"),
        D("3.5000"),
    )
    assert into.document_number == doc.number
    assert (bal(p, a).on_hand, bal(p, a).value) == (D("14"), D("49.00"))
    assert (bal(p, b).on_hand, bal(p, b).value) == (D("6"), D("21.00"))
    # Too much: nothing of the transfer is written, no number taken
    with pytest.raises(ServiceError):
        services.transfer_create(
            actor=u, from_warehouse=a, to_warehouse=b, lines=[services.LineInput(p.pk, D("15"))]
        )
    assert StockDocument.objects.filter(kind="transfer").count() == 1
    with pytest.raises(ServiceError):
        services.transfer_create(
            actor=u, from_warehouse=a, to_warehouse=a, lines=[services.LineInput(p.pk, D("1"))]
        )
    with pytest.raises(PermissionDenied):
        services.transfer_create(
            actor=inv.users["manager"],
            from_warehouse=a,
            to_warehouse=b,
            lines=[services.LineInput(p.pk, D("1"))],
        )


def test_transfer_with_the_same_key_twice_is_one_document(inv: Any) -> None:
    u, p, a, b = inv.users["owner"], make_product(), make_warehouse(), make_warehouse()
    post(u, mv(p, a, "5", K.RECEIPT, "1"))
    lines = [services.LineInput(p.pk, D("2"))]
    d1 = services.transfer_create(
        actor=u, from_warehouse=a, to_warehouse=b, lines=lines, idempotency_key="k1"
    )
    d2 = services.transfer_create(
        actor=u, from_warehouse=a, to_warehouse=b, lines=lines, idempotency_key="k1"
    )
    assert d1.pk == d2.pk
    assert bal(p, b).on_hand == D("2")


def test_stock_count_posts_the_differences_with_the_reason(inv: Any) -> None:
    u, w = inv.users["owner"], make_warehouse()
    short, surplus, same = make_product(), make_product(), make_product()
    post(
        u,
        mv(short, w, "10", K.RECEIPT, "2"),
        mv(surplus, w, "4", K.RECEIPT, "5"),
        mv(same, w, "1", K.RECEIPT, "1"),
    )
    doc = services.count_create(
        actor=u,
        warehouse=w,
        reason="年末盘点",
        lines=[
            services.LineInput(short.pk, D("8")),
            services.LineInput(surplus.pk, D("6")),
            services.LineInput(same.pk, D("1")),
        ],
    )
    lines = {ln.product_id: ln for ln in doc.lines.all()}
    assert (lines[short.pk].expected, lines[short.pk].counted, lines[short.pk].quantity) == (
        D("10"),
        D("8"),
        D("-2"),
    )
    moves = {m.product_id: m for m in StockMove.objects.filter(document_id=doc.pk)}
    assert set(moves) == {short.pk, surplus.pk}
    assert (moves[short.pk].kind, moves[short.pk].value, moves[short.pk].reason) == (
        K.ADJUSTMENT,
        D("-4.00"),
        "年末盘点",
    )
    assert moves[surplus.pk].value == D("10.00")  # a surplus at the average cost
    assert bal(short, w).on_hand == D("8") and bal(surplus, w).on_hand == D("6")
    with pytest.raises(ServiceError, match="reason"):
        services.count_create(actor=u, warehouse=w, reason=" ", lines=[services.LineInput(same.pk, D("1"))])


def test_count_with_no_difference_replays_by_key(inv: Any) -> None:
    u, w, p = inv.users["owner"], make_warehouse(), make_product()
    lines = [services.LineInput(p.pk, D("0"))]
    d1 = services.count_create(actor=u, warehouse=w, reason="抽盘", lines=lines, idempotency_key="c1")
    d2 = services.count_create(actor=u, warehouse=w, reason="抽盘", lines=lines, idempotency_key="c1")
    assert d1.pk == d2.pk


def test_stock_as_of_a_date_sums_the_moves_before_its_end(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product(), make_warehouse()
    old = post(u, mv(p, w, "10", K.RECEIPT, "2"))
    post(u, mv(p, w, "4", K.DELIVERY))
    today = tenant_today()
    StockMove.objects.filter(pk=old[0].pk).update(posted_at=old[0].posted_at - timedelta(days=3))
    then = {
        r["product_id"]: r
        for r in selectors.stock_as_of(actor=u, day=today - timedelta(days=2), warehouse_id=w.pk)
    }
    assert (then[p.pk]["quantity"], then[p.pk]["value"]) == (D("10"), D("20.00"))
    now = {r["product_id"]: r for r in selectors.stock_as_of(actor=u, day=today, warehouse_id=w.pk)}
    assert (now[p.pk]["quantity"], now[p.pk]["value"]) == (D("6"), D("12.00"))
    assert list(selectors.stock_as_of(actor=u, day=today - timedelta(days=5), warehouse_id=w.pk)) == []
    with pytest.raises(PermissionDenied):
        selectors.stock_as_of(actor=inv.users["sales"], day=today)


def test_reservations_make_available_on_hand_minus_reserved(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product(), make_warehouse()
    post(u, mv(p, w, "10", K.RECEIPT, "1"))
    order = services.DocumentRef(type="sales.order", id=5, number="SO-2026-00005")
    services.stock_reserve(
        actor=u, product_id=p.pk, warehouse_id=w.pk, quantity=D("7"), document=order, document_line_id=1
    )
    services.stock_reserve(
        actor=u, product_id=p.pk, warehouse_id=w.pk, quantity=D("7"), document=order, document_line_id=1
    )
    assert (bal(p, w).reserved, selectors.available(product_id=p.pk, warehouse_id=w.pk)) == (D("7"), D("3"))
    with pytest.raises(ServiceError, match="Only 3 available"):
        services.stock_reserve(
            actor=u, product_id=p.pk, warehouse_id=w.pk, quantity=D("4"), document=order, document_line_id=2
        )
    assert services.stock_release(actor=u, document=order) == D("7")
    assert selectors.available(product_id=p.pk, warehouse_id=w.pk) == D("10")


def test_reorder_suggestions_and_low_stock_filter(inv: Any) -> None:
    u, w = inv.users["manager"], make_warehouse()
    low, fine = make_product(min_stock="10", reorder="50"), make_product(min_stock="2", reorder="5")
    never = make_product(min_stock="100", reorder="20")
    post(inv.users["owner"], mv(low, w, "3", K.RECEIPT, "1"), mv(fine, w, "3", K.RECEIPT, "1"))
    rows: dict[int, Any] = {r.product_id: r for r in selectors.reorder_suggestions(actor=u)}
    assert set(rows) == {low.pk, never.pk}
    assert (rows[low.pk].available_qty, rows[low.pk].suggested) == (D("3"), D("50"))
    assert rows[never.pk].suggested == D("100")  # back to the minimum when that is more than the reorder qty
    assert [b.product_id for b in selectors.balance_list(actor=u, warehouse_id=w.pk, low=True)] == [low.pk]
    assert selectors.stock_value_total(actor=u, warehouse_id=w.pk) == D("6.00")


def test_ledger_check_finds_a_tampered_balance_and_tells_the_owner_once(inv: Any) -> None:
    u, p, w = inv.users["owner"], make_product(), make_warehouse()
    post(u, mv(p, w, "5", K.RECEIPT, "2"))
    assert services.ledger_mismatches() == []
    StockBalance.objects.filter(product=p, warehouse=w).update(on_hand=D("6"))
    (found,) = services.ledger_check()
    assert (found.product_id, found.warehouse_id, found.on_hand, found.ledger_quantity) == (
        p.pk,
        w.pk,
        D("6"),
        D("5"),
    )
    services.ledger_check()  # a second run the same day
    assert Notice.objects.filter(user=u, title__contains="differ from the stock ledger").count() == 1


def test_a_transfer_in_listed_before_its_transfer_out_still_takes_the_value_that_left(inv: Any) -> None:
    u, p, a, b = inv.users["owner"], make_product(), make_warehouse(), make_warehouse()
    post(u, mv(p, a, "4", K.RECEIPT, "2.50"), mv(p, b, "1", K.RECEIPT, "9"))
    moves = post(u, mv(p, b, "2", K.TRANSFER_IN), mv(p, a, "2", K.TRANSFER_OUT))
    assert [(m.kind, m.value) for m in moves] == [(K.TRANSFER_OUT, D("-5.00")), (K.TRANSFER_IN, D("5.00"))]
    assert (bal(p, b).on_hand, bal(p, b).value) == (D("3"), D("14.00"))
