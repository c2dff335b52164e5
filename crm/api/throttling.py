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
        allowed = bool(super().allow_request(request, view))
        if self.rate is not None:
            # For the X-RateLimit-* headers (RateLimitHeadersMiddleware): the budget after this request.
            limit, duration = int(getattr(self, "num_requests", 0)), float(getattr(self, "duration", 0))
            remaining = max(limit - len(self.history), 0)
            oldest = self.history[-1] if self.history else self.now
            reset = max(int(duration - (self.now - oldest)), 0)
            django_request = getattr(request, "_request", request)
            django_request.rate_limit = (limit, remaining, reset)
        return allowed

    def get_rate(self) -> str | None:
        # DRF copies the rates onto the class at import; read them per request instead so a settings
        # change (and the tests' override_settings) takes effect without a restart.
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)
        return str(rate) if rate else None

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        # The cache key function adds the schema too; naming it here keeps the key readable in Redis.
        return self.cache_format % {"scope": self.scope, "ident": connection.schema_name}  # type: ignore[attr-defined]


class RateLimitHeadersMiddleware:
    """Adds `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the oldest
    request of the window ages out) to every throttled API answer, 429s included."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        info = getattr(request, "rate_limit", None)
        if info is not None:
            limit, remaining, reset = info
            response["X-RateLimit-Limit"] = str(limit)
            response["X-RateLimit-Remaining"] = str(remaining)
            response["X-RateLimit-Reset"] = str(reset)
        return response
