"""The getting-started checklist: the steps of the workspace's modules (core first), each with whether it
is done, for owners and admins after signup. Shown on the dashboard until it is hidden or complete, and
always on its own page (Settings → Getting started), where it can be shown on the dashboard again."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.module_loading import import_string

from crm.platform.permissions import check_perm, has_perm
from crm.platform.registry import registry
from crm.tenants.accounts.models import Invitation, User
from crm.tenants.selectors import enabled_modules

from .models import Activity, CoreSettings, Customer, Product
from .selectors import core_settings

PERM = "core.manage_settings"


def checklist(tenant: Any, user: Any) -> dict[str, Any] | None:
    """None for users who do not set the workspace up; else the steps of the enabled modules in registry
    order (core first) with `done`, the counts and whether the owner hid it from the dashboard."""
    if not has_perm(user, PERM):
        return None
    enabled = enabled_modules(tenant)
    steps = []
    for manifest in sorted(registry.all(), key=lambda m: m.slug != "core"):
        if manifest.slug not in enabled:
            continue
        for step in manifest.onboarding:
            url = reverse(step.url_name)
            steps.append(
                {
                    "key": f"{manifest.slug}.{step.key}",
                    "label": step.label,
                    "url": f"{url}?{step.query}" if step.query else url,
                    "done": bool(import_string(step.done)()),
                }
            )
    done = sum(1 for s in steps if s["done"])
    return {
        "steps": steps,
        "done": done,
        "total": len(steps),
        "complete": done == len(steps),
        "percent": round(100 * done / len(steps)) if steps else 100,
        "dismissed": is_dismissed(),
    }


def is_dismissed() -> bool:
    """Whether the owner hid the list from the dashboard (read before the steps' queries are run)."""
    return core_settings().onboarding_dismissed


def onboarding_set_dismissed(*, actor: Any, dismissed: bool) -> CoreSettings:
    """Hide the checklist from the dashboard (or show it there again); the page keeps it."""
    check_perm(actor, PERM)
    settings = core_settings()
    if settings.onboarding_dismissed != dismissed:
        settings.onboarding_dismissed = dismissed
        settings.save(update_fields=["onboarding_dismissed", "updated_at"])
    return settings


# --- the core's steps (done checks: one exists() each) ----------------------------------------------------


def has_customers() -> bool:
    return Customer.objects.exists()


def has_products() -> bool:
    return Product.objects.exists()


def has_colleague() -> bool:
    return User.objects.filter(is_active=True).count() > 1 or Invitation.objects.exists()


def has_visit() -> bool:
    return Activity.objects.exists()
