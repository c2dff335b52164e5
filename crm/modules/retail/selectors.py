"""Retail reads. Clerks never list members: they reach one member only through `services.member_lookup`,
and afterwards only the members they looked up in their own session (`member_for_counter`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm.kernel.tenant_time import tenant_today, tenant_zone
from crm.platform.errors import NotFound, PermissionDenied
from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import User

from .models import CareRun, Member, PointsEntry, Renewal, Sale, Store, Tier

SESSION_KEY = "retail_looked_up"  # member ids a clerk found by exact lookup in this session
HISTORY = 10


def _require_manage(actor: User) -> None:
    from django.utils.translation import gettext as _

    if not has_perm(actor, "retail.manage"):
        raise PermissionDenied(_("You are not allowed to do this."))


def member_list(*, actor: User, q: str = "") -> QuerySet[Member]:
    """Managers, admins and owners only (clerks get a 403, never an empty list)."""
    _require_manage(actor)
    qs = Member.objects.select_related("tier", "store").order_by("-id")
    q = q.strip()
    if q:
        qs = qs.filter(member_no__startswith=q.upper()) | qs.filter(name__startswith=q)
    return qs


def member_for_counter(*, actor: User, member_id: int, looked_up: Iterable[int]) -> Member:
    """One member for the counter card: managers any member; clerks only one they looked up themselves.
    A clerk asking for any other id gets the same NotFound as for a missing id."""
    from django.utils.translation import gettext as _

    if not has_perm(actor, "retail.lookup"):
        raise PermissionDenied(_("You are not allowed to do this."))
    if not has_perm(actor, "retail.manage") and member_id not in set(looked_up):
        raise NotFound(_("No such member."))
    member = Member.objects.select_related("tier", "store").filter(pk=member_id).first()
    if member is None:
        raise NotFound(_("No such member."))
    return member


def member_recent_sales(member: Member, limit: int = HISTORY) -> list[Sale]:
    return list(Sale.objects.filter(member=member).select_related("store", "clerk").order_by("-id")[:limit])


def member_recent_points(member: Member, limit: int = HISTORY) -> list[PointsEntry]:
    return list(PointsEntry.objects.filter(member=member).order_by("-id")[:limit])


def member_recent_renewals(member: Member, limit: int = HISTORY) -> list[Renewal]:
    return list(
        Renewal.objects.filter(member=member)
        .select_related("renewed_by", "tier_change__from_tier", "tier_change__to_tier")
        .order_by("-id")[:limit]
    )


def stores_for(actor: User) -> QuerySet[Store]:
    """Where the actor may record a sale: all active stores for managers, assigned ones for clerks."""
    qs = Store.objects.filter(is_active=True).order_by("code")
    if has_perm(actor, "retail.manage"):
        return qs
    return qs.filter(assignments__user=actor)


def store_list(*, actor: User) -> QuerySet[Store]:
    _require_manage(actor)
    return Store.objects.prefetch_related("assignments__user").order_by("code")


def tier_list() -> QuerySet[Tier]:
    return Tier.objects.order_by("rank")


# --- points due to lapse ------------------------------------------------------------------------------

EARNING = (PointsEntry.Kind.EARN, PointsEntry.Kind.IMPORT)
DEBITS = (PointsEntry.Kind.REDEEM, PointsEntry.Kind.EXPIRE)


def points_due(member_ids: Iterable[int] | None, at: datetime) -> dict[int, int]:
    """Per member, how many points have lapsed by `at` and are still held (before capping by the balance).

    Redemptions and earlier expiries consume the oldest points first (FIFO), so what is still held of the
    points whose `expires_at` <= `at` is max(0, those points − all debits so far). Points of voided sales
    never count (the void already took them back). Two grouped queries whatever the member count."""
    earned = PointsEntry.objects.filter(kind__in=EARNING, points__gt=0, expires_at__lte=at).exclude(
        sale__voided_at__isnull=False
    )
    debits = PointsEntry.objects.filter(kind__in=DEBITS)
    if member_ids is not None:
        ids = list(member_ids)
        earned, debits = earned.filter(member_id__in=ids), debits.filter(member_id__in=ids)
    due = {r["member_id"]: r["s"] for r in earned.values("member_id").annotate(s=Sum("points"))}
    spent = {r["member_id"]: -r["s"] for r in debits.values("member_id").annotate(s=Sum("points"))}
    return {pk: max(0, points - spent.get(pk, 0)) for pk, points in due.items()}


def points_expiring(
    *, actor: User, within_days: int = 30, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Members whose points lapse in the next `within_days` days, with how many (for the managers' list)."""
    _require_manage(actor)
    now = now or timezone.now()
    until = now + timedelta(days=within_days)
    soon = (
        PointsEntry.objects.filter(kind__in=EARNING, points__gt=0, expires_at__gt=now, expires_at__lte=until)
        .values_list("member_id", flat=True)
        .distinct()
    )
    due = points_due(soon, until)
    members = Member.objects.select_related("tier").in_bulk([pk for pk, n in due.items() if n > 0])
    rows = [
        {"member": m, "points": min(due[pk], max(0, m.points_balance))}
        for pk, m in members.items()
        if m.points_balance > 0
    ]
    return sorted(rows, key=lambda r: (-r["points"], r["member"].member_no))


def memberships_expiring(*, actor: User, within_days: int = 30) -> QuerySet[Member]:
    _require_manage(actor)
    today = tenant_today()
    return (
        Member.objects.filter(valid_until__gte=today, valid_until__lte=today + timedelta(days=within_days))
        .select_related("tier", "store")
        .order_by("valid_until", "member_no")
    )


# --- results ------------------------------------------------------------------------------------------


def results(*, actor: User, days: int = 30) -> dict[str, Any]:
    """Sales (not voided) in the last `days` days by store, clerk, day (the tenant's calendar day) and the
    member's tier at the time of each sale; new and active members and the repeat-purchase rate (share of
    active members who bought twice or more). A fixed number of grouped queries whatever the data size."""
    _require_manage(actor)
    since = timezone.now() - timedelta(days=days)
    sales = Sale.objects.filter(voided_at__isnull=True, created_at__gte=since)
    agg = {"total": Sum("amount"), "count": Count("id")}
    by_store = list(sales.values("store__name").annotate(**agg).order_by("-total"))
    by_clerk = list(sales.values("clerk__name").annotate(**agg).order_by("-total"))
    by_day = list(
        sales.annotate(day=TruncDate("created_at", tzinfo=tenant_zone()))
        .values("day")
        .annotate(**agg)
        .order_by("day")
    )
    # The tier recorded on each sale (the member's tier when buying), not the member's tier today.
    by_tier = list(sales.values("tier__name").annotate(**agg).order_by("-total"))
    per_member = sales.values("member_id").annotate(n=Count("id"))
    counts = per_member.aggregate(active=Count("member_id"), repeat=Count("member_id", filter=Q(n__gte=2)))
    active, repeat = counts["active"] or 0, counts["repeat"] or 0
    return {
        "days": days,
        "by_store": by_store,
        "by_clerk": by_clerk,
        "by_day": by_day,
        "by_tier": by_tier,
        "new_members": Member.objects.filter(created_at__gte=since).count(),
        "active_members": active,
        "repeat_rate": round(100 * repeat / active, 1) if active else 0.0,
    }


def care_run_last(*, actor: User) -> CareRun | None:
    """The latest member care run of this workspace (the care page's status line), for managers."""
    _require_manage(actor)
    return CareRun.objects.order_by("-run_on", "-id").first()
