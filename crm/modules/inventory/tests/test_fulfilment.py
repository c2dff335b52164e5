"""Selling from stock: reservations on confirm, deliveries, customer returns at the cost that left, samples;
the document hooks and the sales delivery progress they drive."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from crm.kernel import hooks
from crm.kernel.documents import LineData, document_create
from crm.kernel.models import Notice
from crm.modules.core.public import Customer
from crm.modules.inventory import services_fulfilment as ful
from crm.modules.inventory.models import (
    InventorySettings,
    Reservation,
    Sample,
    SampleLine,
    StockBalance,
    StockMove,
    Warehouse,
)
from crm.modules.sales.models import Contract, ContractLine
from crm.modules.sales.services_documents import contract_transition
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.registry import DocumentHook, DocumentPanel

from .factories import bal, ledger, make_product, make_warehouse, mv, post

K = StockMove.Kind
D = Decimal


@pytest.fixture
def shop(inv: Any) -> dict[str, Any]:
    """A warehouse with 10 cups at 2.50 and 4 pots at 30; a customer of the rep."""
    wh = make_warehouse("A01", name="主仓")
    cup = make_product("水杯", min_stock="0")
    pot = make_product("茶壶", min_stock="0")
    owner = inv.users["owner"]
    post(owner, mv(cup, wh, "10", K.RECEIPT, "2.50"), mv(pot, wh, "4", K.RECEIPT, "30"))
    customer = Customer.objects.create(name="杭州远航贸易有限公司", owner=inv.users["sales"])
    return {"wh": wh, "cup": cup, "pot": pot, "customer": customer, "u": inv.users}


def order(w: dict[str, Any], *lines: tuple[Any, str], state: str = "submitted") -> Contract:
    contract = document_create(
        actor=w["u"]["sales"],
        model=Contract,
        lines=[
            LineData(
                description=p.name, quantity=D(q), unit_price_incl=D("11.30"), product_id=p.pk, unit="件"
            )
            for p, q in lines
        ],
        customer=w["customer"],
        owner=w["u"]["sales"],
        kind=Contract.Kind.ORDER,
    )
    Contract.objects.filter(pk=contract.pk).update(state=state)
    contract.refresh_from_db()
    return contract


def confirm(w: dict[str, Any], contract: Contract) -> Contract:
    return contract_transition(actor=w["u"]["owner"], contract=contract, name="confirm")


def line_ids(contract: Contract) -> list[int]:
    return list(contract.lines.order_by("position", "id").values_list("pk", flat=True))


# --- hooks -----------------------------------------------------------------------------------------------


def test_document_event_calls_only_enabled_modules_hooks(inv: Any) -> None:
    # given: inventory declares hooks for sales.contract confirm
    found = hooks.document_hooks_for("sales.contract", "confirm", {"inventory", "sales"})
    assert [m.slug for m, _h in found] == ["inventory"]
    # when the module is not enabled, nothing is called
    assert (
        hooks.document_event(
            doc_type="sales.contract", event="confirm", actor=None, document=None, enabled={"sales"}
        )
        == 0
    )


def test_confirm_reserves_tracked_lines_in_the_default_warehouse(shop: dict[str, Any]) -> None:
    # given an order of 6 cups and 1 pot
    contract = order(shop, (shop["cup"], "6"), (shop["pot"], "1"))
    # when it is confirmed
    confirm(shop, contract)
    # then both are reserved in the only stock warehouse
    assert bal(shop["cup"], shop["wh"]).reserved == D("6")
    assert bal(shop["pot"], shop["wh"]).reserved == D("1")
    assert bal(shop["cup"], shop["wh"]).available == D("4")


def test_confirm_estimates_the_cost_of_lines_entered_without_one(shop: dict[str, Any]) -> None:
    # given an order a rep entered without costs (6 cups, 1 pot), and one line with its own cost
    contract = order(shop, (shop["cup"], "6"), (shop["pot"], "1"))
    cup_line, pot_line = line_ids(contract)
    ContractLine.objects.filter(pk=pot_line).update(unit_cost_excl=D("28"))
    # when it is confirmed
    confirm(shop, contract)
    # then the cup line is estimated at today's average cost, the pot keeps its own, and the order's cost
    # total (the estimated margin's cost) is known
    assert ContractLine.objects.get(pk=cup_line).unit_cost_excl == D("2.5000")
    assert ContractLine.objects.get(pk=pot_line).unit_cost_excl == D("28")
    assert Contract.objects.get(pk=contract.pk).cost_excl == D("6") * D("2.50") + D("28")


def test_confirm_refused_when_short_and_nothing_reserved(shop: dict[str, Any]) -> None:
    # given an order for more pots than there are
    contract = order(shop, (shop["cup"], "2"), (shop["pot"], "5"))
    # when confirming, then it is refused naming the product and the numbers
    with pytest.raises(ServiceError) as err:
        confirm(shop, contract)
    assert "茶壶" in str(err.value) and "5 needed" in str(err.value) and "4 available" in str(err.value)
    # and nothing was reserved nor confirmed
    assert not Reservation.objects.filter(document_id=contract.pk, quantity__gt=0).exists()
    assert bal(shop["cup"], shop["wh"]).reserved == 0
    assert Contract.objects.get(pk=contract.pk).state == "submitted"


def test_confirm_when_short_is_allowed_with_negative_stock(shop: dict[str, Any]) -> None:
    InventorySettings.objects.update_or_create(pk=1, defaults={"allow_negative": True})
    contract = order(shop, (shop["pot"], "5"))
    confirm(shop, contract)
    assert bal(shop["pot"], shop["wh"]).reserved == D("5")


def test_default_warehouse_setting_is_used(shop: dict[str, Any]) -> None:
    other = make_warehouse("Z09", name="备用仓")
    post(shop["u"]["owner"], mv(shop["cup"], other, "3", K.RECEIPT, "2"))
    ful.default_warehouse_set(actor=shop["u"]["owner"], warehouse=other)
    contract = order(shop, (shop["cup"], "3"))
    confirm(shop, contract)
    assert bal(shop["cup"], other).reserved == D("3")
    assert bal(shop["cup"], shop["wh"]).reserved == 0


def test_cancel_releases_and_complete_releases_the_rest(shop: dict[str, Any]) -> None:
    a = confirm(shop, order(shop, (shop["cup"], "4")))
    b = confirm(shop, order(shop, (shop["cup"], "3")))
    assert bal(shop["cup"], shop["wh"]).reserved == D("7")
    contract_transition(actor=shop["u"]["owner"], contract=a, name="cancel", reason="客户取消")
    assert bal(shop["cup"], shop["wh"]).reserved == D("3")
    ful.delivery_create(
        actor=shop["u"]["warehouse"], contract=b, warehouse=shop["wh"], lines=[(line_ids(b)[0], "1")]
    )
    assert bal(shop["cup"], shop["wh"]).reserved == D("2")
    contract_transition(actor=shop["u"]["owner"], contract=b, name="complete")
    assert bal(shop["cup"], shop["wh"]).reserved == 0


# --- deliveries ------------------------------------------------------------------------------------------


def test_partial_then_full_delivery_updates_the_order(shop: dict[str, Any]) -> None:
    contract = confirm(shop, order(shop, (shop["cup"], "6"), (shop["pot"], "2")))
    cup_line, pot_line = line_ids(contract)
    # when 4 cups ship
    d1 = ful.delivery_create(
        actor=shop["u"]["warehouse"],
        contract=contract,
        warehouse=shop["wh"],
        lines=[(cup_line, "4")],
        waybill="SF1234567890",
        carrier="顺丰",
    )
    assert d1.number.startswith("FH")
    saved = Contract.objects.get(pk=contract.pk)
    assert saved.delivery_status == "partial"
    cup = saved.lines.get(pk=cup_line)
    assert (cup.delivered_quantity, cup.actual_cost_excl) == (D("4"), D("10.00"))
    assert bal(shop["cup"], shop["wh"]).on_hand == D("6")
    assert bal(shop["cup"], shop["wh"]).reserved == D("2")
    # when the rest ships
    ful.delivery_create(
        actor=shop["u"]["manager"],
        contract=contract,
        warehouse=shop["wh"],
        lines=[(cup_line, "2"), (pot_line, "2")],
    )
    saved = Contract.objects.get(pk=contract.pk)
    assert saved.delivery_status == "full"
    assert saved.lines.get(pk=pot_line).actual_cost_excl == D("60.00")
    assert bal(shop["cup"], shop["wh"]).reserved == 0
    assert ledger(shop["cup"], shop["wh"]) == (D("4"), D("10.00"))


def test_bad_deliveries_are_refused_and_change_nothing(shop: dict[str, Any]) -> None:
    contract = confirm(shop, order(shop, (shop["cup"], "3")))
    (lid,) = line_ids(contract)
    wh, actor = shop["wh"], shop["u"]["warehouse"]
    cases: list[tuple[list[Any], str]] = [
        ([(lid, "4")], "only 3 still open"),
        ([(lid, "0")], "positive"),
        ([(lid, "-1")], "positive"),
        ([(lid, "abc")], "Enter a quantity"),
        ([(999999, "1")], "not on"),
        ([], "at least one line"),
    ]
    for lines, message in cases:
        with pytest.raises(ServiceError) as err:
            ful.delivery_create(actor=actor, contract=contract, warehouse=wh, lines=lines)
        assert message in str(err.value)
    cancelled = order(shop, (shop["cup"], "1"), state="cancelled")
    with pytest.raises(ServiceError, match="only a confirmed"):
        ful.delivery_create(
            actor=actor, contract=cancelled, warehouse=wh, lines=[(line_ids(cancelled)[0], "1")]
        )
    draft = order(shop, (shop["cup"], "1"), state="draft")
    with pytest.raises(ServiceError, match="only a confirmed"):
        ful.delivery_create(actor=actor, contract=draft, warehouse=wh, lines=[(line_ids(draft)[0], "1")])
    with pytest.raises(PermissionDenied):
        ful.delivery_create(actor=shop["u"]["sales"], contract=contract, warehouse=wh, lines=[(lid, "1")])
    assert not StockMove.objects.filter(kind=K.DELIVERY).exists()
    assert Contract.objects.get(pk=contract.pk).lines.get().delivered_quantity == 0


def test_delivery_cannot_take_stock_reserved_for_another_order(shop: dict[str, Any]) -> None:
    confirm(shop, order(shop, (shop["pot"], "3")))
    other = order(shop, (shop["pot"], "2"), state="confirmed")  # confirmed before inventory was on
    with pytest.raises(ServiceError, match="1 available"):
        ful.delivery_create(
            actor=shop["u"]["warehouse"],
            contract=other,
            warehouse=shop["wh"],
            lines=[(line_ids(other)[0], "2")],
        )


def test_a_retried_delivery_with_the_same_key_posts_once(shop: dict[str, Any]) -> None:
    contract = confirm(shop, order(shop, (shop["cup"], "5")))
    (lid,) = line_ids(contract)
    kw = {
        "actor": shop["u"]["warehouse"],
        "contract": contract,
        "warehouse": shop["wh"],
        "lines": [(lid, "2")],
    }
    first = ful.delivery_create(**kw, idempotency_key="task-7")
    again = ful.delivery_create(**kw, idempotency_key="task-7")
    assert again.pk == first.pk
    assert StockMove.objects.filter(kind=K.DELIVERY).count() == 1
    assert Contract.objects.get(pk=contract.pk).lines.get().delivered_quantity == D("2")


# --- returns ---------------------------------------------------------------------------------------------


def test_returns_come_back_at_the_cost_that_left(shop: dict[str, Any]) -> None:
    contract = confirm(shop, order(shop, (shop["cup"], "4")))
    (lid,) = line_ids(contract)
    d = ful.delivery_create(
        actor=shop["u"]["warehouse"], contract=contract, warehouse=shop["wh"], lines=[(lid, "4")]
    )
    # given the average cost changes afterwards (a dearer receipt)
    post(shop["u"]["owner"], mv(shop["cup"], shop["wh"], "6", K.RECEIPT, "5.00"))
    dl = d.lines.get()
    # when 1 cup comes back
    ret = ful.return_create(actor=shop["u"]["warehouse"], delivery=d, lines=[(dl.pk, "1")], reason="破损")
    assert ret.number.startswith("TH")
    move = StockMove.objects.get(kind=K.RETURN_IN)
    assert (move.unit_cost, move.value) == (D("2.5000"), D("2.50"))
    saved = Contract.objects.get(pk=contract.pk)
    line = saved.lines.get()
    assert (line.delivered_quantity, line.actual_cost_excl, saved.delivery_status) == (
        D("3"),
        D("7.50"),
        "partial",
    )
    # more than delivered and not yet returned is refused
    with pytest.raises(ServiceError, match="only 3 delivered"):
        ful.return_create(actor=shop["u"]["warehouse"], delivery=d, lines=[(dl.pk, "4")])
    ful.return_create(actor=shop["u"]["warehouse"], delivery=d, lines=[(dl.pk, "3")])
    saved = Contract.objects.get(pk=contract.pk)
    assert saved.delivery_status == "none" and saved.lines.get().actual_cost_excl == D("0.00")
    b = bal(shop["cup"], shop["wh"])
    assert (b.on_hand, b.value) == ledger(shop["cup"], shop["wh"])


# --- samples ---------------------------------------------------------------------------------------------


def test_samples_issue_return_consume_and_convert(shop: dict[str, Any]) -> None:
    rep = shop["u"]["sales"]
    sample = ful.sample_issue(
        actor=rep,
        customer=shop["customer"],
        warehouse=shop["wh"],
        lines=[(shop["cup"].pk, "2"), (shop["pot"].pk, "1")],
        expected_return=date.today() + timedelta(days=14),
    )
    assert sample.number.startswith("YP") and sample.location.kind == Warehouse.Kind.SAMPLE
    assert bal(shop["cup"], sample.location).on_hand == D("2")
    assert bal(shop["cup"], shop["wh"]).on_hand == D("8")
    cup_line, pot_line = list(sample.lines.order_by("id"))
    ful.sample_line_return(actor=rep, line=cup_line)
    assert bal(shop["cup"], shop["wh"]).on_hand == D("10")
    with pytest.raises(ServiceError):
        ful.sample_line_return(actor=rep, line=cup_line)
    with pytest.raises(ServiceError, match="reason"):
        ful.sample_line_consume(actor=rep, line=pot_line, reason=" ")
    ful.sample_line_consume(actor=rep, line=pot_line, reason="客户试用损耗")
    assert bal(shop["pot"], sample.location).on_hand == 0
    assert Sample.objects.get(pk=sample.pk).state == "closed"
    # a second sample turned into an order
    second = ful.sample_issue(
        actor=rep, customer=shop["customer"], warehouse=shop["wh"], lines=[(shop["cup"].pk, "3")]
    )
    draft = ful.sample_convert(actor=rep, sample=second)
    assert draft.state == "draft" and draft.kind == "order" and draft.customer_id == shop["customer"].pk
    assert draft.lines.get().quantity == D("3")
    second.refresh_from_db()
    assert (second.state, second.order_id) == ("closed", draft.pk)
    assert second.lines.get().outcome == SampleLine.Outcome.CONVERTED
    assert bal(shop["cup"], shop["wh"]).on_hand == D("10")


def test_a_rep_sees_only_own_samples_and_cannot_touch_others(shop: dict[str, Any]) -> None:
    rep, rep2 = shop["u"]["sales"], shop["u"]["sales2"]
    mine = ful.sample_issue(
        actor=rep, customer=shop["customer"], warehouse=shop["wh"], lines=[(shop["cup"].pk, "1")]
    )
    assert list(ful.samples_visible(rep2)) == []
    assert list(ful.samples_visible(shop["u"]["warehouse"])) == [mine]
    with pytest.raises(PermissionDenied):
        ful.sample_line_return(actor=rep2, line=mine.lines.get())


def test_overdue_samples_remind_the_rep_once(shop: dict[str, Any]) -> None:
    rep = shop["u"]["sales"]
    ful.sample_issue(
        actor=rep,
        customer=shop["customer"],
        warehouse=shop["wh"],
        lines=[(shop["cup"].pk, "1")],
        expected_return=date.today() - timedelta(days=1),
    )
    ful.sample_issue(
        actor=rep,
        customer=shop["customer"],
        warehouse=shop["wh"],
        lines=[(shop["pot"].pk, "1")],
        expected_return=date.today() + timedelta(days=5),
    )
    before = Notice.objects.filter(user=rep).count()
    assert ful.samples_remind() == 1
    assert ful.samples_remind() == 0
    assert Notice.objects.filter(user=rep).count() == before + 1


def test_balances_match_the_ledger_after_everything(shop: dict[str, Any]) -> None:
    contract = confirm(shop, order(shop, (shop["cup"], "5")))
    d = ful.delivery_create(
        actor=shop["u"]["warehouse"],
        contract=contract,
        warehouse=shop["wh"],
        lines=[(line_ids(contract)[0], "5")],
    )
    ful.return_create(actor=shop["u"]["warehouse"], delivery=d, lines=[(d.lines.get().pk, "2")])
    from crm.modules.inventory.services import ledger_mismatches

    assert ledger_mismatches() == []
    assert StockBalance.objects.filter(reserved__lt=0).count() == 0


def test_seed_fulfilment_is_idempotent(shop: dict[str, Any]) -> None:
    from crm.modules.inventory.demo import seed_fulfilment
    from crm.modules.inventory.models import CustomerReturn, Delivery
    from crm.modules.inventory.services import ledger_mismatches

    # given stock and a few confirmed orders
    post(shop["u"]["owner"], mv(shop["cup"], shop["wh"], "90", K.RECEIPT, "2.50"))
    post(shop["u"]["owner"], mv(shop["pot"], shop["wh"], "40", K.RECEIPT, "30"))
    for q in ("3", "5", "2", "4"):
        confirm(shop, order(shop, (shop["cup"], q), (shop["pot"], "1")))
    # when seeded twice
    first = seed_fulfilment()
    counts = (Delivery.objects.count(), CustomerReturn.objects.count(), Sample.objects.count())
    second = seed_fulfilment()
    # then the second run adds nothing
    assert first == second and first["deliveries"] >= 3
    assert counts == (Delivery.objects.count(), CustomerReturn.objects.count(), Sample.objects.count())
    assert counts[2] >= 10
    states = set(SampleLine.objects.values_list("outcome", flat=True))
    assert states == {"out", "returned", "consumed", "converted"}
    assert ledger_mismatches() == []


@pytest.mark.parametrize(
    "kw,expected",
    [
        (
            {"document_hooks": (DocumentHook("sales.contract", "confirm", "tests.nowhere.fn"),)},
            "document hook 'tests.nowhere.fn' does not import",
        ),
        (
            {"document_panels": (DocumentPanel("sales.contract", "P", "dummy/nope.html"),)},
            "template 'dummy/nope.html' does not",
        ),
        (
            {
                "document_panels": (
                    DocumentPanel("sales.contract", "P", "kernel/_document_panels.html", permission="x.y"),
                )
            },
            "document panel 'P' names unknown permission",
        ),
    ],
)
def test_the_registry_check_validates_document_hooks_and_panels(kw: dict[str, Any], expected: str) -> None:
    from tests.test_plugin_manifest import manifest, problems_of

    assert any(expected in p for p in problems_of(manifest(**kw))), problems_of(manifest(**kw))


def test_a_refusing_hook_rolls_the_transition_back(shop: dict[str, Any], monkeypatch: Any) -> None:
    # given the confirm handler refuses (here: no stock warehouse at all)
    Warehouse.objects.update(is_active=False)
    contract = order(shop, (shop["cup"], "1"))
    with pytest.raises(ServiceError, match="no active stock warehouse"):
        confirm(shop, contract)
    assert Contract.objects.get(pk=contract.pk).state == "submitted"
