"""`unread_notices` for the page header: counted only when a template reads it."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from crm.kernel.notices import notice_unread_count


def notices(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    tenant = getattr(request, "tenant", None)
    if user is None or not user.is_authenticated or getattr(tenant, "schema_name", "public") == "public":
        return {}
    return {"unread_notices": SimpleLazyObject(lambda: notice_unread_count(user))}
