"""Tenant time (capabilities.md section 2): the workspace's time zone is the active Django time zone in
every request (TenantTimeZoneMiddleware, right after tenant resolution) and in every Celery task that
runs in a tenant schema (task_prerun/task_postrun, connected once in KernelConfig.ready). So
`timezone.localdate()`, `localtime()`, template dates and database truncations (TruncDate & co. use the
active zone) are the tenant's. The helpers below do not depend on activation: they read the zone of the
schema in use.

    tenant_now(), tenant_today()                   aware now / today in the tenant's zone
    day_bounds(d), week_bounds(d), month_bounds(d)  [start, end) as aware datetimes in the tenant's zone
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

log = logging.getLogger(__name__)

PUBLIC_SCHEMA = "public"


def zone_of(tenant: Any) -> ZoneInfo:
    """A tenant's zone; an empty or unknown name falls back to the site's zone (settings.TIME_ZONE)."""
    name = getattr(tenant, "time_zone", "") or settings.TIME_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("tenant %s has an unknown time zone %r", getattr(tenant, "schema_name", "?"), name)
        return ZoneInfo(settings.TIME_ZONE)


def _tenant_for_schema(schema: str) -> Any:
    from crm.tenants.models import Tenant

    return Tenant.objects.filter(schema_name=schema).only("schema_name", "time_zone").first()


def tenant_zone() -> ZoneInfo:
    """The zone of the tenant whose schema the connection is in (the site's zone in the public schema)."""
    tenant = getattr(connection, "tenant", None)
    if tenant is not None and hasattr(tenant, "time_zone"):  # a request's real Tenant: no query
        return zone_of(tenant)
    schema = getattr(connection, "schema_name", PUBLIC_SCHEMA)
    if schema == PUBLIC_SCHEMA:
        return ZoneInfo(settings.TIME_ZONE)
    return zone_of(_tenant_for_schema(schema))


def tenant_now() -> datetime:
    return timezone.localtime(timezone.now(), tenant_zone())


def tenant_today() -> date:
    return tenant_now().date()


def _start(day: date, zone: ZoneInfo) -> datetime:
    # Midnight of that calendar day (from the date, not by adding hours: a DST day has 23 or 25).
    return datetime.combine(day, time.min, tzinfo=zone)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of the tenant's calendar day `day`."""
    zone = tenant_zone()
    return _start(day, zone), _start(day + timedelta(days=1), zone)


def week_bounds(day: date) -> tuple[datetime, datetime]:
    """[Monday 00:00, next Monday 00:00) of the tenant's week holding `day` (Chinese weeks start Monday)."""
    zone = tenant_zone()
    monday = day - timedelta(days=day.weekday())
    return _start(monday, zone), _start(monday + timedelta(days=7), zone)


def month_bounds(day: date) -> tuple[datetime, datetime]:
    """[1st 00:00, next month's 1st 00:00) of the tenant's month holding `day`."""
    zone = tenant_zone()
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return _start(first, zone), _start(following, zone)


class TenantTimeZoneMiddleware:
    """Activate the workspace's time zone for the request (after TenantMainMiddleware has resolved it);
    the public site keeps the site's zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        tenant = getattr(request, "tenant", None)
        if tenant is None or tenant.schema_name == PUBLIC_SCHEMA:
            return self.get_response(request)
        timezone.activate(zone_of(tenant))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


# --- Celery: every task that runs in a tenant schema ----------------------------------------------------

_SAVED = "_crm_saved_zones"


def task_zone_activate(task: Any = None, **kwargs: Any) -> None:
    """task_prerun: activate the zone of the schema the task runs in (tenant-schemas-celery carries it in
    the task's headers; read from there so the order of prerun handlers does not matter)."""
    from tenant_schemas_celery.app import get_schema_name_from_task

    if task is None:
        return
    stack = task.__dict__.setdefault(_SAVED, [])
    stack.append(timezone.get_current_timezone())
    schema = get_schema_name_from_task(task, kwargs.get("kwargs") or {})
    if schema and schema != PUBLIC_SCHEMA:
        timezone.activate(zone_of(_tenant_for_schema(schema)))
    else:
        timezone.deactivate()


def task_zone_restore(task: Any = None, **kwargs: Any) -> None:
    """task_postrun: back to the zone active before the task (a task applied inside another keeps the
    outer task's zone)."""
    stack = getattr(task, _SAVED, None) if task is not None else None
    if stack:
        timezone.activate(stack.pop())
    else:
        timezone.deactivate()


def connect_task_signals() -> None:
    from celery.signals import task_postrun, task_prerun

    task_prerun.connect(task_zone_activate, dispatch_uid="crm_kernel_tenant_zone_activate", weak=False)
    task_postrun.connect(task_zone_restore, dispatch_uid="crm_kernel_tenant_zone_restore", weak=False)
