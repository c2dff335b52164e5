"""Property: for random receipts (auto, by hand, with credit), credit applications and reversals, every
contract's paid + open == total, no installment is over-paid, and stored sums equal the allocations."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.modules.sales import services_receivables as svc
from crm.modules.sales.models import Contract, Installment, Receipt, ReceiptAllocation
from crm.platform.errors import ServiceError

from .factories import line, make_contract, make_customer, make_plan

D = Decimal
cents = st.integers(min_value=1, max_value=1_500_000).map(lambda n: D(n) / 100)
step = st.one_of(
    st.tuples(st.just("auto"), cents, st.booleans()),
    st.tuples(st.just("hand"), cents, st.integers(min_value=0, max_value=4)),
    st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=20), st.just(0)),
    st.tuples(st.just("credit"), st.just(0), st.just(0)),
)


class _Rollback(Exception):
    pass


def _check(contracts):
    for c in contracts:
        c.refresh_from_db()
        plan = list(Installment.objects.filter(contract=c))
        paid = sum((i.paid_amount for i in plan), D(0))
        open_ = sum((i.amount - i.paid_amount for i in plan), D(0))
        assert paid + open_ == c.total_incl
        assert c.paid_amount == paid
        assert all(0 <= i.paid_amount <= i.amount for i in plan)
        live = ReceiptAllocation.objects.filter(contract=c, receipt__state="posted").aggregate(
            s=Sum("amount")
        )
        assert (live["s"] or 0) == paid
        assert c.payment_status == ("none" if paid == 0 else "full" if paid == c.total_incl else "partial")
    for r in Receipt.objects.all():
        assert 0 <= r.allocated_amount <= r.amount


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_paid_plus_open_is_the_total(alpha, steps):
    with schema_context(alpha.schema):
        try:
            with transaction.atomic():
                _run(alpha, steps)
                raise _Rollback
        except _Rollback:
            pass


def _run(alpha, steps):
    rep, fin = alpha.users["sales"], alpha.users["finance"]
    cust = make_customer(rep, "性质测试客户")
    c1 = make_contract(rep, cust, lines=[line(price="10000.01")])
    c2 = make_contract(rep, cust, lines=[line(price="3333.33")])
    insts = make_plan(c1, [(date(2026, 1, 1), "3000.00"), (date(2026, 4, 1), "7000.01")])
    insts += make_plan(c2, [(date(2026, 2, 1), "1111.11"), (date(2026, 3, 1), "2222.22")])
    for kind, a, b in steps:
        try:
            if kind == "auto":
                svc.receipt_record(
                    actor=fin, customer=cust, amount=a, received_on=date(2026, 5, 1), keep_credit=b
                )
            elif kind == "hand":
                inst = insts[b % len(insts)]
                inst.refresh_from_db()
                svc.receipt_record(
                    actor=fin,
                    customer=cust,
                    amount=a,
                    received_on=date(2026, 5, 1),
                    keep_credit=True,
                    allocations=[svc.AllocationInput(min(a, inst.open_amount) or a, installment_id=inst.pk)],
                )
            elif kind == "reverse":
                receipts = list(Receipt.objects.filter(customer=cust, state="posted").order_by("pk"))
                if receipts:
                    svc.receipt_reverse(actor=fin, receipt=receipts[a % len(receipts)], reason="测试")
            else:
                svc.credit_apply(actor=fin, customer=cust)
        except ServiceError:
            pass
        _check([c1, c2])
    assert Contract.objects.filter(pk__in=[c1.pk, c2.pk]).count() == 2
