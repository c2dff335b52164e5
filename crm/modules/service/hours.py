"""Business-hours arithmetic for SLA clocks: the clock runs on working days (not holidays) between the day's
start and end, in the workspace's zone. Pure functions over a `Calendar`; `calendar()` reads the tenant's."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

MAX_DAYS = 3660  # a calendar with no working day at all would loop for ever


@dataclass(frozen=True)
class Calendar:
    zone: ZoneInfo
    workdays: frozenset[int] = frozenset({1, 2, 3, 4, 5})  # ISO weekdays
    day_start: time = time(9, 0)
    day_end: time = time(18, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        return day.isoweekday() in self.workdays and day not in self.holidays


def _at(day: date, t: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, t, tzinfo=zone)


def add_business_hours(start: datetime, hours: Decimal | int | float, cal: Calendar) -> datetime:
    """The moment `hours` business hours after `start` (an aware datetime); the answer is in the calendar's
    zone. Friday 17:00 + 4 h with a 09:00-18:00 day is Monday 12:00."""
    remaining = timedelta(hours=float(hours))
    local = start.astimezone(cal.zone)
    day, now = local.date(), local.timetz().replace(tzinfo=None)
    if remaining <= timedelta(0) or cal.day_end <= cal.day_start:
        return local
    for _i in range(MAX_DAYS):
        if cal.is_working_day(day) and now < cal.day_end:
            begin = max(now, cal.day_start)
            available = _at(day, cal.day_end, cal.zone) - _at(day, begin, cal.zone)
            if remaining <= available:
                return _at(day, begin, cal.zone) + remaining
            remaining -= available
        day, now = day + timedelta(days=1), time.min
    raise ValueError("the calendar has no working hours")


def business_hours_between(start: datetime, end: datetime, cal: Calendar) -> Decimal:
    """Business hours from `start` to `end` (0 when end is before start), to the minute."""
    if end <= start or cal.day_end <= cal.day_start:
        return Decimal("0")
    a, b = start.astimezone(cal.zone), end.astimezone(cal.zone)
    total = timedelta(0)
    day = a.date()
    while day <= b.date():
        if cal.is_working_day(day):
            lo = max(_at(day, cal.day_start, cal.zone), a)
            hi = min(_at(day, cal.day_end, cal.zone), b)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return (Decimal(int(total.total_seconds()) // 60) / Decimal(60)).quantize(Decimal("0.01"))
