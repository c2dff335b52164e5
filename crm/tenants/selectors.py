"""Reads about tenants and their modules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django_tenants.utils import schema_context

from crm.platform.registry import registry
from crm.tenants.models import BillingTerms, ModuleChange, Tenant, TenantModule

MODULES_CACHE_SECONDS = 300


def _modules_key(tenant: Tenant) -> str:
    return f"modules-enabled:{tenant.pk}"


def enabled_modules(tenant: Tenant) -> frozenset[str]:
    """The tenant's enabled modules expanded by `depends` (always-on included); cached per tenant.

    The cache key is made inside the tenant's own schema context, so the key carries the schema name.
    """
    with schema_context(tenant.schema_name):
        cached = cache.get(_modules_key(tenant))
        if cached is not None:
            return frozenset(cached)
    chosen = TenantModule.objects.filter(tenant=tenant).filter(enabled=True).values_list("module", flat=True)
    comps = TenantModule.objects.filter(tenant=tenant, comp=True).values_list("module", flat=True)
    expanded = registry.expand([*chosen, *comps])
    with schema_context(tenant.schema_name):
        cache.set(_modules_key(tenant), sorted(expanded), MODULES_CACHE_SECONDS)
    return frozenset(expanded)


def invalidate_modules(tenant: Tenant) -> None:
    with schema_context(tenant.schema_name):
        cache.delete(_modules_key(tenant))


def module_states(tenant: Tenant) -> list[dict[str, object]]:
    """Every registered non-core module with its state for this tenant, enabled ones first."""
    rows = {tm.module: tm for tm in TenantModule.objects.filter(tenant=tenant)}
    effective = enabled_modules(tenant)
    states = []
    for manifest in registry.all():
        if manifest.always_on:
            continue
        row = rows.get(manifest.slug)
        states.append(
            {
                "manifest": manifest,
                "slug": manifest.slug,
                "chosen": bool(row and row.enabled),
                "comp": bool(row and row.comp),
                "effective": manifest.slug in effective,
                "required_by": sorted(s for s in effective if manifest.slug in registry.get(s).depends),
            }
        )
    states.sort(key=lambda s: (not s["effective"], not s["manifest"].sellable, str(s["manifest"].name)))  # type: ignore[attr-defined]
    return states


def module_change_log(tenant: Tenant, *, limit: int = 20) -> list[ModuleChange]:
    """The tenant's most recent module changes (who, when, what), newest first."""
    return list(ModuleChange.objects.filter(tenant=tenant).order_by("-created_at", "-id")[:limit])


# Until an operator sets terms in the console: the documented defaults.
DEFAULT_TRIAL_DAYS = 14


@dataclass(frozen=True)
class Terms:
    trial_days: int
    grace_days: int
    since: datetime | None  # None: the built-in defaults, never changed


def billing_terms(at: datetime | None = None) -> Terms:
    """The trial length and grace period in force now, or at `at` (the newest change made by then)."""
    rows = BillingTerms.objects.all()
    if at is not None:
        rows = rows.filter(created_at__lte=at)
    row = rows.first()
    if row is None:
        return Terms(DEFAULT_TRIAL_DAYS, settings.BILLING_GRACE_DAYS, None)
    return Terms(row.trial_days, row.grace_days, row.created_at)


def billing_terms_history(limit: int = 50) -> list[BillingTerms]:
    return list(BillingTerms.objects.all()[:limit])
