"""The past-due / read-only banner. Uses only request.tenant (already loaded): no query per page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _

from crm.platform.permissions import ADMINS


def billing_banner(request: HttpRequest) -> dict[str, Any]:
    tenant = getattr(request, "tenant", None)
    user = getattr(request, "user", None)
    if tenant is None or user is None or not user.is_authenticated:
        return {}
    if tenant.status == "past_due" and getattr(user, "role", None) in ADMINS:
        return {"billing_banner": _("A payment is overdue. Please pay to keep full use of the workspace.")}
    if tenant.status == "suspended" and tenant.suspended_by_billing:
        return {"billing_banner": _("This workspace is read-only until the overdue invoice is paid.")}
    return {}
