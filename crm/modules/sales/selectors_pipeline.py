"""Pipeline reads: opportunity list and kanban board in the data scope (a fixed number of queries whatever
the number of rows), one opportunity with its history, pipeline reports computed by SQL aggregates, the
"my pipeline" dashboard card and the customer panel."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, RowNumber, TruncMonth
from django.http import Http404
from django.utils import timezone

from crm.kernel.scope import can_edit, visible_to
from crm.kernel.tenant_time import day_bounds, tenant_today
from crm.modules.core.public import Activity
from crm.tenants.accounts.models import User

from .models import (
    Contract,
    Opportunity,
    OpportunityProduct,
    OpportunityStageLog,
    Quote,
    Stage,
)
from .services_pipeline import stages_ensure

CARDS_PER_COLUMN = 50


def _weighted() -> Sum:
    """Sum of amount x probability % (a new expression each time: Django resolves expressions in place)."""
    return Sum(
        ExpressionWrapper(
            F("amount") * F("probability") / Value(Decimal("100")),
            output_field=DecimalField(max_digits=20, decimal_places=4),
        )
    )


ZERO = Value(Decimal("0"), output_field=DecimalField(max_digits=20, decimal_places=4))
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def opportunities_visible(user: User) -> QuerySet[Opportunity]:
    """Owners and admins all, managers their team subtree, reps their own, clerks none."""
    return visible_to(Opportunity.objects.all(), user)


@dataclass(frozen=True)
class Filters:
    stage: int | None = None
    owner: int | None = None
    status: str = ""
    close_month: str = ""  # YYYY-MM
    q: str = ""
    customer: int | None = None


def parse_month(value: str) -> date | None:
    match = _MONTH.match((value or "").strip())
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (1 <= month <= 12 and 1900 <= year <= 9999):
        return None
    return date(year, month, 1)


def _filtered(user: User, f: Filters) -> QuerySet[Opportunity]:
    qs = opportunities_visible(user)
    if f.stage:
        qs = qs.filter(stage_id=f.stage)
    if f.owner:
        qs = qs.filter(owner_id=f.owner)
    if f.status in Opportunity.Status.values:
        qs = qs.filter(status=f.status)
    if f.customer:
        qs = qs.filter(customer_id=f.customer)
    month = parse_month(f.close_month)
    if month is not None:
        nxt = (month + timedelta(days=32)).replace(day=1)
        qs = qs.filter(expected_close__gte=month, expected_close__lt=nxt)
    q = f.q.strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(customer__name__icontains=q))
    return qs


def opportunity_list(user: User, f: Filters | None = None) -> QuerySet[Opportunity]:
    return _filtered(user, f or Filters()).select_related("customer", "owner", "stage")


def stages_active() -> list[Stage]:
    """Board columns: active open stages in order, then won and lost."""
    stages_ensure()
    return [s for s in Stage.objects.all() if s.is_active or s.kind != Stage.Kind.OPEN]


@dataclass
class Column:
    stage: Stage
    count: int
    amount: Decimal
    weighted: Decimal
    cards: list[Opportunity]


def kanban(user: User, f: Filters | None = None, per_column: int = CARDS_PER_COLUMN) -> list[Column]:
    """One column per active stage (won and lost at the end): totals from one aggregate query, the newest
    `per_column` cards of every column from one windowed query. Closed columns show the last 90 days."""
    f = f or Filters()
    stages = stages_active()
    qs = _filtered(user, f)
    since = timezone.now() - timedelta(days=90)
    qs = qs.filter(Q(status=Opportunity.Status.OPEN) | Q(closed_at__gte=since))
    totals = {
        row["stage_id"]: row
        for row in qs.values("stage_id").annotate(n=Count("id"), total=Sum("amount"), weighted=_weighted())
    }
    ranked = (
        qs.select_related("customer", "owner")
        .annotate(
            rank=Window(
                RowNumber(), partition_by=[F("stage_id")], order_by=[F("updated_at").desc(), F("id").desc()]
            )
        )
        .filter(rank__lte=per_column)
        .order_by("stage_id", "rank")
    )
    cards: dict[int, list[Opportunity]] = {}
    for opp in ranked:
        cards.setdefault(opp.stage_id, []).append(opp)
    columns = []
    for stage in stages:
        row = totals.get(stage.pk) or {}
        columns.append(
            Column(
                stage=stage,
                count=row.get("n", 0),
                amount=row.get("total") or Decimal("0"),
                weighted=(row.get("weighted") or Decimal("0")).quantize(Decimal("0.01")),
                cards=cards.get(stage.pk, []),
            )
        )
    return columns


def opportunity_get(user: User, pk: int) -> Opportunity:
    opp = (
        opportunities_visible(user)
        .select_related("customer", "contact", "owner", "stage", "created_by")
        .filter(pk=pk)
        .first()
    )
    if opp is None:
        raise Http404
    return opp


def opportunity_detail(user: User, opp: Opportunity) -> dict[str, Any]:
    """Stage history, products, linked quotes and contracts (in the user's scope), activities."""
    return {
        "opp": opp,
        "can_edit": can_edit(user, opp),
        "log": list(
            OpportunityStageLog.objects.filter(opportunity=opp)
            .select_related("from_stage", "to_stage", "actor")
            .order_by("-id")
        ),
        "products": list(OpportunityProduct.objects.filter(opportunity=opp).select_related("product")),
        "quotes": list(visible_to(Quote.objects.filter(opportunity=opp), user).order_by("-id")[:50]),
        "contracts": list(visible_to(Contract.objects.filter(opportunity=opp), user).order_by("-id")[:50]),
        "activities": list(
            Activity.objects.filter(opportunity_link__opportunity=opp)
            .select_related("author")
            .order_by("-occurred_at", "-id")[:50]
        ),
    }


# --- reports ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive


def default_period() -> Period:
    """The last twelve months, this one included."""
    today = tenant_today()
    start = today.replace(day=1)
    for _i in range(11):
        start = (start - timedelta(days=1)).replace(day=1)
    return Period(start=start, end=today)


def _range(period: Period) -> tuple[datetime, datetime]:
    return day_bounds(period.start)[0], day_bounds(period.end)[1]


def _q2(value: Any) -> Decimal:
    return (value or Decimal("0")).quantize(Decimal("0.01"))


def pipeline_reports(user: User, period: Period) -> dict[str, Any]:
    """Weighted forecast of open opportunities by month of expected close and by rep; win rate and average
    cycle time of those closed in the period; stage conversion of those created in the period. Every figure
    is one SQL aggregate over the user's scope."""
    scope = opportunities_visible(user)
    start, end = _range(period)
    open_ = scope.filter(status=Opportunity.Status.OPEN)
    by_month = [
        {"month": r["month"], "count": r["n"], "amount": _q2(r["total"]), "weighted": _q2(r["weighted"])}
        for r in open_.filter(expected_close__isnull=False)
        .annotate(month=TruncMonth("expected_close"))
        .values("month")
        .annotate(n=Count("id"), total=Sum("amount"), weighted=_weighted())
        .order_by("month")
    ]
    undated = open_.filter(expected_close__isnull=True).aggregate(
        n=Count("id"), total=Sum("amount"), weighted=_weighted()
    )
    by_rep = [
        {
            "owner_id": r["owner_id"],
            "name": r["owner__name"] or r["owner__email"],
            "count": r["n"],
            "amount": _q2(r["total"]),
            "weighted": _q2(r["weighted"]),
        }
        for r in open_.values("owner_id", "owner__name", "owner__email")
        .annotate(n=Count("id"), total=Sum("amount"), weighted=_weighted())
        .order_by("-weighted", "owner_id")
    ]
    closed = scope.filter(closed_at__gte=start, closed_at__lt=end).aggregate(
        won=Count("id", filter=Q(status=Opportunity.Status.WON)),
        lost=Count("id", filter=Q(status=Opportunity.Status.LOST)),
        won_amount=Coalesce(Sum("amount", filter=Q(status=Opportunity.Status.WON)), ZERO),
        cycle=Avg(
            ExpressionWrapper(F("closed_at") - F("created_at"), output_field=DurationField()),
            filter=Q(status=Opportunity.Status.WON),
        ),
    )
    decided = closed["won"] + closed["lost"]
    win_rate = round(100 * closed["won"] / decided, 1) if decided else None
    cycle_days = round(closed["cycle"].total_seconds() / 86400, 1) if closed["cycle"] is not None else None
    conversion = stage_conversion(scope.filter(created_at__gte=start, created_at__lt=end))
    return {
        "period": period,
        "by_month": by_month,
        "undated": {
            "count": undated["n"],
            "amount": _q2(undated["total"]),
            "weighted": _q2(undated["weighted"]),
        },
        "by_rep": by_rep,
        "weighted_total": sum((r["weighted"] for r in by_rep), Decimal("0.00")),
        "won": closed["won"],
        "lost": closed["lost"],
        "won_amount": _q2(closed["won_amount"]),
        "win_rate": win_rate,
        "cycle_days": cycle_days,
        "conversion": conversion,
    }


def stage_conversion(opps: QuerySet[Opportunity]) -> list[dict[str, Any]]:
    """Share of `opps` that reached each open stage and won. Reaching a stage means the stage log has it
    or a later one (skipping a stage still passes it); lost is not a step forward. The furthest position is
    kept on the opportunity (`reached_position`), so this is one aggregate over the opportunities."""
    stages = [s for s in Stage.objects.all() if s.kind != Stage.Kind.LOST]
    counts = opps.aggregate(
        total=Count("id"),
        **{f"s{s.pk}": Count("id", filter=Q(reached_position__gte=s.position)) for s in stages},
    )
    total = counts["total"]
    return [
        {
            "stage": s,
            "count": counts[f"s{s.pk}"],
            "percent": round(100 * counts[f"s{s.pk}"] / total, 1) if total else 0.0,
        }
        for s in stages
        if s.is_active or counts[f"s{s.pk}"]
    ]


def forecast_chart(report: dict[str, Any]) -> dict[str, Any]:
    """Numbers for the charts (floats for ECharts only; the tables show the Decimals)."""
    return {
        "months": [r["month"].strftime("%Y-%m") for r in report["by_month"]],
        "weighted": [float(r["weighted"]) for r in report["by_month"]],
        "reps": [r["name"] for r in report["by_rep"]],
        "rep_weighted": [float(r["weighted"]) for r in report["by_rep"]],
        "stages": [r["stage"].name for r in report["conversion"]],
        "conversion": [r["percent"] for r in report["conversion"]],
    }


# --- dashboard widget and customer panel -----------------------------------------------------------------


def my_pipeline(user: User) -> dict[str, Any]:
    """Open opportunities in the user's scope by stage: count and weighted amount (one aggregate)."""
    stages = stages_active()
    rows = {
        r["stage_id"]: r
        for r in opportunities_visible(user)
        .filter(status=Opportunity.Status.OPEN)
        .values("stage_id")
        .annotate(n=Count("id"), weighted=_weighted())
    }
    by_stage = [
        {"stage": s, "count": rows[s.pk]["n"], "weighted": _q2(rows[s.pk]["weighted"])}
        for s in stages
        if s.pk in rows
    ]
    return {
        "by_stage": by_stage,
        "count": sum(r["count"] for r in by_stage),
        "weighted": sum((r["weighted"] for r in by_stage), Decimal("0.00")),
    }


def widget_context(user: User) -> dict[str, Any]:
    return {"pipeline": my_pipeline(user)}


def customer_panel_context(customer: Any, user: User) -> dict[str, Any]:
    from crm.platform.permissions import has_perm

    opps = list(
        opportunities_visible(user)
        .filter(customer=customer)
        .select_related("stage", "owner")
        .order_by("-id")[:20]
    )
    return {"opportunities": opps, "can_create": has_perm(user, "sales.opportunity_edit")}
