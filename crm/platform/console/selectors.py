"""Operator console reads. Operators see every tenant; nobody else sees anything here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from crm.platform.models import ImpersonationSession, OperatorAudit
from crm.platform.permissions import Role, check_operator, role_label
from crm.platform.registry import registry
from crm.tenants.accounts.models import User
from crm.tenants.models import ModuleChange, Tenant, TenantStatus
from crm.tenants.selectors import module_states
from crm.tenants.services import tenant_url

PAGE_SIZE = 25
# Template and pool rows are schemas waiting to be used, not customers.
HIDDEN_STATUSES = (TenantStatus.TEMPLATE, TenantStatus.POOL)
LISTED_STATUSES = [s for s in TenantStatus if s not in HIDDEN_STATUSES]
# Schema names come from Tenant rows, and are checked again before they are spliced into SQL as identifiers.
SCHEMA_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass
class TenantRow:
    tenant: Tenant
    user_count: int | None
    url: str = ""
    modules: list[dict[str, Any]] = field(default_factory=list)  # sellable effective modules, comp flag


def _customers() -> QuerySet[Tenant]:
    # The public schema's own row (the platform site) is not a customer either.
    return Tenant.objects.exclude(status__in=HIDDEN_STATUSES).exclude(schema_name=get_public_schema_name())


def tenants_queryset(*, actor: User, q: str = "", status: str = "") -> QuerySet[Tenant]:
    check_operator(actor)
    qs = _customers()
    q = q.strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(slug__icontains=q) | Q(owner_email__icontains=q))
    if status in {s.value for s in LISTED_STATUSES}:
        qs = qs.filter(status=status)
    return qs.prefetch_related("modules").order_by("-created_at", "-id")


def active_user_counts(schemas: list[str]) -> dict[str, int]:
    """Active users per tenant schema, in ONE query whatever the number of schemas (a UNION ALL)."""
    schemas = [s for s in schemas if SCHEMA_NAME_RE.match(s)]
    if not schemas:
        return {}
    parts = [
        f"SELECT %s, count(*) FROM {connection.ops.quote_name(s)}.accounts_user WHERE is_active"  # noqa: S608
        for s in schemas
    ]
    try:
        # A savepoint: a schema dropped under us must not break the caller's transaction.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(" UNION ALL ".join(parts), schemas)
            return {row[0]: int(row[1]) for row in cursor.fetchall()}
    except DatabaseError:
        return {}


def _module_summary(tenant: Tenant) -> list[dict[str, Any]]:
    rows = list(tenant.modules.all())  # prefetched
    chosen = [r.module for r in rows if r.enabled]
    comps = {r.module for r in rows if r.comp}
    effective = registry.expand([*chosen, *comps])
    return [
        {"slug": m.slug, "name": m.name, "comp": m.slug in comps}
        for m in registry.sellable()
        if m.slug in effective
    ]


def tenant_page(
    *, actor: User, q: str = "", status: str = "", page: Any = 1
) -> tuple[Page[Tenant], list[TenantRow]]:
    """One page of tenants with their modules and active-user counts; a constant number of queries."""
    paginator = Paginator(tenants_queryset(actor=actor, q=q, status=status), PAGE_SIZE)
    current = paginator.get_page(page)
    tenants = list(current.object_list)
    counts = active_user_counts([t.schema_name for t in tenants])
    rows = [
        TenantRow(
            tenant=t, user_count=counts.get(t.schema_name), url=tenant_url(t), modules=_module_summary(t)
        )
        for t in tenants
    ]
    return current, rows


def dashboard(*, actor: User) -> dict[str, Any]:
    """Header numbers: tenants by status, signups in the last 7 days, spare schemas in the pool (1 query)."""
    check_operator(actor)
    since = timezone.now() - timedelta(days=7)
    by_status: dict[str, int] = {}
    signups = 0
    for row in (
        Tenant.objects.exclude(schema_name=get_public_schema_name())
        .values("status")
        .annotate(n=Count("id"), recent=Count("id", filter=Q(created_at__gte=since)))
        .order_by()
    ):
        by_status[row["status"]] = row["n"]
        if row["status"] not in HIDDEN_STATUSES:
            signups += row["recent"]
    return {
        "by_status": [
            {"status": s, "label": s.label, "count": by_status.get(s.value, 0)} for s in LISTED_STATUSES
        ],
        "signups_7d": signups,
        "pool_size": by_status.get(TenantStatus.POOL, 0),
    }


def tenant_get(*, actor: User, tenant_id: int) -> Tenant | None:
    check_operator(actor)
    return _customers().filter(pk=tenant_id).first()


def tenant_detail(*, actor: User, tenant: Tenant) -> dict[str, Any]:
    """Everything the tenant page shows: modules, their change log, users (from the tenant's schema),
    support sessions and the operators' audit trail for this tenant."""
    check_operator(actor)
    with schema_context(tenant.schema_name):
        users: list[dict[str, Any]] = [
            dict(row)
            for row in User.objects.exclude(role=Role.OPERATOR)
            .values("id", "name", "email", "role", "is_active", "last_login", "created_at")
            .order_by("-is_active", "name", "email")
        ]
    audits = list(OperatorAudit.objects.filter(tenant=tenant).select_related("operator")[:100])
    flagged = {
        a.detail.get("session") for a in audits if a.action == "impersonation.start" and a.detail.get("owner")
    }
    sessions = list(ImpersonationSession.objects.filter(tenant=tenant).select_related("operator")[:50])
    for session in sessions:
        session.flagged = session.pk in flagged  # type: ignore[attr-defined]
    for user in users:
        user["role_label"] = role_label(user["role"])  # module roles included
    return {
        "modules": module_states(tenant),
        "module_changes": list(ModuleChange.objects.filter(tenant=tenant)[:100]),
        "users": users,
        "sessions": sessions,
        "audits": audits,
        "domains": list(tenant.domains.all()),
        "comp_choices": comp_choices(),
    }


def comp_choices() -> list[tuple[str, str]]:
    return [(m.slug, str(m.name)) for m in registry.sellable()]
