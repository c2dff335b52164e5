"""Throttling per tenant: all users and keys of one workspace share one budget."""

from __future__ import annotations

from typing import Any

from django.db import connection
from rest_framework.throttling import SimpleRateThrottle


class TenantRateThrottle(SimpleRateThrottle):
    scope = "tenant"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": connection.schema_name}
