"""Aging buckets against hand-computed dates, forecast by month, statement running balance, scope."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django_tenants.utils import schema_context

from crm.modules.sales import selectors_receivables as sel
from crm.modules.sales import services_receivables as svc
from crm.modules.sales.models import Contract, Installment, Receipt

from .factories import line, make_contract, make_customer, make_plan

D = Decimal
AS_OF = date(2026, 6, 30)


@pytest.fixture
def t(alpha):
    with schema_context(alpha.schema):
        yield alpha


def test_aging_buckets_at_their_edges(t):
    rep = t.users["sales"]
    cust = make_customer(rep, "账龄客户")
    c = make_contract(rep, cust, lines=[line(price="700")])
    # Days past due: -1 (not due), 0, 30 | 31, 60 | 61, 90 | 91
    days = [-1, 0, 30, 31, 60, 61, 90, 91]
    amounts = ["1", "2", "4", "8", "16", "32", "64", "573"]
    make_plan(c, [(AS_OF - timedelta(days=d), a) for d, a in zip(days, amounts, strict=True)])
    Installment.objects.filter(contract=c, amount=D("573")).update(paid_amount=D("73"))
    r = sel.aging(actor=t.users["owner"], as_of=AS_OF)
    assert r.totals == {
        "not_due": D("1"),
        "d0_30": D("6"),
        "d31_60": D("24"),
        "d61_90": D("96"),
        "d90_plus": D("500"),
        "total": D("627"),
    }
    (row,) = r.rows
    assert row["customer__name"] == "账龄客户" and row["total"] == D("627")
    assert r.chart["amounts"] == [6.0, 24.0, 96.0, 500.0]


def test_aging_follows_the_data_scope(t):
    rep, rep2, mgr, fin = (t.users[k] for k in ("sales", "sales2", "manager", "finance"))
    c1 = make_contract(rep, make_customer(rep, "甲"))
    c2 = make_contract(rep2, make_customer(rep2, "乙"))
    make_plan(c1, [(AS_OF - timedelta(days=5), "11300")])
    make_plan(c2, [(AS_OF - timedelta(days=5), "11300")])
    assert sel.aging(actor=fin, as_of=AS_OF).totals["total"] == D("22600")  # receivables_all
    assert sel.aging(actor=mgr, as_of=AS_OF).totals["total"] == D("11300")  # team: rep only
    assert sel.aging(actor=rep2, as_of=AS_OF).totals["total"] == D("11300")
    assert sel.open_installments(actor=t.users["clerk"]).count() == 0
    clerk = sel.aging(actor=t.users["clerk"], as_of=AS_OF)
    assert clerk.rows == [] and clerk.totals["total"] == 0


def test_aging_shows_the_largest_customers_and_totals_everyone(t):
    rep = t.users["sales"]
    for name, price in (("小", "100"), ("大", "900"), ("中", "500")):
        c = make_contract(rep, make_customer(rep, name), lines=[line(price=price)])
        make_plan(c, [(AS_OF - timedelta(days=40), price)])
    r = sel.aging(actor=t.users["owner"], as_of=AS_OF, limit=2)
    assert [(row["customer__name"], row["d31_60"], row["d0_30"]) for row in r.rows] == [
        ("大", D("900"), D("0")),
        ("中", D("500"), D("0")),
    ]
    assert r.totals["d31_60"] == r.totals["total"] == D("1500")  # the third customer counts in the totals


def test_forecast_groups_open_amounts_by_due_month(t):
    from crm.kernel.tenant_time import tenant_today

    rep = t.users["sales"]
    first = tenant_today().replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    c = make_contract(rep, lines=[line(price="1000")])
    make_plan(
        c,
        [
            (first - timedelta(days=1), "100"),
            (first, "200"),
            (first + timedelta(days=3), "300"),
            (nxt, "400"),
        ],
    )
    f = sel.forecast(actor=t.users["owner"], months=3)
    assert f["overdue"] == D("100")
    assert [(r["month"], r["total"]) for r in f["rows"]][:2] == [(first, D("500")), (nxt, D("400"))]
    assert f["total"] == D("1000") and len(f["chart"]["months"]) == 3


def test_statement_running_balance(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep, "对账客户")
    old = make_contract(rep, cust, lines=[line(price="1000")], signed_on=date(2025, 12, 1))
    new = make_contract(rep, cust, lines=[line(price="5000")], signed_on=date(2026, 2, 1))
    make_plan(old, [(date(2025, 12, 31), "1000")])
    make_plan(new, [(date(2026, 3, 1), "2000"), (date(2026, 4, 1), "3000")])
    svc.receipt_record(actor=fin, customer=cust, amount=D("400"), received_on=date(2025, 12, 20))
    r2 = svc.receipt_record(actor=fin, customer=cust, amount=D("2600"), received_on=date(2026, 3, 2))
    svc.receipt_record(actor=fin, customer=cust, amount=D("1000"), received_on=date(2026, 3, 10))
    svc.receipt_reverse(actor=fin, receipt=Receipt.objects.get(pk=r2.pk), reason="退票")
    s = sel.statement(actor=fin, customer=cust, start=date(2026, 1, 1), end=date(2026, 12, 31))
    assert s["opening"] == D("600")  # 1000 contract - 400 received
    balances = [(x["kind"], x["debit"], x["credit"], x["balance"]) for x in s["lines"]]
    assert balances[:3] == [
        ("contract", D("5000"), D("0"), D("5600")),
        ("receipt", D("0"), D("2600"), D("3000")),
        ("receipt", D("0"), D("1000"), D("2000")),
    ]
    # The reversal is dated today: a debit bringing the 2,600 back.
    assert balances[3][0] == "reversal" and balances[3][3] == D("4600")
    assert s["closing"] == D("4600") and s["credit"] == 0
    assert [i.due_date for i in s["installments"]] == [date(2026, 3, 1), date(2026, 4, 1)]
    # The stored open amounts agree with the closing balance.
    open_total = sum(
        Installment.objects.filter(customer=cust)
        .annotate(o=F("amount") - F("paid_amount"))
        .values_list("o", flat=True)
    )
    assert open_total == D("4600")
    assert Contract.objects.get(pk=new.pk).paid_amount == D("1000")
    assert Contract.objects.get(pk=old.pk).paid_amount == D("400")


def test_customer_summary_panel(t):
    rep, fin = t.users["sales"], t.users["finance"]
    cust = make_customer(rep)
    c = make_contract(rep, cust)
    make_plan(c, [(date(2020, 1, 1), "5000"), (date(2099, 1, 1), "6300")])
    svc.receipt_record(actor=fin, customer=cust, amount=D("1000"), received_on=date(2026, 1, 1))
    s = sel.customer_summary(cust.pk)
    assert (s["open"], s["overdue"], s["credit"]) == (D("10300"), D("4000"), D("0"))
    assert len(s["receipts"]) == 1
