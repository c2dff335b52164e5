"""Gross margin (毛利核算) of confirmed and completed contracts and orders, on tax-exclusive amounts.

Per order line:

- estimated: amount_excl − quantity × unit_cost_excl (the cost known at quote / confirmation). A line
  without a unit cost is "cost unknown": its sales are shown apart and never count as 100 % margin.
- actual (after delivery): revenue = amount_excl × delivered_quantity / quantity, minus actual_cost_excl
  (the cost of the line's outbound stock moves less returns, written by the deliveries). Only lines with
  an actual cost count.

Aggregated in SQL per order, product, customer, rep (the contract's owner) or month (of confirmed_at in
the tenant's time zone); the grouped query returns the top `limit` groups by estimated margin (months in
order), a second query the totals over every group, so the report runs the same queries for 10 lines or
a million. Data scope: holders of sales.view_costs see every contract; the others through
crm/kernel/scope.py (managers their team subtree, reps their own). What of it a user may see (amounts or
only the percent) is crm/modules/sales/costs.py's decision, applied by `visible_part` and the views.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf, Round, TruncMonth

from crm.kernel.scope import visible_to
from crm.kernel.tenant_time import day_bounds, tenant_today, tenant_zone
from crm.platform.errors import PermissionDenied
from crm.platform.permissions import has_perm

from . import costs
from .models import OPEN_STATES, Contract, ContractLine

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
MONEY: Any = DecimalField(max_digits=20, decimal_places=2)
GROUPS = ("order", "product", "customer", "rep", "month")
DEFAULT_LIMIT = 50
MAX_LIMIT = 500

# The measures of a group, named as the report shows them (est_* estimated, act_* actual).
MEASURES = (
    "lines",
    "sales",
    "est_revenue",
    "est_cost",
    "unknown_lines",
    "unknown_sales",
    "act_revenue",
    "act_cost",
)


def _measures() -> dict[str, Any]:
    """The SQL sums over the lines of a group (each line's amounts rounded to the cent first, so a group's
    sum is the sum of what its lines show)."""
    has_cost = Q(unit_cost_excl__isnull=False)
    no_cost = Q(unit_cost_excl__isnull=True)
    has_actual = Q(actual_cost_excl__isnull=False)
    line_cost = Round(F("quantity") * F("unit_cost_excl"), 2, output_field=MONEY)
    delivered_revenue = Round(
        ExpressionWrapper(
            F("amount_excl") * F("delivered_quantity") / NullIf(F("quantity"), Value(0)), output_field=MONEY
        ),
        2,
        output_field=MONEY,
    )
    return {
        "lines": Count("id"),
        "sales": Coalesce(Sum("amount_excl"), ZERO, output_field=MONEY),
        "est_revenue": Coalesce(Sum("amount_excl", filter=has_cost), ZERO, output_field=MONEY),
        "est_cost": Coalesce(Sum(line_cost, filter=has_cost), ZERO, output_field=MONEY),
        "unknown_lines": Count("id", filter=no_cost),
        "unknown_sales": Coalesce(Sum("amount_excl", filter=no_cost), ZERO, output_field=MONEY),
        "act_revenue": Coalesce(Sum(delivered_revenue, filter=has_actual), ZERO, output_field=MONEY),
        "act_cost": Coalesce(Sum("actual_cost_excl", filter=has_actual), ZERO, output_field=MONEY),
    }


@dataclass(frozen=True)
class MarginFilters:
    """The report's filters: confirmed from `start` to `end` (tenant calendar days, both included), the
    contract's owner (rep) and customer."""

    start: date | None = None
    end: date | None = None
    owner_id: int | None = None
    customer_id: int | None = None


@dataclass
class MarginReport:
    group: str
    filters: MarginFilters
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    # True when the grouped rows were cut at the limit (the totals still cover every group).
    truncated: bool = False
    limit: int = DEFAULT_LIMIT
    chart: dict[str, Any] = field(default_factory=dict)


def can_view(user: Any) -> bool:
    """Who may open the margin report: cost holders, and sellers when reps may see the margin percent."""
    return costs.can_see_margin_percent(user)


def require_view(user: Any) -> None:
    if not can_view(user):
        from django.utils.translation import gettext as _

        raise PermissionDenied(_("You are not allowed to see margins."))


def margin_lines(actor: Any, filters: MarginFilters | None = None) -> QuerySet[ContractLine]:
    """The lines the report counts: of confirmed or completed contracts/orders the actor may see,
    confirmed in the period."""
    filters = filters or MarginFilters()
    qs = ContractLine.objects.filter(document__state__in=OPEN_STATES, document__confirmed_at__isnull=False)
    if not has_perm(actor, "sales.view_costs"):
        qs = visible_to(qs, actor, owner_field="document__owner")
    if filters.start:
        qs = qs.filter(document__confirmed_at__gte=day_bounds(filters.start)[0])
    if filters.end:
        qs = qs.filter(document__confirmed_at__lt=day_bounds(filters.end)[1])
    if filters.owner_id:
        qs = qs.filter(document__owner_id=filters.owner_id)
    if filters.customer_id:
        qs = qs.filter(document__customer_id=filters.customer_id)
    return qs


def _month() -> Any:
    # The month of confirmation in the tenant's zone (not the server's or UTC's), as a date.
    from django.db.models import DateField

    return TruncMonth("document__confirmed_at", output_field=DateField(), tzinfo=tenant_zone())


