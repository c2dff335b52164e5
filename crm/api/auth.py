"""API authentication: `Authorization: Api-Key <key>` (per-tenant keys; hash lookup in this schema).

A key acts as its user (role and data scope included). A read-only key answers 403 to anything but GET,
HEAD and OPTIONS; a key limited to modules reaches only `/api/v1/<slug>/` of those modules (plus `me/`
and the schema). Failed key checks are limited per client address and per workspace: past the limit the
key is not even looked up and the answer is 429 until the window passes, so keys cannot be guessed.
While the cache is away the limit is off (fails open, like the API throttle; crm/platform/cache.py).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from crm.tenants.accounts.models import ApiKey, hash_token

log = logging.getLogger(__name__)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
# Routes every key may reach whatever its module list: who am I, and what the API looks like.
ALWAYS_ALLOWED = {"api-me", "api-schema", "api-docs"}


def _limits() -> tuple[int, int, int]:
    """(failures per address, failures per workspace, window in seconds)."""
    return (
        int(getattr(settings, "API_AUTH_FAILURES_PER_IP", 20)),
        int(getattr(settings, "API_AUTH_FAILURES_PER_TENANT", 200)),
        int(getattr(settings, "API_AUTH_FAILURE_WINDOW", 600)),
    )


def _client_ip(request: Request) -> str:
    return str(request.META.get("REMOTE_ADDR", "") or "-")


def _failure_keys(request: Request) -> tuple[str, str]:
    schema = getattr(connection, "schema_name", "public")
    return f"apikey-fail:{schema}:ip:{_client_ip(request)}", f"apikey-fail:{schema}:all"


def _counts(keys: tuple[str, ...]) -> list[int]:
    """The failure counters, in one cache round trip (every API-key request reads them). The project's
    cache answers a miss while Redis is away, so the limit then fails open like the API throttle: keys are
    still checked one by one against their hashes, only the guessing limit is off until Redis is back."""
    found = cache.get_many(list(keys))
    return [int(found.get(key) or 0) for key in keys]


def _record_failure(request: Request) -> None:
    _per_ip, _per_tenant, window = _limits()
    for key in _failure_keys(request):
        try:
            if not cache.add(key, 1, window):
                cache.incr(key)
        except Exception:  # a counter that cannot be written is a miss next time (see _counts)
            log.warning("API key failure counter unavailable")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{self.keyword} "):
            return None
        per_ip, per_tenant, window = _limits()
        ip_failures, tenant_failures = _counts(_failure_keys(request))
        if ip_failures >= per_ip or tenant_failures >= per_tenant:
            raise exceptions.Throttled(
                wait=window, detail=_("Too many failed API key attempts; try again later.")
            )
        raw = header[len(self.keyword) + 1 :].strip()
        key = (
            ApiKey.objects.select_related("user")
            .filter(key_hash=hash_token(raw), revoked_at__isnull=True)
            .first()
            if raw and "\x00" not in raw
            else None
        )
        if key is None or not key.user.is_active:
            _record_failure(request)
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        self._check_scope(request, key)
        now = timezone.now()
        if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        return key.user, key

    @staticmethod
    def _check_scope(request: Request, key: ApiKey) -> None:
        if key.read_only and request.method not in SAFE_METHODS:
            raise exceptions.PermissionDenied(_("This API key is read-only."))
        if not key.modules:
            return
        match = getattr(request._request, "resolver_match", None)
        namespace = (match.namespace or "").split(":")[0] if match else ""
        name = match.url_name if match else ""
        allowed = {f"api-{slug}" for slug in key.modules}
        if namespace not in allowed and name not in ALWAYS_ALLOWED:
            raise exceptions.PermissionDenied(
                _("This API key is limited to: %(modules)s.") % {"modules": ", ".join(key.modules)}
            )

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Describes the API-key header in the OpenAPI schema (drf-spectacular finds it by subclassing)."""

    target_class = "crm.api.auth.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "`Api-Key <key>`: a key the workspace owner created under /api/v1/api-keys/. It acts as its "
                "user; it may be read-only or limited to some modules. Repeated failures answer 429."
            ),
        }
