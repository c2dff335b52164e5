"""The current tenant, for log lines and Sentry events."""

from __future__ import annotations

import contextvars
import logging

current_tenant: contextvars.ContextVar[str] = contextvars.ContextVar("current_tenant", default="-")


class TenantLogFilter(logging.Filter):
    """Adds `tenant` (schema name of the request or task being served) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "tenant"):
            tenant = current_tenant.get()
            if tenant == "-":
                try:
                    from django.db import connection

                    tenant = getattr(connection, "schema_name", "-") or "-"
                except Exception:  # noqa: BLE001 - logging must never fail
                    tenant = "-"
            record.tenant = tenant
        return True


def sentry_init(dsn: str, environment: str) -> bool:
    """Start Sentry when a DSN is configured; every event is tagged with the tenant."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    def before_send(event: dict, hint: dict) -> dict:  # type: ignore[type-arg]
        event.setdefault("tags", {})["tenant"] = _tenant_now()
        return event

    sentry_sdk.init(dsn=dsn, environment=environment, integrations=[DjangoIntegration(), CeleryIntegration()],
                    before_send=before_send, send_default_pii=False, traces_sample_rate=0.0)
    return True


def _tenant_now() -> str:
    tenant = current_tenant.get()
    if tenant != "-":
        return tenant
    from django.db import connection

    return getattr(connection, "schema_name", "-") or "-"
