"""Demo seed (idempotent) and the plan / receipt imports (idempotent: a re-import duplicates nothing)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm.kernel.tenant_time import tenant_today
from crm.modules.sales import demo_receivables, imports_receivables
from crm.modules.sales.models import Contract, Installment, Receipt

from .factories import line, make_contract, make_customer

D = Decimal
JOB: Any = None  # the writers do not read the job


@pytest.fixture
def t(alpha):
    with schema_context(alpha.schema):
        yield alpha


def test_demo_seed_is_idempotent(t):
    rep = t.users["sales"]
    today = tenant_today()
    for n in range(6):
        c = make_contract(
            rep,
            make_customer(rep, f"演示客户{n}"),
            lines=[line(price="10000")],
            signed_on=today - timedelta(days=120 + n * 10),
        )
        Contract.objects.filter(pk=c.pk).update(prepayment_percent=D("30"), payment_days=30)
    demo_receivables.seed(t.tenant)
    counts = (Installment.objects.count(), Receipt.objects.count())
    assert counts[0] == 12 and counts[1] >= 3
    assert Receipt.objects.filter(state="reversed").count() == 1
    demo_receivables.seed(t.tenant)
    assert (Installment.objects.count(), Receipt.objects.count()) == counts
    for c in Contract.objects.all():
        plan = Installment.objects.filter(contract=c)
        assert sum(i.amount for i in plan) == c.total_incl
        assert sum(i.paid_amount for i in plan) == c.paid_amount


def _records(kind, rows):
    return [(i + 2, kind.clean_row(r, kind.keys[0][0], None)) for i, r in enumerate(rows)]


def test_plan_import_sets_the_plan_once(t):
    rep = t.users["sales"]
    c = make_contract(rep)
    rows = [
        {"contract": c.number, "due_date": "2026/3/31", "amount": "3,300.00", "note": "预付"},
        {"contract": c.number, "due_date": "2026年6月30日", "amount": "8000"},
        {"contract": "HT-NOPE", "due_date": "2026-01-01", "amount": "1"},
    ]
    kind = imports_receivables.PLANS
    created, updated, errors = kind.write(JOB, rep, _records(kind, rows))
    assert (created, updated) == (1, 0) and [e.row for e in errors] == [4]
    assert [(i.due_date, i.amount) for i in Installment.objects.filter(contract=c)] == [
        (date(2026, 3, 31), D("3300")),
        (date(2026, 6, 30), D("8000")),
    ]
    ids = set(Installment.objects.filter(contract=c).values_list("pk", flat=True))
    assert kind.write(JOB, rep, _records(kind, rows[:2]))[:2] == (0, 0)
    assert set(Installment.objects.filter(contract=c).values_list("pk", flat=True)) == ids
    # A plan that does not add up: a row error, the old plan stays.
    bad = [{"contract": c.number, "due_date": "2026-03-31", "amount": "100"}]
    assert kind.write(JOB, rep, _records(kind, bad))[2]
    assert Installment.objects.filter(contract=c).count() == 2
    with pytest.raises(ValueError):
        kind.clean_row({"contract": c.number, "due_date": "soon", "amount": "1"}, "contract", None)


def test_receipt_import_is_idempotent(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep, "导入客户")
    c = make_contract(rep, cust)
    Installment.objects.create(
        contract=c,
        customer=cust,
        owner=rep,
        position=1,
        due_date=date(2026, 1, 31),
        amount=D("11300"),
        contract_open=True,
    )
    rows = [
        {
            "customer": "导入客户",
            "amount": "5000",
            "received_on": "2026-02-01",
            "method": "银行转账",
            "reference": "BOC001",
            "contract": c.number,
        },
        {"customer": "导入客户", "amount": "20000", "received_on": "2026-02-03", "method": "微信"},
        {"customer": "没有这个客户", "amount": "1", "received_on": "2026-02-03"},
    ]
    kind = imports_receivables.RECEIPTS
    created, _updated, errors = kind.write(JOB, fin, _records(kind, rows))
    assert created == 2 and [e.row for e in errors] == [4]
    c.refresh_from_db()
    assert c.paid_amount == D("11300") and c.payment_status == "full"
    assert Receipt.objects.get(bank_reference="BOC001").method == "bank"
    created, _updated, _errors = kind.write(JOB, fin, _records(kind, rows))
    assert created == 0 and Receipt.objects.filter(customer=cust).count() == 2
