"""Tenant time: the workspace's zone in requests and tasks; report days, weeks and months are the tenant's."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from celery import shared_task
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.kernel import tenant_time
from crm.kernel.tenant_time import (
    TenantTimeZoneMiddleware,
    day_bounds,
    month_bounds,
    tenant_now,
    tenant_today,
    week_bounds,
)
from crm.modules.core.models import Task
from crm.modules.retail import selectors, services
from crm.modules.retail.models import Sale
from crm.modules.retail.tests.factories import make_shop
from crm.platform import tasks as platform_tasks
from crm.tenants.models import Tenant

SEEN: list[tuple[str, str, date]] = []


@shared_task(name="crm.kernel.tests.test_tenant_time.record_zone")
def record_zone() -> None:
    from django.db import connection

    SEEN.append((connection.schema_name, timezone.get_current_timezone_name(), tenant_today()))  # type: ignore[attr-defined]


def set_zone(tenant: Any, name: str) -> None:
    Tenant.objects.filter(pk=tenant.pk).update(time_zone=name)
    tenant.refresh_from_db()


@pytest.mark.parametrize(
    ("zone", "server"),
    [("Asia/Shanghai", "Pacific/Auckland"), ("America/New_York", "Asia/Shanghai"), ("UTC", "Asia/Shanghai")],
)
def test_sale_at_2330_local_lands_on_the_local_day(alpha: Any, zone: str, server: str, settings: Any) -> None:
    # Given a server zone east of the tenant's, where 23:30 local is already the next day
    settings.TIME_ZONE = server
    set_zone(alpha.tenant, zone)
    with schema_context(alpha.schema):
        shop = make_shop(alpha.users)
        day = tenant_today() - timedelta(days=1)
        sale = services.sale_record(
            actor=alpha.users["manager"], member=shop.member, store=shop.store, amount="88"
        ).sale
        # When the sale happened at 23:30 local time yesterday
        at = datetime.combine(day, time(23, 30), tzinfo=ZoneInfo(zone))
        Sale.objects.filter(pk=sale.pk).update(created_at=at)
        result = selectors.results(actor=alpha.users["manager"], days=30)
    # Then it is yesterday's sale in the results, by the tenant's calendar
    assert [(row["day"], row["total"]) for row in result["by_day"]] == [(day, 88)]
    assert at.astimezone(ZoneInfo(server)).date() == day + timedelta(days=1)  # grouping by server would fail


def test_bounds_are_aware_in_the_tenant_zone(alpha: Any) -> None:
    set_zone(alpha.tenant, "America/New_York")
    ny = ZoneInfo("America/New_York")
    with schema_context(alpha.schema):
        assert tenant_now().tzinfo == ny
        start, end = day_bounds(date(2026, 3, 8))  # the DST switch: a 23-hour day
        assert (start, end) == (datetime(2026, 3, 8, tzinfo=ny), datetime(2026, 3, 9, tzinfo=ny))
        utc = ZoneInfo("UTC")
        assert end.astimezone(utc) - start.astimezone(utc) == timedelta(hours=23)
        assert week_bounds(date(2026, 12, 3)) == (
            datetime(2026, 11, 30, tzinfo=ny),
            datetime(2026, 12, 7, tzinfo=ny),
        )
        assert month_bounds(date(2026, 12, 31)) == (
            datetime(2026, 12, 1, tzinfo=ny),
            datetime(2027, 1, 1, tzinfo=ny),
        )
        assert month_bounds(date(2026, 2, 10))[1] == datetime(2026, 3, 1, tzinfo=ny)
        assert tenant_today() == timezone.localtime(timezone.now(), ny).date()
    with schema_context("public"):
        assert tenant_now().tzinfo == ZoneInfo("Asia/Shanghai")  # the site's zone outside workspaces


def test_middleware_activates_the_workspace_zone(alpha: Any) -> None:
    set_zone(alpha.tenant, "America/New_York")
    seen: list[str] = []

    def view(request: Any) -> HttpResponse:
        seen.append(timezone.get_current_timezone_name())
        return HttpResponse()

    request = RequestFactory().get("/")
    request.tenant = alpha.tenant  # type: ignore[attr-defined]
    TenantTimeZoneMiddleware(view)(request)
    assert seen == ["America/New_York"]
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"  # deactivated afterwards


def test_api_answers_in_the_workspace_zone(alpha: Any) -> None:
    """End to end through the middleware stack: the API renders datetimes in the tenant's zone."""
    set_zone(alpha.tenant, "America/New_York")
    with schema_context(alpha.schema):
        Task.objects.create(
            title="回访",
            due_at=datetime(2026, 7, 1, 12, 0, tzinfo=ZoneInfo("UTC")),
            owner=alpha.users["sales"],
        )
    body = alpha.client("sales").get("/api/v1/core/tasks/").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert [row["due_at"] for row in rows] == ["2026-07-01T08:00:00-04:00"]


def test_tasks_through_the_fanout_see_their_tenant_zone(alpha: Any, beta: Any) -> None:
    set_zone(alpha.tenant, "America/New_York")
    set_zone(beta.tenant, "Asia/Shanghai")
    SEEN.clear()
    platform_tasks.module_fanout.delay("core", "crm.kernel.tests.test_tenant_time.record_zone")
    zones = {schema: name for schema, name, _today in SEEN}
    assert zones[alpha.schema] == "America/New_York"
    assert zones[beta.schema] == "Asia/Shanghai"
    today = {schema: d for schema, _name, d in SEEN}
    assert today[alpha.schema] == timezone.localtime(timezone.now(), ZoneInfo("America/New_York")).date()
    # The zone does not leak out of the task.
    assert timezone.get_current_timezone_name() == "Asia/Shanghai"


def test_unknown_zone_falls_back_to_the_site_zone(alpha: Any) -> None:
    set_zone(alpha.tenant, "Mars/Olympus")
    assert tenant_time.zone_of(alpha.tenant) == ZoneInfo("Asia/Shanghai")
