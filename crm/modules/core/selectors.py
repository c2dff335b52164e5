"""Reads of the CRM core. Every read takes the acting user and applies their data scope:
reps see their own customers plus those shared with them, managers their team subtree, owners/admins all,
clerks none. Lists, search, detail, exports, API and dashboards all go through `customers_visible`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db.models import Count, Model, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from crm.kernel.hooks import module_search
from crm.kernel.scope import can_edit, editable_to, visible_to
from crm.kernel.scope import team_members_q as team_members_q  # re-exported: callers keep core's names
from crm.kernel.scope import team_user_ids as team_user_ids
from crm.kernel.tenant_time import day_bounds, tenant_today, tenant_zone, week_bounds
from crm.platform.permissions import has_perm
from crm.tenants.accounts.models import AuditEntry, User

from .models import (
    Activity,
    Contact,
    CoreSettings,
    Customer,
    CustomFieldDefinition,
    Document,
    Product,
    Task,
    WeeklyReport,
)

M = TypeVar("M", bound=Model)


def core_settings() -> CoreSettings:
    obj = CoreSettings.objects.order_by("id").first()
    if obj is None:
        obj = CoreSettings.objects.create()
    return obj


def can_view_customers(user: User) -> bool:
    return has_perm(user, "core.view_customers")


def customers_visible(user: User) -> QuerySet[Customer]:
    """Customers the user may see (pool customers have no owner: only admins see them here; the pool has
    its own page). Owned by the user / their team subtree / anyone by role, plus shared with them."""
    return visible_to(Customer.objects.all(), user, shares="shares", perm="core.view_customers")


def of_visible_customers(queryset: QuerySet[M], user: User, customer_field: str = "customer") -> QuerySet[M]:
    """Records hanging off a customer (contacts, activities, documents, a module's orders) that the user
    may see: exactly those of the customers in `customers_visible`, in the same single query."""
    return visible_to(
        queryset,
        user,
        owner_field=f"{customer_field}__owner",
        shares=f"{customer_field}__shares",
        perm="core.view_customers",
    )


def contacts_visible(user: User) -> QuerySet[Contact]:
    return of_visible_customers(Contact.objects.all(), user)


def activities_visible(user: User) -> QuerySet[Activity]:
    return of_visible_customers(Activity.objects.all(), user)


def documents_visible(user: User) -> QuerySet[Document]:
    return of_visible_customers(Document.objects.all(), user)


def tasks_visible(user: User) -> QuerySet[Task]:
    """Tasks by their owner: own, the team subtree's for managers, all for admins."""
    return visible_to(Task.objects.all(), user, perm="core.view_customers")


def customer_get(user: User, pk: int) -> Customer:
    customer = customers_visible(user).select_related("owner").filter(pk=pk).first()
    if customer is None:
        raise Http404
    return customer


def customer_can_edit(user: User, customer: Customer) -> bool:
    """Owner, a colleague it is shared with for writing, the owner's manager chain, admins."""
    return can_edit(user, customer, shares="shares", perm="core.view_customers")


def customers_editable(user: User, ids: Iterable[int]) -> set[int]:
    """Of the customers `ids`, those the user may change (the bulk `customer_can_edit`): one query per
    10,000 ids, so that a 100k-row import stays a few statements."""
    pks, editable = list(ids), set[int]()
    if not can_view_customers(user):
        return editable
    for i in range(0, len(pks), 10000):
        qs = editable_to(Customer.objects.filter(pk__in=pks[i : i + 10000]), user, shares="shares")
        editable.update(qs.values_list("pk", flat=True))
    return editable


@dataclass
class CustomerFilters:
    q: str = ""
    stage: str = ""
    owner: int | None = None
    tag: str = ""
    kind: str = ""


def customer_list(user: User, filters: CustomerFilters | None = None) -> QuerySet[Customer]:
    """Visible customers, filtered; one query with the owner joined (constant query count per page)."""
    f = filters or CustomerFilters()
    qs = customers_visible(user).select_related("owner")
    if f.q:
        term = f.q.strip()
        qs = qs.filter(
            Q(name__icontains=term)
            | Q(name_initials__contains=term.lower())
            | Q(phone__contains=term)
            | Q(email__icontains=term)
            | Q(
                pk__in=Contact.objects.filter(Q(name__icontains=term) | Q(phone__contains=term)).values(
                    "customer_id"
                )
            )
        )
    if f.stage:
        qs = qs.filter(stage=f.stage)
    if f.owner:
        qs = qs.filter(owner_id=f.owner)
    if f.tag:
        qs = qs.filter(tags__contains=[f.tag])
    if f.kind:
        qs = qs.filter(kind=f.kind)
    return qs


def customer_timeline(user: User, customer: Customer) -> QuerySet[Activity]:
    """Activities of a customer, through the customer's scope (none if the user may not see it), with
    author, comments and files prefetched."""
    return (
        activities_visible(user)
        .filter(customer=customer)
        .select_related("author")
        .prefetch_related("comments__author", "documents")
    )


def customer_history(user: User, customer: Customer, limit: int = 30) -> list[AuditEntry]:
    """The audit trail of one customer (edits, ownership moves, shares); admins only."""
    if not has_perm(user, "workspace.view_audit"):
        return []
    return list(
        AuditEntry.objects.filter(target_type="Customer", target_id=str(customer.pk)).select_related("actor")[
            :limit
        ]
    )


def duplicates_find(
    *, name: str = "", phone: str = "", email: str = "", exclude_pk: int | None = None
) -> list[Customer]:
    """Customers of this tenant (any owner) with the same phone, email or normalised name."""
    from .services import normalize_name, normalize_phone

    cond = Q()
    if normalize_name(name):
        cond |= Q(name_normalized=normalize_name(name))
    if normalize_phone(phone):
        cond |= Q(phone=normalize_phone(phone)) | Q(contacts__phone=normalize_phone(phone))
    if email.strip():
        cond |= Q(email__iexact=email.strip())
    if not cond:
        return []
    qs = Customer.objects.filter(cond).select_related("owner").distinct().order_by("id")
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return list(qs[:10])


def customer_tasks_open(user: User, customer: Customer) -> QuerySet[Task]:
    """Open tasks about a customer the user may see (any owner: the customer page lists the team's work)."""
    return of_visible_customers(
        Task.objects.filter(customer=customer, done_at__isnull=True), user
    ).select_related("owner")


def tasks_open(user: User) -> QuerySet[Task]:
    return Task.objects.filter(owner=user, done_at__isnull=True).select_related("customer").order_by("due_at")


def pool_list(user: User, q: str = "") -> QuerySet[Customer]:
    if not can_view_customers(user):
        return Customer.objects.none()
    qs = Customer.objects.filter(in_pool=True, owner__isnull=True)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(name_initials__contains=q.lower()))
    return qs.order_by("-last_activity_at", "-id")


