"""Service reads, filtered by the data scope (crm/kernel/scope.py).

Orders: owners and admins all; managers those owned by (customer's rep) or assigned to their team subtree;
reps and technicians those they own or are assigned to. Agreements and return visits by their owner."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, TruncMonth
from django.http import Http404

from crm.kernel.scope import visible_to
from crm.kernel.tenant_time import tenant_today, tenant_zone
from crm.modules.sales.public import Contract
from crm.platform.permissions import has_perm

from .hours import Calendar
from .models import Agreement, Entitlement, ReturnVisit, ServiceOrder, ServiceSettings, SlaPlan, WorkLog

ZERO = Decimal("0.00")
MONEY: Any = DecimalField(max_digits=16, decimal_places=2)


# --- settings ----------------------------------------------------------------------------------------


def service_settings() -> ServiceSettings:
    row, _created = ServiceSettings.objects.get_or_create(pk=1)
    return row


def calendar() -> Calendar:
    s = service_settings()
    holidays: set[date] = set()
    for raw in s.holidays or []:
        try:
            holidays.add(date.fromisoformat(str(raw)))
        except ValueError:
            continue
    return Calendar(
        zone=tenant_zone(),
        workdays=frozenset(int(c) for c in s.workdays if c.isdigit() and 1 <= int(c) <= 7),
        day_start=s.day_start,
        day_end=s.day_end,
        holidays=frozenset(holidays),
    )


def sla_plans() -> QuerySet[SlaPlan]:
    return SlaPlan.objects.all()


# --- orders ------------------------------------------------------------------------------------------


def orders_visible(user: Any) -> QuerySet[ServiceOrder]:
    qs = ServiceOrder.objects.all()
    if not has_perm(user, "service.view"):
        return qs.none()
    return visible_to(qs, user, owner_field="owner") | visible_to(qs, user, owner_field="assignee")


def order_list(
    user: Any, *, status: str = "", mine: bool = False, customer_id: int | None = None, q: str = ""
) -> QuerySet[ServiceOrder]:
    qs = orders_visible(user).select_related("customer", "assignee", "agreement")
    if status == "open":
        qs = qs.filter(status__in=ServiceOrder.OPEN_STATES)
    elif status:
        qs = qs.filter(status=status)
    if mine:
        qs = qs.filter(assignee=user)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if q:
        qs = qs.filter(Q(subject__icontains=q) | Q(number__icontains=q) | Q(customer__name__icontains=q))
    return qs.order_by(F("resolution_due").asc(nulls_last=True), "-id")


def order_get(user: Any, pk: int) -> ServiceOrder:
    order = (
        orders_visible(user)
        .select_related("customer", "assignee", "agreement", "owner")
        .filter(pk=pk)
        .first()
    )
    if order is None:
        raise Http404
    return order


def order_work_logs(order: ServiceOrder) -> QuerySet[WorkLog]:
    return order.work_logs.select_related("user")


# --- agreements --------------------------------------------------------------------------------------


def agreements_visible(user: Any) -> QuerySet[Agreement]:
    if not has_perm(user, "service.view"):
        return Agreement.objects.none()
    return visible_to(Agreement.objects.all(), user)


def agreement_list(user: Any, *, status: str = "", q: str = "") -> QuerySet[Agreement]:
    qs = (
        agreements_visible(user)
        .select_related("customer", "owner", "sla_plan")
        .annotate(
            hours_sold=Coalesce(Sum("entitlements__sold", filter=Q(entitlements__unit="hours")), Value(ZERO)),
            hours_used=Coalesce(Sum("entitlements__used", filter=Q(entitlements__unit="hours")), Value(ZERO)),
        )
    )
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(number__icontains=q) | Q(customer__name__icontains=q))
    return qs.order_by("end_date", "id")


def agreement_get(user: Any, pk: int) -> Agreement:
    found = (
        agreements_visible(user)
        .select_related("customer", "owner", "sla_plan", "contract")
        .filter(pk=pk)
        .first()
    )
    if found is None:
        raise Http404
    return found


def agreement_entitlements(agreement: Agreement) -> list[Entitlement]:
    return list(agreement.entitlements.all())


# --- visits ------------------------------------------------------------------------------------------


def visits_visible(user: Any) -> QuerySet[ReturnVisit]:
    if not has_perm(user, "service.view"):
        return ReturnVisit.objects.none()
    return visible_to(ReturnVisit.objects.all(), user)


def visit_list(user: Any, *, due: bool = False) -> QuerySet[ReturnVisit]:
    qs = visits_visible(user).select_related("customer", "owner", "order")
    if due:
        qs = qs.filter(done_at__isnull=True)
    return qs.order_by(F("done_at").desc(nulls_first=True), "scheduled_on", "id")


def visit_get(user: Any, pk: int) -> ReturnVisit:
    found = visits_visible(user).select_related("customer", "order").filter(pk=pk).first()
    if found is None:
        raise Http404
    return found


# --- reports -----------------------------------------------------------------------------------------

WINDOWS = (30, 60, 90)


def reports(user: Any, *, today: date | None = None, months: int = 12) -> dict[str, Any]:
    """Renewals due in the next 30/60/90 days, SLA met % per month and per assignee, hours sold vs delivered
    per customer, revenue and receivables per customer: each one SQL aggregate over the user's scope."""
    today = today or tenant_today()
    agreements = agreements_visible(user).filter(status=Agreement.Status.ACTIVE)
    windows = agreements.aggregate(
        **{
            f"d{n}": Count("id", filter=Q(end_date__gte=today, end_date__lte=today + timedelta(days=n)))
            for n in WINDOWS
        },
        **{
            f"v{n}": Coalesce(
                Sum("value", filter=Q(end_date__gte=today, end_date__lte=today + timedelta(days=n))),
                Value(ZERO),
                output_field=MONEY,
            )
            for n in WINDOWS
        },
    )
    renewals = [{"days": n, "count": windows[f"d{n}"], "value": windows[f"v{n}"]} for n in WINDOWS]
    renewals_due = list(
        agreements.filter(end_date__gte=today, end_date__lte=today + timedelta(days=90))
        .select_related("customer", "owner")
        .order_by("end_date", "id")[:50]
    )

    orders = orders_visible(user).filter(sla_met__isnull=False)
    since = today.replace(day=1)
    for _i in range(months - 1):
        since = (since - timedelta(days=1)).replace(day=1)
    sla_filter = Q(sla_met=True)
    by_month = [
        {**row, "percent": _percent(row["met"], row["total"])}
        for row in orders.filter(resolved_at__date__gte=since)
        .annotate(month=TruncMonth("resolved_at"))
        .values("month")
        .annotate(total=Count("id"), met=Count("id", filter=sla_filter))
        .order_by("month")
    ]
    by_assignee = [
        {**row, "percent": _percent(row["met"], row["total"])}
        for row in orders.values("assignee_id", "assignee__name")
        .annotate(total=Count("id"), met=Count("id", filter=sla_filter))
        .order_by("-total", "assignee__name")[:50]
    ]

    # Hours sold (entitlements) and delivered (work log) per customer.
    hours = list(
        agreements_visible(user)
        .values("customer_id", "customer__name")
        .annotate(
            sold=Coalesce(Sum("entitlements__sold", filter=Q(entitlements__unit="hours")), Value(ZERO)),
            used=Coalesce(Sum("entitlements__used", filter=Q(entitlements__unit="hours")), Value(ZERO)),
        )
        .order_by("-sold", "customer__name")[:50]
    )
    delivered = dict(
        WorkLog.objects.filter(
            order__in=orders_visible(user), order__customer_id__in=[h["customer_id"] for h in hours]
        )
        .values("order__customer_id")
        .annotate(total=Sum("hours"))
        .values_list("order__customer_id", "total")
    )
    for row in hours:
        row["delivered"] = delivered.get(row["customer_id"]) or ZERO
        row["left"] = row["sold"] - row["used"]

    money = list(
        visible_to(Contract.objects.filter(state__in=("confirmed", "completed")), user)
        .values("customer_id", "customer__name")
        .annotate(revenue=Sum("total_incl"), paid=Sum("paid_amount"))
        .annotate(receivable=F("revenue") - F("paid"))
        .order_by("-revenue", "customer__name")[:50]
    )
    return {
        "today": today,
        "renewals": renewals,
        "renewals_due": renewals_due,
        "sla_by_month": by_month,
        "sla_by_assignee": by_assignee,
        "hours": hours,
        "money": money,
    }


