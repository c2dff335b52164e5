"""Throttling per tenant: all users and keys of one workspace share one budget."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.db import connection
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

log = logging.getLogger(__name__)
LOG_EVERY_SECONDS = 60.0
_last_logged = 0.0


class TenantRateThrottle(SimpleRateThrottle):
    """Fails open while the cache (Redis) is away: availability over the budget; logged once a minute."""

    scope = "tenant"

    def allow_request(self, request: Any, view: Any) -> bool:
        global _last_logged
        is_down = getattr(self.cache, "is_down", None)
        if is_down is not None and is_down():
            now = time.monotonic()
            if now - _last_logged > LOG_EVERY_SECONDS:
                _last_logged = now
                log.warning("API throttle: cache unavailable, requests are let through unthrottled")
            return True
        return bool(super().allow_request(request, view))

    def get_rate(self) -> str | None:
        # DRF copies the rates onto the class at import; read them per request instead so a settings
        # change (and the tests' override_settings) takes effect without a restart.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return str(rate) if rate else None

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        # The cache key function adds the schema too; naming it here keeps the key readable in Redis.
        return self.cache_format % {"scope": self.scope, "ident": connection.schema_name}  # type: ignore[attr-defined]