def product_list(q: str = "", category: str = "") -> QuerySet[Product]:
    qs = Product.objects.filter(is_active=True)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(code__icontains=q) | Q(name_initials__contains=q.lower()))
    if category:
        qs = qs.filter(category=category)
    return qs


def custom_fields() -> list[CustomFieldDefinition]:
    return list(CustomFieldDefinition.objects.all())


def search(user: User, q: str, limit: int = 10, enabled: Iterable[str] | None = None) -> dict[str, list[Any]]:
    """One search box over visible customers, their contacts and products (name, phone, pinyin initials),
    plus "modules": what the enabled modules' search hooks find (manifest `search`; `enabled` defaults to
    the modules of the tenant whose schema the connection is on)."""
    q = q.strip()
    if not q:
        return {"customers": [], "contacts": [], "products": [], "modules": []}
    contacts = (
        contacts_visible(user)
        .filter(Q(name__icontains=q) | Q(name_initials__contains=q.lower()) | Q(phone__contains=q))
        .select_related("customer")[:limit]
    )
    return {
        "customers": list(customer_list(user, CustomerFilters(q=q))[:limit]),
        "contacts": list(contacts),
        "products": list(product_list(q)[:limit]),
        "modules": module_search(user, q, _enabled_here() if enabled is None else enabled, limit),
    }


