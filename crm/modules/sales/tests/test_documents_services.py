"""Quotes, contracts, approvals and revisions of the documents area, against hand-computed documents."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from django_tenants.utils import schema_context

from crm.kernel import approvals
from crm.kernel.models import ApprovalRequest, ApprovalRule, ApprovalStep
from crm.kernel.tenant_time import tenant_today
from crm.modules.core.models import Product
from crm.modules.sales import services_documents as svc
from crm.modules.sales.models import Contract, ContractLine, Quote
from crm.platform.errors import PermissionDenied, ServiceError

from .factories import line, make_contract, make_customer

D = Decimal


def rows(*specs: tuple[Any, ...]) -> list[dict[str, Any]]:
    """(description, quantity, price, rate, discount[, cost]) -> editor rows."""
    out = []
    for spec in specs:
        desc, qty, price, rate, disc, *cost = spec
        out.append(
            {
                "description": desc,
                "quantity": qty,
                "unit_price_incl": price,
                "vat_rate": rate,
                "discount_percent": disc,
                "unit_cost_excl": cost[0] if cost else None,
            }
        )
    return out


@pytest.fixture
def t(alpha: Any) -> Any:
    with schema_context(alpha.schema):
        yield alpha


def rule(metric: str, comparison: str, threshold: str, kind: str = "manager", **step: Any) -> ApprovalRule:
    r = ApprovalRule.objects.create(
        doc_type="sales.contract",
        name=f"{metric} {comparison} {threshold}",
        metric=metric,
        comparison=comparison,
        threshold=D(threshold),
    )
    ApprovalStep.objects.create(rule=r, position=1, kind=kind, **step)
    return r


def test_quote_totals_to_the_cent(t: Any) -> None:
    rep = t.users["sales"]
    customer = make_customer(rep)
    lines = svc.lines_from_rows(
        rows(("服务器", "3", "1130", "0.13", "0"), ("实施服务", "2", "1060", "6%", "10"))
    )
    quote = svc.quote_create(actor=rep, customer=customer, lines=lines)
    # 3 x 1130 = 3390.00 incl, 3000.00 excl, 390.00 tax; 2 x 1060 x 0.9 = 1908.00 incl, 1800.00 excl, 108.00
    got = [(ln.amount_incl, ln.amount_excl, ln.amount_tax) for ln in quote.lines.all()]
    assert got == [(D("3390.00"), D("3000.00"), D("390.00")), (D("1908.00"), D("1800.00"), D("108.00"))]
    quote.refresh_from_db()
    assert (quote.total_incl, quote.total_excl, quote.total_tax) == (D("5298.00"), D("4800.00"), D("498.00"))
    assert quote.valid_until == tenant_today() + timedelta(days=30)
    assert quote.number.startswith("BJ-")


def test_a_whole_document_discount_is_spread_over_the_lines(t: Any) -> None:
    rep = t.users["sales"]
    lines = svc.lines_from_rows(
        rows(("年度运维", "1", "11300", "0.13", "0"), ("培训", "1", "1060", "0.06", "5")), whole_discount="10"
    )
    assert [ln.discount_percent for ln in lines] == [D("10.00"), D("14.50")]
    quote = svc.quote_create(actor=rep, customer=make_customer(rep), lines=lines)
    quote.refresh_from_db()
    # 11300 x 0.9 = 10170.00 (9000.00 + 1170.00); 1060 x 0.855 = 906.30 (855.00 + 51.30)
    assert quote.total_incl == D("11076.30")
    assert quote.total_excl == D("9855.00")
    assert quote.total_tax == D("1221.30")
    assert sum(ln.amount_incl for ln in quote.lines.all()) == quote.total_incl
    assert quote.gross_incl == D("12360.00")


def test_catalogue_lines_take_price_rate_and_cost(t: Any) -> None:
    rep = t.users["sales"]
    product = Product.objects.create(
        name="咨询包", price=D("2120"), vat_rate=D("0.06"), cost=D("1000"), unit="套"
    )
    (data,) = svc.lines_from_rows([{"product": product.pk, "quantity": "2"}])
    assert (data.description, data.unit_price_incl, data.vat_rate, data.unit_cost_excl, data.unit) == (
        "咨询包",
        D("2120"),
        D("0.06"),
        D("1000"),
        "套",
    )
    quote = svc.quote_create(actor=rep, customer=make_customer(rep), lines=[data])
    quote.refresh_from_db()
    assert quote.cost_excl == D("2000.00")
    assert quote.margin_percent == D("50.00")  # 4000.00 excl - 2000.00 cost


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        (("实施服务", "-1", "100", "0.13", "0"), "invalid"),
        (("实施服务", "1", "100", "0.17", "0"), "invalid_vat_rate"),
        (("实施服务", "abc", "100", "0.13", "0"), "invalid"),
    ],
)
def test_bad_lines_are_refused_and_nothing_is_written(t: Any, spec: tuple[str, ...], code: str) -> None:
    rep = t.users["sales"]
    customer = make_customer(rep)
    before = Quote.objects.count()
    with translation.override("zh-hans"), pytest.raises(ServiceError) as exc:
        svc.quote_create(actor=rep, customer=customer, lines=svc.lines_from_rows(rows(spec)))
    assert exc.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc.value.message))  # translated
    assert Quote.objects.count() == before


def _quote(rep: Any, state: str = "draft") -> Quote:
    quote = svc.quote_create(actor=rep, customer=make_customer(rep), lines=[line(price="11300")])
    if state != "draft":
        Quote.objects.filter(pk=quote.pk).update(state=state)
        quote.refresh_from_db()
    return quote


def test_quote_life_send_accept_convert(t: Any) -> None:
    rep = t.users["sales"]
    quote = _quote(rep)
    assert svc.quote_send(actor=rep, quote=quote) is True
    quote.refresh_from_db()
    assert quote.state == "sent" and quote.sent_at is not None
    svc.quote_transition(actor=rep, quote=quote, name="accept")
    contract = svc.contract_from_quote(actor=rep, quote=quote, kind="order")
    assert contract.kind == "order" and contract.state == "draft" and contract.quote_id == quote.pk
    assert contract.total_incl == D("11300.00")
    assert list(contract.lines.values_list("description", flat=True)) == ["实施服务"]


@pytest.mark.parametrize("state", ["expired", "rejected", "superseded", "sent"])
def test_only_an_accepted_quote_converts(t: Any, state: str) -> None:
    rep = t.users["sales"]
    quote = _quote(rep, state)
    before = Contract.objects.count()
    with translation.override("zh-hans"), pytest.raises(ServiceError) as exc:
        svc.contract_from_quote(actor=rep, quote=quote)
    assert exc.value.code == "quote_not_accepted"
    assert Contract.objects.count() == before


def test_reject_needs_a_reason(t: Any) -> None:
    rep = t.users["sales"]
    quote = _quote(rep, "sent")
    with pytest.raises(ServiceError):
        svc.quote_transition(actor=rep, quote=quote, name="reject")
    svc.quote_transition(actor=rep, quote=quote, name="reject", reason="价格太高")
    quote.refresh_from_db()
    assert (quote.state, quote.decision_reason) == ("rejected", "价格太高")


def test_revise_makes_a_new_version_and_supersedes_the_old(t: Any) -> None:
    rep = t.users["sales"]
    v1 = _quote(rep, "sent")
    v2 = svc.quote_revise(actor=rep, quote=v1)
    v3 = svc.quote_revise(actor=rep, quote=v2)
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert (v1.state, v2.state, v3.state) == ("superseded", "superseded", "draft")
    assert (v2.root_id, v3.root_id, v3.version) == (v1.pk, v1.pk, 3)
    assert v3.total_incl == v1.total_incl and v3.lines.count() == 1
    from crm.modules.sales.selectors_documents import quote_versions

    assert [q.version for q in quote_versions(v2)] == [1, 2, 3]


def test_expiry_is_daily_and_idempotent(t: Any) -> None:
    rep = t.users["sales"]
    old = _quote(rep, "sent")
    fresh = _quote(rep, "sent")
    Quote.objects.filter(pk=old.pk).update(valid_until=tenant_today() - timedelta(days=1))
    assert svc.quotes_expire() == 1
    assert svc.quotes_expire() == 0
    old.refresh_from_db()
    fresh.refresh_from_db()
    assert (old.state, fresh.state) == ("expired", "sent")


def test_a_rule_match_blocks_confirmation_until_the_manager_approves(t: Any) -> None:
    rep, manager = t.users["sales"], t.users["manager"]
    rule("amount", "gt", "100000")
    contract = make_contract(rep, lines=[line(price="113000")], state="draft")
    svc.contract_transition(actor=rep, contract=contract, name="submit")
    with translation.override("zh-hans"), pytest.raises(ServiceError) as exc:
        svc.contract_transition(actor=rep, contract=contract, name="confirm")
    assert exc.value.code == "approval_required"
    request = approvals.approval_queue(manager).get()
    assert request.number == contract.number
    with pytest.raises(PermissionDenied):
        approvals.approval_decide(actor=rep, request=request, approve=True)
    approvals.approval_decide(actor=manager, request=request, approve=True)
    svc.contract_transition(actor=rep, contract=contract, name="confirm")
    contract.refresh_from_db()
    assert contract.state == "confirmed" and contract.confirmed_at is not None


def test_an_edit_voids_the_approval(t: Any) -> None:
    rep, manager = t.users["sales"], t.users["manager"]
    rule("discount", "gt", "15")
    contract = make_contract(rep, lines=[line(price="11300")], state="draft")
    svc.contract_update(
        actor=rep,
        contract=contract,
        lines=svc.lines_from_rows(rows(("实施服务", "1", "11300", "0.13", "20"))),
    )
    svc.contract_transition(actor=rep, contract=contract, name="submit")
    approvals.approval_decide(actor=manager, request=approvals.approval_queue(manager).get(), approve=True)
    svc.contract_transition(actor=rep, contract=contract, name="reopen")
    svc.contract_update(
        actor=rep,
        contract=contract,
        lines=svc.lines_from_rows(rows(("实施服务", "1", "11300", "0.13", "25"))),
    )
    svc.contract_transition(actor=rep, contract=contract, name="submit")
    with pytest.raises(ServiceError) as exc:
        svc.contract_transition(actor=rep, contract=contract, name="confirm")
    assert exc.value.code == "approval_required"
    assert ApprovalRequest.objects.filter(object_id=contract.pk, status="pending").count() == 1


def test_a_confirmed_contract_changes_only_by_revision(t: Any) -> None:
    rep = t.users["sales"]
    contract = make_contract(rep)
    with translation.override("zh-hans"), pytest.raises(ServiceError) as exc:
        svc.contract_update(actor=rep, contract=contract, lines=[line(price="1")])
    assert exc.value.code == "revision_required"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(exc.value.message))  # translated
    contract.refresh_from_db()
    assert contract.total_incl == D("11300.00")
    assert list(ContractLine.objects.filter(document=contract).values_list("unit_price_incl", flat=True)) == [
        D("11300.0000")
    ]


def test_confirm_tells_receivables_in_the_same_transaction(t: Any, monkeypatch: Any) -> None:
    rep = t.users["sales"]
    seen: list[Any] = []
    from crm.modules.sales import receivables_panel

    monkeypatch.setattr(
        receivables_panel, "on_contract_confirmed", lambda **kw: seen.append(kw["contract"].pk)
    )
    contract = make_contract(rep, state="submitted")
    svc.contract_transition(actor=rep, contract=contract, name="confirm")
    assert seen == [contract.pk]


def test_confirming_a_contract_wins_its_open_opportunity_and_leaves_a_lost_one(t: Any) -> None:
    from crm.modules.sales import services_pipeline as pipeline
    from crm.modules.sales.models import Opportunity, OpportunityStageLog, Stage

    rep = t.users["sales"]
    pipeline.stages_ensure()
    customer = make_customer(rep)
    first = Stage.objects.filter(kind="open").order_by("position").first()
    lost_stage = Stage.objects.get(kind="lost")
    opp = pipeline.opportunity_create(
        actor=rep, customer=customer, name="ERP 实施", amount=D("11300"), stage=first
    )
    lost = pipeline.opportunity_create(
        actor=rep, customer=customer, name="旧项目", amount=D("1"), stage=first
    )
    pipeline.opportunity_move(actor=rep, opportunity=lost, stage=lost_stage, lost_reason="价格")
    won_contract = make_contract(rep, customer, state="submitted")
    other = make_contract(rep, customer, state="submitted")
    Contract.objects.filter(pk=won_contract.pk).update(opportunity=opp)
    Contract.objects.filter(pk=other.pk).update(opportunity=lost)
    won_contract.refresh_from_db()
    other.refresh_from_db()

    svc.contract_transition(actor=rep, contract=won_contract, name="confirm")
    svc.contract_transition(actor=rep, contract=other, name="confirm")

    opp.refresh_from_db()
    lost.refresh_from_db()
    assert (opp.status, opp.stage.kind, opp.probability) == (Opportunity.Status.WON, "won", 100)
    assert OpportunityStageLog.objects.filter(opportunity=opp, to_stage__kind="won", actor=rep).count() == 1
    assert (lost.status, lost.lost_reason) == (Opportunity.Status.LOST, "价格")


def test_cancel_is_for_managers_with_a_reason(t: Any) -> None:
    rep, manager = t.users["sales"], t.users["manager"]
    contract = make_contract(rep)
    with pytest.raises(PermissionDenied):
        svc.contract_transition(actor=rep, contract=contract, name="cancel", reason="客户取消")
    with pytest.raises(ServiceError):
        svc.contract_transition(actor=manager, contract=contract, name="cancel")
    svc.contract_transition(actor=manager, contract=contract, name="cancel", reason="客户取消")
    contract.refresh_from_db()
    assert (contract.state, contract.cancel_reason) == ("cancelled", "客户取消")


def _revised_lines() -> list[Any]:
    return svc.lines_from_rows(
        rows(("实施服务", "2", "11300", "0.13", "0"), ("培训", "1", "1060", "0.06", "0"))
    )


def test_revision_diff_and_apply_without_a_rule(t: Any) -> None:
    rep = t.users["sales"]
    contract = make_contract(rep, lines=[line(), line("年度运维", price="2260")])
    ContractLine.objects.filter(document=contract, description="实施服务").update(delivered_quantity=D("1"))
    revision = svc.revision_create(
        actor=rep, contract=contract, reason="客户追加", lines=_revised_lines(), terms={"payment_days": 60}
    )
    diff = {d.description: (d.kind, d.changes) for d in svc.revision_diff(revision)}
    assert diff == {
        "实施服务": ("changed", ("quantity",)),
        "培训": ("added", ()),
        "年度运维": ("removed", ()),
    }
    assert (revision.total_before, revision.total_after) == (D("13560.00"), D("23660.00"))
    svc.revision_submit(actor=rep, revision=revision)
    contract.refresh_from_db()
    revision.refresh_from_db()
    assert revision.state == "applied"
    assert (contract.revision, contract.total_incl, contract.payment_days) == (1, D("23660.00"), 60)
    assert contract.state == "confirmed"
    kept = ContractLine.objects.get(document=contract, description="实施服务")
    assert kept.delivered_quantity == D("1")


def test_a_revision_matching_a_rule_waits_for_the_manager(t: Any) -> None:
    rep, manager, sales2 = t.users["sales"], t.users["manager"], t.users["sales2"]
    rule("amount", "gt", "20000")
    contract = make_contract(rep)
    revision = svc.revision_create(actor=rep, contract=contract, reason="追加", lines=_revised_lines())
    svc.revision_submit(actor=rep, revision=revision)
    revision.refresh_from_db()
    contract.refresh_from_db()
    assert revision.state == "submitted" and contract.total_incl == D("11300.00")
    with pytest.raises(PermissionDenied):
        svc.revision_decide(actor=rep, revision=revision, approve=True)
    with pytest.raises(PermissionDenied):
        svc.revision_decide(actor=sales2, revision=revision, approve=True)
    svc.revision_decide(actor=manager, revision=revision, approve=True)
    contract.refresh_from_db()
    assert (contract.total_incl, contract.revision) == (D("23660.00"), 1)


def test_reps_cannot_touch_other_reps_documents(t: Any) -> None:
    rep, sales2 = t.users["sales"], t.users["sales2"]
    quote = _quote(rep)
    with pytest.raises(PermissionDenied):
        svc.quote_transition(actor=sales2, quote=quote, name="send")
    with pytest.raises(PermissionDenied):
        svc.quote_transition(actor=t.users["clerk"], quote=quote, name="send")


def test_a_quote_needing_approval_is_submitted_instead_of_sent(t: Any) -> None:
    rep, manager = t.users["sales"], t.users["manager"]
    r = ApprovalRule.objects.create(
        doc_type="sales.quote", name="discount", metric="discount", comparison="gt", threshold=D("15")
    )
    ApprovalStep.objects.create(rule=r, position=1, kind="manager")
    quote = svc.quote_create(
        actor=rep,
        customer=make_customer(rep),
        lines=svc.lines_from_rows(rows(("实施", "1", "1000", "0.13", "20"))),
    )
    assert svc.quote_send(actor=rep, quote=quote) is False
    quote.refresh_from_db()
    assert quote.state == "draft"
    approvals.approval_decide(actor=manager, request=approvals.approval_queue(manager).get(), approve=True)
    assert svc.quote_send(actor=rep, quote=quote) is True
    quote.refresh_from_db()
    assert quote.state == "sent"
