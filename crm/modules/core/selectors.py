"""Reads of the CRM core. Every read takes the acting user and applies their data scope:
reps see their own customers plus those shared with them, managers their team subtree, owners/admins all,
clerks none. Lists, search, detail, exports, API and dashboards all go through `customers_visible`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from crm.platform.permissions import data_scope, has_perm
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


def core_settings() -> CoreSettings:
    obj = CoreSettings.objects.order_by("id").first()
    if obj is None:
        obj = CoreSettings.objects.create()
    return obj


# Members of the teams a user manages and of all their sub-teams (Team.parent tree), as one SQL subquery
# so that list pages embed it instead of running extra queries.
_TEAM_MEMBERS_SQL = """
    WITH RECURSIVE subtree AS (
        SELECT id FROM accounts_team WHERE manager_id = %s
        UNION SELECT t.id FROM accounts_team t JOIN subtree ON t.parent_id = subtree.id
    )
    SELECT id FROM accounts_user WHERE team_id IN (SELECT id FROM subtree)
"""


def team_members_q(user: User, field: str = "owner_id") -> Q:
    """`field` is the user or a member of a team the user manages (directly or through sub-teams)."""
    # Constant SQL with a bound parameter: nothing user-supplied is interpolated.
    return Q(**{field: user.pk}) | Q(**{f"{field}__in": RawSQL(_TEAM_MEMBERS_SQL, [user.pk])})  # noqa: S611


def team_user_ids(user: User) -> set[int]:
    """The user plus everyone in the teams they manage and those teams' sub-teams."""
    return set(User.objects.filter(team_members_q(user, "pk")).values_list("pk", flat=True))


def can_view_customers(user: User) -> bool:
    return has_perm(user, "core.view_customers")


def customers_visible(user: User) -> QuerySet[Customer]:
    """Customers the user may see (never pool customers unless admin; the pool has its own page)."""
    qs = Customer.objects.all()
    if not can_view_customers(user):
        return qs.none()
    scope = data_scope(user)
    if scope == "all":
        return qs
    shared = Q(shares__user=user)
    if scope == "team":
        # Subqueries instead of joins so that a customer is listed once however it is reached.
        return qs.filter(team_members_q(user) | Q(pk__in=Customer.objects.filter(shared).values("pk")))
    if scope == "own":
        return qs.filter(Q(owner=user) | Q(pk__in=Customer.objects.filter(shared).values("pk")))
    return qs.none()


def customer_get(user: User, pk: int) -> Customer:
    customer = customers_visible(user).select_related("owner").filter(pk=pk).first()
    if customer is None:
        raise Http404
    return customer


def customer_can_edit(user: User, customer: Customer) -> bool:
    """Owner, a colleague it is shared with for writing, the owner's manager chain, admins."""
    scope = data_scope(user)
    if not can_view_customers(user):
        return False
    if scope == "all" or customer.owner_id == user.pk:
        return True
    if scope == "team" and customer.owner_id in team_user_ids(user):
        return True
    return customer.shares.filter(user=user, can_edit=True).exists()


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
    """Activities of a customer the user already may see, with author, comments and files prefetched."""
    return (
        Activity.objects.filter(customer=customer)
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


def search(user: User, q: str, limit: int = 10) -> dict[str, list[Any]]:
    """One search box over visible customers, their contacts and products (name, phone, pinyin initials)."""
    q = q.strip()
    if not q:
        return {"customers": [], "contacts": [], "products": []}
    visible = customers_visible(user)
    contacts = (
        Contact.objects.filter(customer__in=visible.values("pk"))
        .filter(Q(name__icontains=q) | Q(name_initials__contains=q.lower()) | Q(phone__contains=q))
        .select_related("customer")[:limit]
    )
    return {
        "customers": list(customer_list(user, CustomerFilters(q=q))[:limit]),
        "contacts": list(contacts),
        "products": list(product_list(q)[:limit]),
    }


def _week_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def dashboard_rep(user: User) -> dict[str, Any]:
    now = timezone.now()
    week = _week_start(now)
    mine = customers_visible(user).filter(owner=user)
    by_stage = dict(mine.values_list("stage").annotate(n=Count("id")).values_list("stage", "n"))
    per_day = [0] * 7
    for occurred in Activity.objects.filter(author=user, occurred_at__gte=week).values_list(
        "occurred_at", flat=True
    ):
        per_day[timezone.localtime(occurred).weekday()] += 1
    due = tasks_open(user).filter(due_at__lt=now + timedelta(days=1))
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
    scope = data_scope(user)
    people = User.objects.filter(is_active=True)
    if scope != "all":
        people = people.filter(pk__in=team_user_ids(user))
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
    """The user's own reports plus, for managers and admins, the submitted reports of people they see."""
    own = Q(author=user)
    scope = data_scope(user)
    if scope == "all":
        cond = own | Q(status=WeeklyReport.Status.SUBMITTED)
    elif scope == "team":
        cond = own | Q(status=WeeklyReport.Status.SUBMITTED, author_id__in=team_user_ids(user))
    else:
        cond = own
    return WeeklyReport.objects.filter(cond).select_related("author")


def handover_customers(ids: list[int]) -> list[tuple[int, str]]:
    """(id, name) of the customers in a handover preview, in the plan's id order; one query for any size.
    Callers hold core.handover, which sees every customer of the departing colleague."""
    return list(Customer.objects.filter(pk__in=ids).order_by("id").values_list("pk", "name"))


def document_get(user: User, pk: int) -> Document:
    """A document whose customer the user may see (else 404: existence is not revealed)."""
    doc = (
        Document.objects.select_related("customer")
        .filter(pk=pk, customer__in=customers_visible(user).values("pk"))
        .first()
    )
    if doc is None:
        raise Http404
    return doc