def _enabled_here() -> frozenset[str]:
    from django.db import connection

    from crm.tenants.selectors import enabled_modules

    tenant = getattr(connection, "tenant", None)
    if tenant is None or not getattr(tenant, "pk", None):
        return frozenset()
    return enabled_modules(tenant)


def _week_start(now: datetime) -> datetime:
    """Monday 00:00 of the tenant's week holding `now`."""
    return week_bounds(timezone.localtime(now, tenant_zone()).date())[0]


def dashboard_rep(user: User) -> dict[str, Any]:
    now = timezone.now()
    week = _week_start(now)
    mine = customers_visible(user).filter(owner=user)
    by_stage = dict(mine.values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    per_day = [0] * 7
    zone = tenant_zone()
    for occurred in Activity.objects.filter(author=user, occurred_at__gte=week).values_list(
        "occurred_at", flat=True
    ):
        per_day[timezone.localtime(occurred, zone).weekday()] += 1
    # Overdue, today's and tomorrow's follow-ups (tenant days): tomorrow's visit is planned today.
    due = tasks_open(user).filter(due_at__lt=day_bounds(tenant_today() + timedelta(days=1))[1])
    soon = mine.filter(pool_warned_at__isnull=False, in_pool=False)
    return {
        "due_tasks": list(due[:20]),
        "by_stage": [(label, by_stage.get(value, 0)) for value, label in Customer.Stage.choices],
        "week_days": per_day,
        "week_total": sum(per_day),
        "pool_warnings": list(soon[:10]),
    }


def dashboard_manager(user: User) -> dict[str, Any]:
    """Team view: activity this week per person, customers by owner and stage, overdue follow-ups."""
    now = timezone.now()
    week = _week_start(now)
    # The people in the user's scope: everyone for admins, the team subtree for managers, else themselves.
    people = visible_to(User.objects.filter(is_active=True), user, owner_field="pk")
    people_list = list(people.order_by("name"))
    ids = [p.pk for p in people_list]
    acts = dict(
        Activity.objects.filter(author_id__in=ids, occurred_at__gte=week)
        .values_list("author_id")
        .annotate(n=Count("id"))
        .values_list("author_id", "n")
    )
    matrix: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    for owner_id, stage, n in (
        customers_visible(user)
        .filter(owner_id__in=ids)
        .values_list("owner_id", "stage")
        .annotate(n=Count("id"))
        .values_list("owner_id", "stage", "n")
    ):
        matrix[owner_id][stage] = n
    overdue = (
        Task.objects.filter(owner_id__in=ids, done_at__isnull=True, due_at__lt=now)
        .select_related("owner", "customer")
        .order_by("due_at")
    )
    stages = Customer.Stage.choices
    return {
        "people": [
            {
                "user": p,
                "activities": acts.get(p.pk, 0),
                "stages": [matrix[p.pk].get(value, 0) for value, _label in stages],
            }
            for p in people_list
        ],
        "stages": [label for _value, label in stages],
        "overdue": list(overdue[:30]),
        "overdue_count": overdue.count(),
    }


def weekly_reports_visible(user: User) -> QuerySet[WeeklyReport]:
    """The user's own reports plus the submitted reports of the authors in their data scope (team subtree
    for managers, everyone for admins)."""
    submitted = WeeklyReport.objects.filter(status=WeeklyReport.Status.SUBMITTED)
    others = visible_to(submitted, user, owner_field="author")
    return WeeklyReport.objects.filter(Q(author=user) | Q(pk__in=others.values("pk"))).select_related(
        "author"
    )


def handover_customers(ids: list[int]) -> list[tuple[int, str]]:
    """(id, name) of the customers in a handover preview, in the plan's id order; one query for any size.
    Callers hold core.handover, which sees every customer of the departing colleague."""
    return list(Customer.objects.filter(pk__in=ids).order_by("id").values_list("pk", "name"))


def document_get(user: User, pk: int) -> Document:
    """A document whose customer the user may see (else 404: existence is not revealed)."""
    doc = documents_visible(user).select_related("customer").filter(pk=pk).first()
    if doc is None:
        raise Http404
    return doc
