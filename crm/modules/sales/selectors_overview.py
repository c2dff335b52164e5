"""Company-level sales figures for owners' dashboards (the trade module's overview): sales confirmed this
month and this year (tax excl.) and receivables open and overdue, each in one query, within the user's
data scope (holders of sales.receivables_all / sales.view_costs see every contract)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Case, DecimalField, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from crm.kernel.scope import visible_to
from crm.kernel.tenant_time import day_bounds, month_bounds, tenant_today
from crm.platform.permissions import has_perm

from .models import OPEN_STATES, Contract, Installment

ZERO = Decimal("0.00")
MONEY: Any = DecimalField(max_digits=20, decimal_places=2)


def sales_totals(*, actor: Any, today: date | None = None) -> dict[str, Decimal]:
    """Tax-exclusive totals of the contracts and orders confirmed (and not cancelled) this month and this
    year, in the tenant's calendar."""
    today = today or tenant_today()
    month_start, _end = month_bounds(today)
    year_start, _e = day_bounds(today.replace(month=1, day=1))
    tomorrow = day_bounds(today)[1]
    qs = Contract.objects.filter(
        state__in=OPEN_STATES, confirmed_at__gte=year_start, confirmed_at__lt=tomorrow
    )
    if not has_perm(actor, "sales.view_costs"):
        qs = visible_to(qs, actor)
    got = qs.aggregate(
        year=Coalesce(Sum("total_excl"), ZERO, output_field=MONEY),
        month=Coalesce(Sum("total_excl", filter=Q(confirmed_at__gte=month_start)), ZERO, output_field=MONEY),
    )
    return {"month": got["month"], "year": got["year"]}


def receivables_totals(*, actor: Any, today: date | None = None) -> dict[str, Decimal]:
    """Open and overdue amounts of the payment plans of open contracts (one query)."""
    today = today or tenant_today()
    qs = Installment.objects.filter(contract_open=True, paid_amount__lt=F("amount"))
    if not has_perm(actor, "sales.receivables_all"):
        qs = visible_to(qs, actor)
    open_amount = F("amount") - F("paid_amount")
    got = qs.aggregate(
        open=Coalesce(Sum(open_amount, output_field=MONEY), ZERO),
        overdue=Coalesce(
            Sum(Case(When(due_date__lt=today, then=open_amount), default=Value(ZERO), output_field=MONEY)),
            ZERO,
        ),
    )
    return {"open": got["open"], "overdue": got["overdue"]}