def _percent(part: int, total: int) -> Decimal:
    if not total:
        return ZERO
    return (Decimal(part) * 100 / Decimal(total)).quantize(Decimal("0.1"))


# --- hooks -------------------------------------------------------------------------------------------


def customer_panel_context(customer: Any, user: Any) -> dict[str, Any]:
    agreements = list(
        agreements_visible(user)
        .filter(customer=customer)
        .annotate(
            hours_sold=Coalesce(Sum("entitlements__sold", filter=Q(entitlements__unit="hours")), Value(ZERO)),
            hours_used=Coalesce(Sum("entitlements__used", filter=Q(entitlements__unit="hours")), Value(ZERO)),
            visits_sold=Coalesce(
                Sum("entitlements__sold", filter=Q(entitlements__unit="visits")), Value(ZERO)
            ),
            visits_used=Coalesce(
                Sum("entitlements__used", filter=Q(entitlements__unit="visits")), Value(ZERO)
            ),
        )
        .order_by("-end_date")[:10]
    )
    for a in agreements:
        a.hours_left = a.hours_sold - a.hours_used  # type: ignore[attr-defined]
        a.visits_left = a.visits_sold - a.visits_used  # type: ignore[attr-defined]
    orders = list(order_list(user, status="open", customer_id=customer.pk).select_related("assignee")[:10])
    return {
        "agreements": agreements,
        "open_orders": orders,
        "can_create": has_perm(user, "service.order_create"),
    }


def widget_context(user: Any) -> dict[str, Any]:
    qs = order_list(user, status="open").filter(Q(assignee=user) | Q(assignee__isnull=True, owner=user))
    return {"orders": list(qs[:8]), "count": qs.count()}