def _keys(group: str) -> dict[str, Any]:
    """The grouping columns (id first, then what the table shows) of each group."""
    if group == "order":
        return {
            "key": F("document_id"),
            "label": F("document__number"),
            "customer_name": F("document__customer__name"),
            "owner_name": F("document__owner__name"),
            "kind": F("document__kind"),
        }
    if group == "product":
        return {"key": F("product_id"), "label": F("product__name"), "code": F("product__code")}
    if group == "customer":
        return {"key": F("document__customer_id"), "label": F("document__customer__name")}
    if group == "rep":
        return {"key": F("document__owner_id"), "label": F("document__owner__name")}
    if group == "month":
        return {"key": _month()}
    raise ValueError(group)


def _percent(margin: Decimal, revenue: Decimal) -> Decimal | None:
    if not revenue:
        return None
    return (margin / revenue * 100).quantize(CENT)


def finish(row: dict[str, Any]) -> dict[str, Any]:
    """Margins and percents of one group (or the totals) from its sums."""
    row["est_margin"] = row["est_revenue"] - row["est_cost"]
    row["est_percent"] = _percent(row["est_margin"], row["est_revenue"])
    row["act_margin"] = row["act_revenue"] - row["act_cost"]
    row["act_percent"] = _percent(row["act_margin"], row["act_revenue"])
    return row


def _empty_totals() -> dict[str, Any]:
    return finish({name: (0 if name in ("lines", "unknown_lines") else ZERO) for name in MEASURES})


def margin_report(
    *,
    actor: Any,
    group: str = "order",
    filters: MarginFilters | None = None,
    limit: int = DEFAULT_LIMIT,
) -> MarginReport:
    """The margin report grouped by `group` (one of GROUPS): two queries, whatever the number of lines."""
    require_view(actor)
    if group not in GROUPS:
        raise ValueError(group)
    filters = filters or MarginFilters()
    limit = max(1, min(limit, MAX_LIMIT))
    lines = margin_lines(actor, filters)
    keys = _keys(group)
    grouped = lines.values(**keys).annotate(**_measures()).order_by()
    if group == "month":
        grouped = grouped.order_by("key")
    else:
        grouped = grouped.annotate(
            est_margin_sort=ExpressionWrapper(F("est_revenue") - F("est_cost"), output_field=MONEY)
        ).order_by(F("est_margin_sort").desc(nulls_last=True), F("key").asc(nulls_last=True))
    found = list(grouped[: limit + 1])
    truncated = len(found) > limit
    rows = [finish(r) for r in found[:limit]]
    for row in rows:
        row.pop("est_margin_sort", None)
        if group == "month" and row["key"] is not None:
            row["label"] = row["key"].strftime("%Y-%m")
    totals = lines.aggregate(**_measures())
    finish(totals)
    report = MarginReport(
        group=group, filters=filters, rows=rows, totals=totals, truncated=truncated, limit=limit
    )
    if group == "month":
        report.chart = month_chart(rows)
    return report


def month_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Chart data of month rows: margins and percents per month (floats for the chart only)."""
    return {
        "months": [r["label"] for r in rows],
        "est_margin": [float(r["est_margin"]) for r in rows],
        "act_margin": [float(r["act_margin"]) for r in rows],
        "est_percent": [float(r["est_percent"] or 0) for r in rows],
        "act_percent": [float(r["act_percent"] or 0) for r in rows],
    }


def _months_back(today: date, months: int) -> list[date]:
    first = today.replace(day=1)
    out = [first]
    for _i in range(months - 1):
        prev = out[-1]
        out.append(date(prev.year - 1, 12, 1) if prev.month == 1 else date(prev.year, prev.month - 1, 1))
    return list(reversed(out))


def margin_by_month(*, actor: Any, months: int = 12, today: date | None = None) -> dict[str, Any]:
    """The last `months` calendar months (tenant zone) with every month present (zero when nothing was
    confirmed), the totals over them and the chart data: one grouped query and one total."""
    require_view(actor)
    today = today or tenant_today()
    wanted = _months_back(today, months)
    report = margin_report(
        actor=actor,
        group="month",
        filters=MarginFilters(start=wanted[0], end=today),
        limit=MAX_LIMIT,
    )
    by_month = {r["key"]: r for r in report.rows}
    rows = []
    for month in wanted:
        row = by_month.get(month) or {**_empty_totals(), "key": month}
        row["label"] = month.strftime("%Y-%m")
        rows.append(row)
    return {"rows": rows, "totals": report.totals, "chart": month_chart(rows)}


def contract_margin(contract: Contract) -> dict[str, Any]:
    """Estimated and actual margin of one contract (its page shows them): one query."""
    got = ContractLine.objects.filter(document=contract).aggregate(**_measures())
    return finish(got)


# What a user who sees only the percent may read of a row (no amount from which a cost follows).
PERCENT_ONLY = ("key", "label", "code", "kind", "lines", "unknown_lines", "est_percent", "act_percent")


def visible_part(row: dict[str, Any], *, see_costs: bool) -> dict[str, Any]:
    """The row with the amounts blanked for a user who may see only the margin percent."""
    if see_costs:
        return row
    return {k: (v if k in PERCENT_ONLY or k.endswith("_name") else None) for k, v in row.items()}


def group_labels() -> dict[str, Any]:
    from django.utils.translation import gettext_lazy as _

    return {
        "order": _("Order"),
        "product": _("Product"),
        "customer": _("Customer"),
        "rep": _("Rep"),
        "month": _("Month"),
    }


def unknown_label(value: Any) -> Any:
    """The label of a group whose key is empty (lines without a product)."""
    from django.utils.translation import gettext as _

    return value if value not in (None, "") else _("(no product)")
