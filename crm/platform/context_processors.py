"""Template context for every page: workspace, the menu of enabled modules grouped by module, the phone tab
bar, the impersonation banner.

The menu costs no query per module: enabled modules are one cached lookup and permissions are role checks.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from crm.platform.middleware import is_public
from crm.platform.permissions import has_perm
from crm.platform.registry import registry


def _url(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def menu_groups(tenant: Any, user: Any) -> list[dict[str, Any]]:
    """The menu entries the user may open, grouped by the enabled module that declared them (registry
    order), each group titled with the module's name."""
    from crm.tenants.selectors import enabled_modules

    enabled = enabled_modules(tenant)
    groups = []
    for manifest in registry.all():
        if manifest.slug not in enabled:
            continue
        entries = []
        for entry in manifest.menu:
            if entry.permission and not has_perm(user, entry.permission):
                continue
            url = _url(entry.url_name)
            if url is None:
                continue
            entries.append({"label": entry.label, "url": url, "module": manifest.slug, "active": False})
        if entries:
            groups.append({"slug": manifest.slug, "title": manifest.name, "entries": entries})
    return groups


def landing_url(tenant: Any, user: Any) -> str | None:
    """Where a user who cannot use the CRM dashboard works instead: the first page their menu offers
    (a store clerk: the retail member lookup). None: the dashboard is the landing page."""
    if has_perm(user, "core.view_customers"):
        return None
    groups = menu_groups(tenant, user)
    # A module's own pages first (the clerk's member lookup), core pages (products) after them.
    for group in [g for g in groups if g["slug"] != "core"] + [g for g in groups if g["slug"] == "core"]:
        for item in group["entries"]:
            if item["url"] != "/":
                return str(item["url"])
    return None


def workspace(request: HttpRequest) -> dict[str, Any]:
    if is_public(request):
        return {"is_public_site": True}
    tenant = request.tenant  # type: ignore[attr-defined]
    user = getattr(request, "user", None)
    menu: list[dict[str, Any]] = []
    groups: list[dict[str, Any]] = []
    shell: dict[str, Any] = {}
    if user is not None and user.is_authenticated:
        groups = menu_groups(tenant, user)
        menu = [item for group in groups for item in group["entries"]]
        # One entry is current: the longest menu URL the path starts with (/retail/ vs /retail/members/).
        path = request.path
        matches = [item for item in menu if str(item["url"]) != "/" and path.startswith(str(item["url"]))]
        if matches:
            max(matches, key=lambda item: len(str(item["url"])))["active"] = True
        elif path == "/" and menu and menu[0]["url"] == "/":
            menu[0]["active"] = True
        crm_user = has_perm(user, "core.view_customers")  # type: ignore[arg-type]
        shell = {
            "search": crm_user,
            "quick_add": crm_user,
            "customers": crm_user,
            "tasks": crm_user,
            "settings": has_perm(user, "workspace.manage_settings"),  # type: ignore[arg-type]
            "billing": has_perm(user, "billing.view"),  # type: ignore[arg-type]
        }
    return {
        "is_public_site": False,
        "workspace": tenant,
        "menu": menu,
        "menu_groups": groups,
        "shell": shell,
        "impersonation": request.session.get("impersonation") if hasattr(request, "session") else None,
    }
