"""SLA business-hours arithmetic: working days, day bounds, holidays, the tenant's zone."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django_tenants.utils import schema_context

from crm.modules.service import selectors, services
from crm.modules.service.hours import Calendar, add_business_hours, business_hours_between
from crm.tenants.models import Tenant

from .factories import SHANGHAI, at, make_order, to_public

CAL = Calendar(zone=SHANGHAI)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(2026, 12, 4, 17), 4, at(2026, 12, 7, 12)),  # Friday 17:00 + 4 h = Monday 12:00
        (at(2026, 12, 1, 10), 2, at(2026, 12, 1, 12)),  # inside one day
        (at(2026, 12, 1, 7, 30), 1, at(2026, 12, 1, 10)),  # before opening: the clock starts at 09:00
        (at(2026, 12, 1, 20), 1, at(2026, 12, 2, 10)),  # after closing: next morning
        (at(2026, 12, 5, 11), 9, at(2026, 12, 7, 18)),  # Saturday: a full Monday
        (at(2026, 12, 1, 9), 18, at(2026, 12, 2, 18)),  # exactly two days
        (at(2026, 12, 1, 17, 30), Decimal("0.5"), at(2026, 12, 1, 18)),  # ends at closing, not next morning
    ],
)
def test_add_business_hours(start, hours, expected):
    assert add_business_hours(start, hours, CAL) == expected


def test_holidays_are_skipped():
    cal = Calendar(zone=SHANGHAI, holidays=frozenset({date(2026, 12, 7)}))
    # Friday 17:00 + 4 h with Monday a holiday: Tuesday 12:00.
    assert add_business_hours(at(2026, 12, 4, 17), 4, cal) == at(2026, 12, 8, 12)


def test_custom_days_and_hours():
    cal = Calendar(zone=SHANGHAI, workdays=frozenset({1, 2, 3, 4, 5, 6}), day_start=time(8), day_end=time(12))
    # Friday 11:00 + 3 h: 1 h Friday, 2 h Saturday morning.
    assert add_business_hours(at(2026, 12, 4, 11), 3, cal) == at(2026, 12, 5, 10)


def test_zone_of_the_calendar_decides():
    """09:00-18:00 in New York is 22:00-07:00 in Shanghai: the same instant counts differently."""
    ny = ZoneInfo("America/New_York")
    start = datetime(2026, 12, 1, 12, 0, tzinfo=ZoneInfo("UTC"))  # 07:00 in New York, 20:00 in Shanghai
    assert add_business_hours(start, 1, Calendar(zone=ny)) == datetime(2026, 12, 1, 10, 0, tzinfo=ny)
    assert add_business_hours(start, 1, CAL) == at(2026, 12, 2, 10)


def test_hours_between():
    assert business_hours_between(at(2026, 12, 4, 17), at(2026, 12, 7, 12), CAL) == Decimal("4.00")
    assert business_hours_between(at(2026, 12, 7, 12), at(2026, 12, 4, 17), CAL) == Decimal("0")


def test_no_working_day_at_all_is_an_error():
    with pytest.raises(ValueError):
        add_business_hours(at(2026, 12, 1, 9), 1, Calendar(zone=SHANGHAI, workdays=frozenset()))


def test_order_due_times_use_the_tenants_settings_and_zone(alpha, desk):
    with schema_context(alpha.schema):
        services.settings_update(
            actor=alpha.users["owner"],
            workdays="12345",
            day_start=time(9),
            day_end=time(18),
            holidays="2026-12-07",
        )
        zone = selectors.calendar().zone
        assert str(zone) == "Asia/Shanghai"
        order = make_order(desk, alpha.users, priority="urgent", opened_at=at(2026, 12, 4, 17))
        # Default plan: urgent = 1 h response, 4 h resolution; Monday 7 December is a holiday.
        assert order.response_due == at(2026, 12, 4, 18).astimezone(zone)
        assert order.resolution_due == at(2026, 12, 8, 12).astimezone(zone)
    to_public()


def test_due_times_follow_the_tenant_zone(alpha, desk):
    Tenant.objects.filter(pk=alpha.tenant.pk).update(time_zone="Europe/Berlin")
    berlin = ZoneInfo("Europe/Berlin")
    with schema_context(alpha.schema):
        # Friday 17:00 in Berlin + 4 business hours (normal response 8 h: Monday 16:00 Berlin).
        order = make_order(
            desk, alpha.users, priority="normal", opened_at=datetime(2026, 12, 4, 17, tzinfo=berlin)
        )
        assert order.response_due == datetime(2026, 12, 7, 16, tzinfo=berlin)
    to_public()


def test_settings_refuse_bad_input(alpha, desk):
    from crm.platform.errors import ServiceError

    with schema_context(alpha.schema):
        with pytest.raises(ServiceError) as exc:
            services.settings_update(
                actor=alpha.users["owner"],
                workdays="19",
                day_start=time(18),
                day_end=time(9),
                holidays="tomorrow",
            )
        assert {"workdays", "day_end", "holidays"} <= set(exc.value.fields)
        with pytest.raises(ServiceError):
            services.settings_update(
                actor=alpha.users["manager"],
                workdays="12345",
                day_start=time(9),
                day_end=time(18),
                holidays="",
            )
    to_public()
