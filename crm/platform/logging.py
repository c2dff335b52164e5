"""The current tenant, for log lines and Sentry events.

Every request (RequestLogContextMiddleware) and every Celery task (tenant-schemas-celery switches the
connection's schema) runs "inside" one tenant. Log lines and Sentry events name that tenant's schema so that
an operator can tell whose request failed without guessing from URLs.
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any

current_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("current_tenant", default="-")


def tenant_now() -> str:
    """Schema name of the request or task being served; "-" outside of any (start-up, shell)."""
    tenant = current_tenant.get()
    if tenant != "-":
        return tenant
    try:
        # Celery tasks and management commands do not pass through the middleware, but django-tenants
        # has switched the connection to the tenant's schema.
        from django.db import connection

        return getattr(connection, "schema_name", "-") or "-"
    except Exception:  # logging and error reporting must never fail themselves
        return "-"


class TenantLogFilter(logging.Filter):
    """Adds `tenant` (schema name of the request or task being served) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "tenant"):
            record.tenant = tenant_now()
        return True


def _before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
    # The middleware also tags the request's scope; this covers tasks, commands and anything that
    # escaped a request scope, and it wins over nothing: an explicit tag already set is kept.
    tags = event.setdefault("tags", {})
    if not tags.get("tenant") or tags.get("tenant") == "-":
        tags["tenant"] = tenant_now()
    return event


def sentry_init(dsn: str, environment: str, release: str | None = None) -> bool:
    """Start Sentry when a DSN is configured (no-op otherwise); every event is tagged with the tenant.

    Called once from PlatformConfig.ready(), so web (gunicorn/runserver), Celery worker and beat and
    management commands all report, whatever the settings module."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        before_send=_before_send,  # type: ignore[arg-type]
        # send_default_pii is left at its default (off): customer data (cookies, user e-mails, request
        # bodies) stays out of the error tracker. Setting it at all is deprecated in recent SDKs.
        traces_sample_rate=0.0,
    )
    return True
