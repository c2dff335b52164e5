"""Throttling per tenant: all users and keys of one workspace share one budget."""

from __future__ import annotations

from typing import Any

from django.db import connection
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class TenantRateThrottle(SimpleRateThrottle):
    scope = "tenant"

    def get_rate(self) -> str | None:
        # DRF copies the rates onto the class at import; read them per request instead so a settings
        # change (and the tests' override_settings) takes effect without a restart.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return str(rate) if rate else None

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        # The cache key function adds the schema too; naming it here keeps the key readable in Redis.
        return self.cache_format % {"scope": self.scope, "ident": connection.schema_name}  # type: ignore[attr-defined]
