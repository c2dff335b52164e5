"""The trial / past-due / read-only banner. Uses only request.tenant (already loaded): no query per page."""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
    if tenant.status == "trial" and tenant.trial_ends_at and getattr(user, "role", None) in ADMINS:
        # Whole days left, rounded up: the last day of the trial still shows "1 day left".
        days = max(0, math.ceil((tenant.trial_ends_at - timezone.now()).total_seconds() / 86400))
        text = ngettext(
            "Your trial ends in %(days)d day. Choose how to pay to keep the workspace.",
            "Your trial ends in %(days)d days. Choose how to pay to keep the workspace.",
            days,
        ) % {"days": days}
        return {"billing_banner": text, "billing_banner_trial": True}
    return {}
