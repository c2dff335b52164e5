"""Receivables reads: open installments, aging, collections forecast, customer statement, credit.

Data scope: holders of sales.receivables_all (owner, admin, finance) see everything; others through
crm/kernel/scope.py (managers their team subtree, reps their own). Reports aggregate in SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Case, DecimalField, F, IntegerField, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth

from crm.kernel.scope import visible_to
from crm.kernel.tenant_time import tenant_today
from crm.modules.core.public import Customer
from crm.platform.permissions import has_perm

from .models import OPEN_STATES, Contract, Installment, Receipt, ReceiptAllocation

ZERO = Decimal("0.00")
MONEY: Any = DecimalField(max_digits=16, decimal_places=2)
BUCKETS = ("not_due", "d0_30", "d31_60", "d61_90", "d90_plus")


def _scoped(qs: QuerySet[Any], user: Any) -> QuerySet[Any]:
    if has_perm(user, "sales.receivables_all"):
        return qs
    return visible_to(qs, user)


def installments_visible(user: Any) -> QuerySet[Installment]:
    return _scoped(Installment.objects.all(), user)


def receipts_visible(user: Any) -> QuerySet[Receipt]:
    return _scoped(Receipt.objects.all(), user)


def _open(qs: QuerySet[Installment]) -> QuerySet[Installment]:
    # contract_open mirrors the contract's state: no join on the hot path (bench section `sales`).
    return qs.filter(contract_open=True, paid_amount__lt=F("amount"))


def open_installments(
    *,
    actor: Any,
    owner_id: int | None = None,
    customer_id: int | None = None,
    due_month: date | None = None,
    overdue: bool = False,
    today: date | None = None,
) -> QuerySet[Installment]:
    qs = _open(installments_visible(actor))
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if due_month:
        start = due_month.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
        qs = qs.filter(due_date__gte=start, due_date__lt=end)
    if overdue:
        qs = qs.filter(due_date__lt=today or tenant_today())
    return (
        qs.select_related("contract", "customer", "owner")
        .annotate(open=F("amount") - F("paid_amount"))
        .order_by("due_date", "id")
    )


def _bucket(as_of: date) -> Case:
    """The aging bucket of an installment as a number (index into BUCKETS): not due, then 0-30, 31-60,
    61-90 and over 90 days past the due date."""
    days = (30, 60, 90)
    return Case(
        When(due_date__gt=as_of, then=Value(0)),
        *(When(due_date__gte=as_of - timedelta(days=d), then=Value(i + 1)) for i, d in enumerate(days)),
        default=Value(len(days) + 1),
        output_field=IntegerField(),
    )


# Per customer one column per bucket, then the largest `limit` customers with every customer's sum in the
# same answer (window over the groups, taken before the LIMIT). Only constant SQL is added around the
# ORM's grouped query; its parameters stay bound.
_PIVOT_SQL = """
SELECT customer_id, {columns}, sum(open) AS total, {totals}, sum(sum(open)) OVER () AS all_total
FROM ({grouped}) AS g GROUP BY customer_id ORDER BY total DESC, customer_id LIMIT %s
"""


def _pivot(grouped: QuerySet[Any], limit: int) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
    """Open installments grouped by (customer, bucket) turned into one row per customer: one pass over the
    installments (one sum per row, no join: the contract's state is on the installment), measured in the
    bench section `sales`."""
    sums = {name: f"coalesce(sum(open) FILTER (WHERE bucket = {i}), 0.00)" for i, name in enumerate(BUCKETS)}
    keys = (*BUCKETS, "total")
    try:
        sql, params = grouped.query.sql_with_params()
    except EmptyResultSet:  # a scope that sees nothing
        return [], dict.fromkeys(keys, ZERO)
    query = _PIVOT_SQL.format(
        columns=", ".join(f"{expr} AS {name}" for name, expr in sums.items()),
        totals=", ".join(f"sum({expr}) OVER () AS all_{name}" for name, expr in sums.items()),
        grouped=sql,
    )
    with connection.cursor() as cursor:
        cursor.execute(query, (*params, limit))
        names = [c.name for c in cursor.description]
        found = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    totals = {k: found[0][f"all_{k}"] if found else ZERO for k in keys}
    rows = [{"customer_id": r["customer_id"], **{k: r[k] for k in keys}} for r in found]
    return rows, totals


@dataclass
class Aging:
    as_of: date
    rows: list[dict[str, Any]]
    totals: dict[str, Decimal]
    chart: dict[str, Any] = field(default_factory=dict)


def aging(*, actor: Any, as_of: date | None = None, owner_id: int | None = None, limit: int = 500) -> Aging:
    """Open amounts by days past due (0-30, 31-60, 61-90, >90; not yet due apart) per customer and in
    total, as of `as_of` (open amounts are today's: receipts recorded later are not taken back)."""
    as_of = as_of or tenant_today()
    qs = _open(installments_visible(actor))
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    grouped = qs.values("customer_id", bucket=_bucket(as_of)).annotate(
        open=Sum(F("amount") - F("paid_amount"))
    )
    rows, totals = _pivot(grouped.order_by(), limit)
    names = dict(Customer.objects.filter(pk__in=[r["customer_id"] for r in rows]).values_list("pk", "name"))
    for row in rows:
        row["customer__name"] = names.get(row["customer_id"], "")
    chart = {
        "buckets": ["0-30", "31-60", "61-90", ">90"],
        "amounts": [float(totals[b]) for b in BUCKETS[1:]],  # chart only; tables show the Decimals
    }
    return Aging(as_of=as_of, rows=rows, totals=totals, chart=chart)


def forecast(*, actor: Any, months: int = 12, owner_id: int | None = None) -> dict[str, Any]:
    """Open amounts by due month: what was due before this month is `overdue`, then month by month."""
    today = tenant_today()
    first = today.replace(day=1)
    qs = _open(installments_visible(actor))
    if owner_id:
        qs = qs.filter(owner_id=owner_id)
    overdue = qs.filter(due_date__lt=first).aggregate(
        t=Coalesce(Sum(F("amount") - F("paid_amount"), output_field=MONEY), ZERO)
    )["t"]
    end = first
    for _i in range(months):
        end = (end + timedelta(days=32)).replace(day=1)
    by_month = {
        row["month"]: row["total"]
        for row in qs.filter(due_date__gte=first, due_date__lt=end)
        .annotate(month=TruncMonth("due_date"))
        .values("month")
        .annotate(total=Sum(F("amount") - F("paid_amount"), output_field=MONEY))
        .order_by("month")
    }
    rows = []
    month = first
    for _i in range(months):
        rows.append({"month": month, "total": by_month.get(month, ZERO)})
        month = (month + timedelta(days=32)).replace(day=1)
    chart = {
        "months": [r["month"].strftime("%Y-%m") for r in rows],
        "totals": [float(r["total"]) for r in rows],
    }
    return {
        "overdue": overdue,
        "rows": rows,
        "chart": chart,
        "total": overdue + sum(r["total"] for r in rows),
    }


def customer_credit(customer_id: int) -> Decimal:
    got = Receipt.objects.filter(customer_id=customer_id, state=Receipt.State.POSTED).aggregate(
        a=Coalesce(Sum("amount"), ZERO), b=Coalesce(Sum("allocated_amount"), ZERO)
    )
    return got["a"] - got["b"]


def _contract_day(c: Contract) -> date:
    if c.signed_on:
        return c.signed_on
    when = c.confirmed_at or c.created_at
    from django.utils import timezone

    return timezone.localdate(when)


def statement(*, actor: Any, customer: Customer, start: date, end: date) -> dict[str, Any]:
    """The account statement (对账单) of one customer between two dates: contracts (debit), receipts
    (credit), reversals (debit again), with the opening balance and a running balance (positive: the
    customer owes; negative: credit). Installments due in the period and the credit at the end too."""
    contracts = list(
        Contract.objects.filter(customer=customer, state__in=OPEN_STATES).order_by("signed_on", "id")
    )
    receipts = list(Receipt.objects.filter(customer=customer).order_by("received_on", "id"))
    events: list[dict[str, Any]] = []
    for c in contracts:
        events.append(
            {
                "date": _contract_day(c),
                "kind": "contract",
                "ref": c.number,
                "text": c.title,
                "debit": c.total_incl,
                "credit": ZERO,
                "sort": (0, c.pk),
            }
        )
    from django.utils import timezone

    for r in receipts:
        events.append(
            {
                "date": r.received_on,
                "kind": "receipt",
                "ref": r.number,
                "text": f"{r.get_method_display()} {r.bank_reference}".strip(),
                "debit": ZERO,
                "credit": r.amount,
                "sort": (1, r.pk),
            }
        )
        if r.state == Receipt.State.REVERSED and r.reversed_at:
            events.append(
                {
                    "date": timezone.localdate(r.reversed_at),
                    "kind": "reversal",
                    "ref": r.number,
                    "text": r.reversal_reason,
                    "debit": r.amount,
                    "credit": ZERO,
                    "sort": (2, r.pk),
                }
            )
    events.sort(key=lambda e: (e["date"], e["sort"]))
    opening = sum((e["debit"] - e["credit"] for e in events if e["date"] < start), ZERO)
    balance = opening
    lines = []
    for e in events:
        if start <= e["date"] <= end:
            balance += e["debit"] - e["credit"]
            lines.append({**e, "balance": balance})
    installments = list(
        Installment.objects.filter(
            customer=customer, contract_open=True, due_date__gte=start, due_date__lte=end
        )
        .select_related("contract")
        .order_by("due_date", "id")
    )
    return {
        "customer": customer,
        "start": start,
        "end": end,
        "opening": opening,
        "closing": balance,
        "lines": lines,
        "debits": sum((x["debit"] for x in lines), ZERO),
        "credits": sum((x["credit"] for x in lines), ZERO),
        "installments": installments,
        "credit": customer_credit(customer.pk),
    }


def customer_summary(customer_id: int, *, today: date | None = None) -> dict[str, Any]:
    today = today or tenant_today()
    qs = _open(Installment.objects.filter(customer_id=customer_id))
    got = qs.aggregate(
        open=Coalesce(Sum(F("amount") - F("paid_amount"), output_field=MONEY), ZERO),
        overdue=Coalesce(
            Sum(
                Case(
                    When(due_date__lt=today, then=F("amount") - F("paid_amount")),
                    default=Value(ZERO),
                    output_field=MONEY,
                )
            ),
            ZERO,
        ),
    )
    # Contracts without a plan count with their whole open amount.
    no_plan = Contract.objects.filter(
        customer_id=customer_id, state__in=OPEN_STATES, installments__isnull=True
    ).aggregate(t=Coalesce(Sum(F("total_incl") - F("paid_amount"), output_field=MONEY), ZERO))["t"]
    return {
        "open": got["open"] + no_plan,
        "overdue": got["overdue"],
        "credit": customer_credit(customer_id),
        "receipts": list(Receipt.objects.filter(customer_id=customer_id).order_by("-received_on", "-id")[:5]),
    }


def contract_plan(contract: Contract) -> list[Installment]:
    return list(
        Installment.objects.filter(contract=contract)
        .annotate(open=F("amount") - F("paid_amount"))
        .order_by("position", "id")
    )


def contract_allocations(contract: Contract) -> list[ReceiptAllocation]:
    return list(
        ReceiptAllocation.objects.filter(contract=contract)
        .select_related("receipt", "installment")
        .order_by("receipt__received_on", "id")
    )


def customer_open_items(customer: Customer) -> list[dict[str, Any]]:
    """What a receipt can be allocated to, oldest due first (for the hand allocation form)."""
    items: list[dict[str, Any]] = []
    for inst in _open(Installment.objects.filter(customer=customer)).select_related("contract"):
        items.append(
            {
                "key": f"i{inst.pk}",
                "installment_id": inst.pk,
                "contract_id": inst.contract_id,
                "number": inst.contract.number,
                "position": inst.position,
                "due": inst.due_date,
                "open": inst.amount - inst.paid_amount,
            }
        )
    no_plan = Contract.objects.filter(
        customer=customer, state__in=OPEN_STATES, installments__isnull=True, paid_amount__lt=F("total_incl")
    )
    for c in no_plan:
        items.append(
            {
                "key": f"c{c.pk}",
                "installment_id": None,
                "contract_id": c.pk,
                "number": c.number,
                "position": None,
                "due": _contract_day(c),
                "open": c.total_incl - c.paid_amount,
            }
        )
    items.sort(key=lambda x: (x["due"], x["contract_id"], x["position"] or 0))
    return items
