"""Receivables services: plan sum rule, default plan rounding, allocation, credit, reversal, idempotency."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm.modules.sales import receivables_panel
from crm.modules.sales import services_receivables as svc
from crm.modules.sales.models import Contract, Installment, Receipt, ReceiptAllocation
from crm.platform.errors import NotFound, PermissionDenied, ServiceError

from .factories import line, make_contract, make_customer, make_plan

D = Decimal
A = svc.AllocationInput


@pytest.fixture
def t(alpha):
    with schema_context(alpha.schema):
        yield alpha


def _contract(owner, customer=None, price="11300", **kw):
    return make_contract(owner, customer, lines=[line(price=price)], **kw)


def _fresh(obj):
    obj.refresh_from_db()
    return obj


def test_plan_must_add_up_to_the_cent_and_nothing_is_saved(t):
    rep = t.users["sales"]
    c = _contract(rep)
    with pytest.raises(ServiceError) as exc:
        svc.plan_set(
            actor=rep,
            contract=c,
            parts=[
                svc.PlanPart(date(2027, 1, 1), D("5000.00")),
                svc.PlanPart(date(2027, 2, 1), D("6299.99")),
            ],
        )
    assert "11,300.00" in str(exc.value.message)
    assert not Installment.objects.filter(contract=c).exists()
    plan = svc.plan_set(
        actor=rep,
        contract=c,
        parts=[svc.PlanPart(date(2027, 2, 1), D("6300.00")), svc.PlanPart(date(2027, 1, 1), D("5000.00"))],
    )
    assert [(i.position, i.amount) for i in plan] == [(1, D("5000.00")), (2, D("6300.00"))]


def test_plan_refuses_bad_amounts(t):
    rep = t.users["sales"]
    c = _contract(rep)
    for bad in (D("-1"), D("0"), D("1.001")):
        with pytest.raises(ServiceError):
            svc.plan_set(actor=rep, contract=c, parts=[svc.PlanPart(date(2027, 1, 1), bad)])


def test_default_plan_rounds_so_the_sum_is_exact(t):
    rep = t.users["sales"]
    c = _contract(rep, price="10000.01", signed_on=date(2027, 3, 10))
    Contract.objects.filter(pk=c.pk).update(prepayment_percent=D("30"), payment_days=45)
    c = _fresh(c)
    receivables_panel.on_contract_confirmed(actor=rep, contract=c)
    plan = list(Installment.objects.filter(contract=c).order_by("position"))
    assert [(i.due_date, i.amount) for i in plan] == [
        (date(2027, 3, 10), D("3000.00")),
        (date(2027, 4, 24), D("7000.01")),
    ]
    receivables_panel.on_contract_confirmed(actor=rep, contract=c)  # idempotent
    assert Installment.objects.filter(contract=c).count() == 2


def test_default_plan_without_prepayment_is_one_installment(t):
    rep = t.users["sales"]
    c = _contract(rep, signed_on=date(2027, 1, 1))
    plan = svc.plan_default(contract=c)
    assert [(i.due_date, i.amount) for i in plan] == [(date(2027, 1, 31), D("11300.00"))]


def test_plan_edit_keeps_paid_installments(t):
    rep, fin = t.users["sales"], t.users["finance"]
    c = _contract(rep)
    a, b = make_plan(c, [(date(2026, 1, 1), "5000"), (date(2026, 6, 1), "6300")])
    svc.receipt_record(actor=fin, customer=c.customer, amount=D("1000"), received_on=date(2026, 1, 2))
    with pytest.raises(ServiceError):
        svc.plan_set(
            actor=rep,
            contract=c,
            parts=[
                svc.PlanPart(date(2026, 1, 1), D("4000"), id=a.pk),
                svc.PlanPart(date(2026, 6, 1), D("7300")),
            ],
        )
    plan = svc.plan_set(
        actor=rep,
        contract=c,
        parts=[
            svc.PlanPart(date(2026, 1, 1), D("5000"), id=a.pk),
            svc.PlanPart(date(2026, 6, 1), D("3000")),
            svc.PlanPart(date(2026, 9, 1), D("3300")),
        ],
    )
    assert len(plan) == 3 and plan[0].pk == a.pk and _fresh(plan[0]).paid_amount == D("1000")
    assert not Installment.objects.filter(pk=b.pk).exists()


def test_plan_follows_a_revision(t):
    rep = t.users["sales"]
    c = _contract(rep)
    make_plan(c, [(date(2026, 1, 1), "5000"), (date(2026, 6, 1), "6300")])
    Contract.objects.filter(pk=c.pk).update(total_incl=D("12000.00"))
    receivables_panel.on_contract_revised(actor=rep, contract=c)
    assert list(Installment.objects.filter(contract=c).values_list("amount", flat=True)) == [
        D("5000.00"),
        D("7000.00"),
    ]
    Contract.objects.filter(pk=c.pk).update(total_incl=D("4000.00"))
    with pytest.raises(ServiceError):
        receivables_panel.on_contract_revised(actor=rep, contract=c)


def test_allocation_oldest_due_first_across_contracts(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep)
    c1, c2 = _contract(rep, cust), _contract(rep, cust)
    i1a, i1b = make_plan(c1, [(date(2026, 2, 1), "5000"), (date(2026, 8, 1), "6300")])
    (i2a,) = make_plan(c2, [(date(2026, 3, 1), "11300")])
    r = svc.receipt_record(actor=fin, customer=cust, amount=D("8000.50"), received_on=date(2026, 3, 5))
    assert r.allocated_amount == D("8000.50") and r.number.startswith("SK")
    assert _fresh(i1a).paid_amount == D("5000") and _fresh(i2a).paid_amount == D("3000.50")
    assert _fresh(i1b).paid_amount == 0
    assert (_fresh(c1).paid_amount, c1.payment_status) == (D("5000"), "partial")
    assert (_fresh(c2).paid_amount, c2.payment_status) == (D("3000.50"), "partial")


def test_allocation_by_hand_several_at_once_partial(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep)
    c1, c2 = _contract(rep, cust), _contract(rep, cust, price="2000")
    _i1a, i1b = make_plan(c1, [(date(2026, 2, 1), "5000"), (date(2026, 8, 1), "6300")])
    r = svc.receipt_record(
        actor=fin,
        customer=cust,
        amount=D("3000"),
        received_on=date(2026, 3, 5),
        allocations=[A(D("1000"), installment_id=i1b.pk), A(D("2000"), contract_id=c2.pk)],
    )
    assert r.allocated_amount == D("3000")
    assert _fresh(i1b).paid_amount == D("1000")
    assert (_fresh(c2).paid_amount, c2.payment_status) == (D("2000"), "full")
    assert ReceiptAllocation.objects.filter(receipt=r).count() == 2
    # More than is open on one installment: refused, nothing saved.
    before = Receipt.objects.count()
    with pytest.raises(ServiceError):
        svc.receipt_record(
            actor=fin,
            customer=cust,
            amount=D("6000"),
            received_on=date(2026, 3, 5),
            allocations=[A(D("6000"), installment_id=i1b.pk)],
        )
    assert Receipt.objects.count() == before and _fresh(i1b).paid_amount == D("1000")


def test_overpayment_refused_unless_kept_as_credit_and_credit_applied_later(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep)
    c = _contract(rep, cust)
    (i,) = make_plan(c, [(date(2026, 2, 1), "11300")])
    with pytest.raises(ServiceError) as exc:
        svc.receipt_record(actor=fin, customer=cust, amount=D("12000"), received_on=date(2026, 2, 1))
    assert exc.value.field == "keep_credit"
    assert not Receipt.objects.filter(customer=cust).exists() and _fresh(i).paid_amount == 0
    r = svc.receipt_record(
        actor=fin, customer=cust, amount=D("12000"), received_on=date(2026, 2, 1), keep_credit=True
    )
    assert r.allocated_amount == D("11300") and svc.credit_available(cust.pk) == D("700")
    assert _fresh(c).payment_status == "full"
    # A new contract: the credit is applied to it later.
    c2 = _contract(rep, cust, price="1000")
    (j,) = make_plan(c2, [(date(2026, 5, 1), "1000")])
    assert svc.credit_apply(actor=fin, customer=cust) == D("700")
    assert _fresh(j).paid_amount == D("700") and svc.credit_available(cust.pk) == 0
    with pytest.raises(ServiceError):
        svc.credit_apply(actor=fin, customer=cust)


def test_prepayment_before_any_contract_is_credit(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep)
    with pytest.raises(ServiceError):
        svc.receipt_record(actor=fin, customer=cust, amount=D("500"), received_on=date(2026, 1, 1))
    r = svc.receipt_record(
        actor=fin, customer=cust, amount=D("500"), received_on=date(2026, 1, 1), keep_credit=True
    )
    assert r.allocated_amount == 0 and svc.credit_available(cust.pk) == D("500")
    c = _contract(rep, cust, price="300")
    (i,) = make_plan(c, [(date(2026, 5, 1), "300")])
    applied = svc.credit_apply(actor=fin, customer=cust, allocations=[A(D("200"), installment_id=i.pk)])
    assert applied == D("200") and _fresh(i).paid_amount == D("200")
    assert svc.credit_available(cust.pk) == D("300")


def test_reversal_restores_everything_and_keeps_the_receipt(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep)
    c = _contract(rep, cust)
    a, b = make_plan(c, [(date(2026, 2, 1), "5000"), (date(2026, 8, 1), "6300")])
    r = svc.receipt_record(actor=fin, customer=cust, amount=D("7000"), received_on=date(2026, 2, 1))
    with pytest.raises(PermissionDenied):
        svc.receipt_reverse(actor=rep, receipt=r, reason="错账")
    with pytest.raises(ServiceError):
        svc.receipt_reverse(actor=fin, receipt=r, reason=" ")
    r = svc.receipt_reverse(actor=fin, receipt=r, reason="银行退票")
    assert r.state == "reversed" and r.reversal_reason == "银行退票"
    assert _fresh(a).paid_amount == 0 and _fresh(b).paid_amount == 0
    assert (_fresh(c).paid_amount, c.payment_status) == (0, "none")
    with pytest.raises(ServiceError):
        svc.receipt_reverse(actor=fin, receipt=r, reason="again")


def test_same_token_records_one_receipt(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep)
    c = _contract(rep, cust)
    make_plan(c, [(date(2026, 2, 1), "11300")])
    kw: dict[str, Any] = {"actor": fin, "customer": cust, "amount": D("100"), "received_on": date(2026, 2, 1)}
    r1 = svc.receipt_record(**kw, client_token="tok-1")
    r2 = svc.receipt_record(**kw, client_token="tok-1")
    assert r1.pk == r2.pk and Receipt.objects.filter(customer=cust).count() == 1
    assert _fresh(c).paid_amount == D("100")


def test_permissions_clerk_nothing_rep_own_customers_only(t):
    rep, rep2, clerk = t.users["sales"], t.users["sales2"], t.users["clerk"]
    cust = make_customer(rep)
    c = _contract(rep, cust)
    make_plan(c, [(date(2026, 2, 1), "11300")])
    kw: dict[str, Any] = {"customer": cust, "amount": D("100"), "received_on": date(2026, 2, 1)}
    with pytest.raises(PermissionDenied):
        svc.receipt_record(actor=clerk, **kw)
    with pytest.raises(NotFound):
        svc.receipt_record(actor=rep2, **kw)
    assert svc.receipt_record(actor=rep, **kw).owner_id == rep.pk
    with pytest.raises(PermissionDenied):
        svc.plan_set(actor=rep2, contract=c, parts=[svc.PlanPart(date(2026, 1, 1), D("11300"))])
    with pytest.raises(PermissionDenied):
        svc.plan_set(actor=clerk, contract=c, parts=[svc.PlanPart(date(2026, 1, 1), D("11300"))])


def test_reminders_once_before_and_after(t, mailoutbox, django_capture_on_commit_callbacks):
    from crm.kernel.models import Notice

    rep, fin = t.users["sales"], t.users["finance"]
    today = date(2026, 6, 10)
    c = _contract(rep)
    soon, late, paid = make_plan(
        c, [(today + timedelta(days=3), "5000"), (today - timedelta(days=1), "5000"), (today, "1300")]
    )
    Installment.objects.filter(pk=paid.pk).update(paid_amount=D("1300"))
    with django_capture_on_commit_callbacks(execute=True):
        counts = svc.reminders_run(today=today)
    assert counts == {"before": 1, "after": 1}
    assert sorted(m.to[0] for m in mailoutbox) == [rep.email, rep.email]
    assert Notice.objects.filter(user=rep).count() == 2
    assert _fresh(soon).reminded_before_at and _fresh(late).reminded_after_at
    with django_capture_on_commit_callbacks(execute=True):
        assert svc.reminders_run(today=today) == {"before": 0, "after": 0}
    assert Notice.objects.filter(user=rep).count() == 2 and len(mailoutbox) == 2
    assert fin  # finance gets nothing: the customer's owner is reminded


def test_customer_merge_and_handover_move_receivables(t):
    from crm.kernel.hooks import links_handover_move, links_merge

    rep, rep2, fin = t.users["sales"], t.users["sales2"], t.users["finance"]
    src, dst = make_customer(rep, "被合并"), make_customer(rep, "保留")
    c = _contract(rep, src)
    paid, open_ = make_plan(c, [(date(2026, 1, 1), "5000"), (date(2026, 6, 1), "6300")])
    svc.receipt_record(actor=fin, customer=src, amount=D("5000"), received_on=date(2026, 1, 2))
    moved = links_merge(source_id=src.pk, target_id=dst.pk)
    assert moved["sales.Installment"] == 2 and moved["sales.Receipt"] == 1
    assert Receipt.objects.get().customer_id == dst.pk
    links_handover_move(by_target={rep2.pk: [dst.pk]}, from_user_id=rep.pk)
    assert _fresh(open_).owner_id == rep2.pk and _fresh(paid).owner_id == rep.pk


def test_installments_follow_the_contract_state_into_and_out_of_aging(t):
    """Installment.contract_open mirrors the contract through every transition: a draft's plan, a
    confirmed, completed or cancelled contract's (the aging report reads the flag, not the contract)."""
    from crm.modules.sales import selectors_receivables as sel
    from crm.modules.sales import services_documents as docs

    rep, owner = t.users["sales"], t.users["owner"]
    c = _contract(rep, state="draft")
    svc.plan_set(actor=rep, contract=c, parts=[svc.PlanPart(date(2020, 1, 1), D("11300.00"))])

    def state() -> tuple[list[bool], bool]:
        flags = list(Installment.objects.filter(contract=c).values_list("contract_open", flat=True))
        listed = any(r["customer_id"] == c.customer_id for r in sel.aging(actor=owner).rows)
        return flags, listed

    assert state() == ([False], False)
    docs.contract_transition(actor=rep, contract=c, name="submit")
    assert state() == ([False], False)
    docs.contract_transition(actor=rep, contract=c, name="confirm")
    assert state() == ([True], True)
    docs.contract_transition(actor=rep, contract=c, name="complete")
    assert state() == ([True], True)
    other = _contract(rep, c.customer, state="draft")
    docs.contract_transition(actor=rep, contract=other, name="submit")
    docs.contract_transition(actor=rep, contract=other, name="confirm")  # the default plan is open at once
    assert set(Installment.objects.filter(contract=other).values_list("contract_open", flat=True)) == {True}
    docs.contract_transition(actor=owner, contract=other, name="cancel", reason="客户取消")
    assert set(Installment.objects.filter(contract=other).values_list("contract_open", flat=True)) == {False}
