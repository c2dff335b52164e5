"""Template context for every page: workspace, menu of enabled modules, impersonation banner."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from crm.platform.middleware import is_public
from crm.platform.permissions import has_perm
from crm.platform.registry import registry


def workspace(request: HttpRequest) -> dict[str, Any]:
    if is_public(request):
        return {"is_public_site": True}
    from crm.tenants.selectors import enabled_modules

    tenant = request.tenant  # type: ignore[attr-defined]
    user = getattr(request, "user", None)
    menu = []
    if user is not None and user.is_authenticated:
        enabled = enabled_modules(tenant)
        for manifest in registry.all():
            if manifest.slug not in enabled:
                continue
            for entry in manifest.menu:
                if entry.permission and not has_perm(user, entry.permission):  # type: ignore[arg-type]
                    continue
                try:
                    url = reverse(entry.url_name)
                except NoReverseMatch:
                    continue
                menu.append(
                    {
                        "label": entry.label,
                        "url": url,
                        "module": manifest.slug,
                        "active": False,
                    }
                )
        # One entry is current: the longest menu URL the path starts with (/retail/ vs /retail/members/).
        path = request.path
        matches = [item for item in menu if str(item["url"]) != "/" and path.startswith(str(item["url"]))]
        if matches:
            max(matches, key=lambda item: len(str(item["url"])))["active"] = True
    return {
        "is_public_site": False,
        "workspace": tenant,
        "menu": menu,
        "impersonation": request.session.get("impersonation") if hasattr(request, "session") else None,
    }
