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
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
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
    sum is the sum of what its lines show).

    Kept lean (the report is bound by the aggregate calls per line, ~8 per line at 100,000 lines): `sales`
    is the sum of the two filtered sums (PostgreSQL computes an aggregate that appears twice once, and a
    line either has a unit cost or not), COUNT(*) for the lines, and no FILTER where the summed
    expression is already NULL outside it (SUM skips NULLs)."""
    has_cost = Q(unit_cost_excl__isnull=False)
    no_cost = Q(unit_cost_excl__isnull=True)
    has_actual = Q(actual_cost_excl__isnull=False)
    # NULL when the unit cost is unknown.
    line_cost = Round(F("quantity") * F("unit_cost_excl"), 2, output_field=MONEY)
    delivered_revenue = Round(
        ExpressionWrapper(
            F("amount_excl") * F("delivered_quantity") / NullIf(F("quantity"), Value(0)), output_field=MONEY
        ),
        2,
        output_field=MONEY,
    )
    costed_sales = Coalesce(Sum("amount_excl", filter=has_cost), ZERO, output_field=MONEY)
    unknown_sales = Coalesce(Sum("amount_excl", filter=no_cost), ZERO, output_field=MONEY)
    return {
        "lines": Count("*"),
        "sales": ExpressionWrapper(costed_sales + unknown_sales, output_field=MONEY),
        "est_revenue": costed_sales,
        "est_cost": Coalesce(Sum(line_cost), ZERO, output_field=MONEY),
        "unknown_lines": Count("id", filter=no_cost),
        "unknown_sales": unknown_sales,
        "act_revenue": Coalesce(Sum(delivered_revenue, filter=has_actual), ZERO, output_field=MONEY),
        "act_cost": Coalesce(Sum("actual_cost_excl"), ZERO, output_field=MONEY),
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


_KEY_FIELD = {
    "order": "document_id",
    "product": "product_id",
    "customer": "document__customer_id",
    "rep": "document__owner_id",
}


def _key(group: str) -> Any:
    """The one grouping column of each group (labels are read afterwards for the rows shown only)."""
    if group == "month":
        return _month()
    return F(_KEY_FIELD[group])


def _plain(key: Any) -> Any:
    # A month read by the raw cursor is a timestamp (the ORM's converter would make it a date).
    return key.date() if isinstance(key, datetime) else key


def _labels(group: str, rows: list[dict[str, Any]]) -> None:
    """Add what the table shows of each row's key: one query for the rows shown (none for months)."""
    ids = [r["key"] for r in rows if r["key"] is not None]
    if group == "month":
        for row in rows:
            row["label"] = row["key"].strftime("%Y-%m") if row["key"] is not None else ""
        return
    found: dict[Any, dict[str, Any]] = {}
    if ids and group == "order":
        for c in Contract.objects.filter(pk__in=ids).values(
            "pk", "number", "kind", "customer__name", "owner__name"
        ):
            found[c["pk"]] = {
                "label": c["number"],
                "kind": c["kind"],
                "customer_name": c["customer__name"],
                "owner_name": c["owner__name"],
            }
    elif ids and group == "product":
        from crm.modules.core.public import Product

        for p in Product.objects.filter(pk__in=ids).values("pk", "name", "code"):
            found[p["pk"]] = {"label": p["name"], "code": p["code"]}
    elif ids and group == "customer":
        from crm.modules.core.public import Customer

        found = {
            pk: {"label": name} for pk, name in Customer.objects.filter(pk__in=ids).values_list("pk", "name")
        }
    elif ids and group == "rep":
        from crm.tenants.accounts.models import User

        found = {
            pk: {"label": name} for pk, name in User.objects.filter(pk__in=ids).values_list("pk", "name")
        }
    for row in rows:
        row.update(found.get(row["key"], {"label": ""}))


# The grouped sums with the totals over every group in the same answer (window sums taken before the
# LIMIT): one pass over the lines. Only constant SQL is added around the ORM's query; its parameters stay
# bound.
_REPORT_SQL = """
SELECT g.*, {totals}, count(*) OVER () AS all_groups FROM ({grouped}) AS g ORDER BY {order} LIMIT %s
"""
_ORDER = {
    "month": "g.key ASC NULLS LAST",
    "other": "(g.est_revenue - g.est_cost) DESC, g.key ASC NULLS LAST",
}


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
    """The margin report grouped by `group` (one of GROUPS): one query for the groups and the totals, one
    for the labels of the rows shown, whatever the number of lines."""
    require_view(actor)
    if group not in GROUPS:
        raise ValueError(group)
    filters = filters or MarginFilters()
    limit = max(1, min(limit, MAX_LIMIT))
    lines = margin_lines(actor, filters)
    grouped = lines.values(key=_key(group)).annotate(**_measures()).order_by()
    try:
        sql, params = grouped.query.sql_with_params()
    except EmptyResultSet:  # a scope that sees nothing
        sql = ""
    found: list[dict[str, Any]] = []
    if sql:
        query = _REPORT_SQL.format(
            totals=", ".join(f"sum(g.{m}) OVER () AS all_{m}" for m in MEASURES),
            grouped=sql,
            order=_ORDER["month" if group == "month" else "other"],
        )
        with connection.cursor() as cursor:
            cursor.execute(query, (*params, limit))
            names = [c.name for c in cursor.description]
            found = [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    if found:
        first = found[0]
        totals: dict[str, Any] = {m: first[f"all_{m}"] for m in MEASURES}
        for m in ("lines", "unknown_lines"):
            totals[m] = int(totals[m])
        truncated = first["all_groups"] > limit
    else:
        totals, truncated = _empty_totals(), False
    finish(totals)
    rows = [finish({"key": _plain(r["key"]), **{m: r[m] for m in MEASURES}}) for r in found]
    _labels(group, rows)
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
