"""The module-day ledger: pure arithmetic, then the same through the database and the module events."""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm.billing.ledger import (
    billed_days,
    discount_amount,
    ledger_backfill,
    ledger_sync,
    line_amount,
    period_lines,
    period_total,
    prices_seed,
    spans_from_changes,
)
from crm.billing.models import LedgerSpan, Price, TenantDiscount
from tests.billing.conftest import history

SH = ZoneInfo("Asia/Shanghai")
ACTIONS = ["enable", "disable", "comp_on", "comp_off"]
MONTHS = [(2026, 2), (2026, 4), (2026, 7), (2028, 2), (2026, 12)]


def reference_amount(steps, year, month, price, tz, trial_end=None):
    """Independent calculation: walk every local day and ask "was the module billable at any moment of it?"
    (billable = enabled and not comped; moments before the trial end are free)."""
    dim = calendar.monthrange(year, month)[1]
    days = 0
    for d in range(1, dim + 1):
        day_start = datetime(year, month, d, tzinfo=tz)
        day_end = day_start + timedelta(days=1)
        lo = max(day_start, trial_end) if trial_end else day_start
        if lo >= day_end:
            continue
        enabled = comp = False

        def apply(action):
            nonlocal enabled, comp
            enabled = {"enable": True, "disable": False}.get(action, enabled)
            comp = {"comp_on": True, "comp_off": False}.get(action, comp)

        for at, action in steps:
            if at <= lo:
                apply(action)
        hit = enabled and not comp
        for at, action in steps:
            if lo < at < day_end:
                apply(action)
                hit = hit or (enabled and not comp)
        days += hit
    return (price * days / dim).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@st.composite
def month_history(draw):
    year, month = draw(st.sampled_from(MONTHS))
    start = datetime(year, month, 1, tzinfo=SH) - timedelta(days=3)
    span_minutes = (calendar.monthrange(year, month)[1] + 6) * 24 * 60
    # Half the instants fall exactly on a local midnight: the boundary cases are where day counting breaks.
    instant = st.one_of(
        st.integers(0, span_minutes), st.integers(0, span_minutes // 1440).map(lambda d: d * 1440)
    )
    offsets = draw(st.lists(instant, min_size=0, max_size=14, unique=True))
    actions = draw(st.lists(st.sampled_from(ACTIONS), min_size=len(offsets), max_size=len(offsets)))
    steps = [(start + timedelta(minutes=m), a) for m, a in zip(sorted(offsets), actions, strict=True)]
    price = draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("9999.99"), places=2))
    trial = draw(st.one_of(st.none(), instant))
    trial_end = None if trial is None else start + timedelta(minutes=trial)
    return year, month, steps, price, trial_end


@settings(max_examples=300, deadline=None)
@given(month_history())
def test_ledger_equals_independent_day_walk_to_the_cent(case):
    year, month, steps, price, trial_end = case
    first = date(year, month, 1)
    last = date(year, month, calendar.monthrange(year, month)[1])
    days = billed_days(spans_from_changes(steps), first=first, last=last, tz=SH, not_before=trial_end)
    dim = calendar.monthrange(year, month)[1]
    assert line_amount(monthly_amount=price, days=days, days_in_month=dim) == reference_amount(
        steps, year, month, price, SH, trial_end
    )


def reference_discounted(amount, percent, ends_on, first):
    """Independent discount: whole cents and integer arithmetic, half up; none once the discount ended
    before the month."""
    if percent == 0 or (ends_on is not None and ends_on < first):
        return amount
    cents = int(amount * 100)
    hundredths = int(percent * 100)  # percent in 1/100 %
    off = (cents * hundredths * 2 + 10000) // 20000  # round(cents * percent / 100), halves up
    return Decimal(cents - off) / 100


# A discount: none, a random percent (0..100, two decimals), with an end date before, in or after the month.
discounts = st.tuples(
    st.one_of(st.just(Decimal("0")), st.decimals(min_value=0, max_value=100, places=2)),
    st.one_of(st.none(), st.integers(-40, 40)),
)


@settings(max_examples=500, deadline=None)
@given(
    amount=st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2),
    percent=st.decimals(min_value=0, max_value=100, places=2),
)
def test_discount_arithmetic_equals_integer_cents(amount, percent):
    """The discount rounds once, half up, to the cent (many examples: halves are where rounding breaks)."""
    got = amount - discount_amount(subtotal=amount, percent=percent)
    assert got == reference_discounted(amount, percent, None, date(2026, 1, 1))


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=month_history(), discount=discounts)
def test_ledger_from_module_history_in_the_database(alpha, case, discount):
    """Given a random ModuleChange history and discount, when the ledger syncs, the period line equals the
    day walk and the period total equals it less the discount."""
    year, month, steps, price, trial_end = case
    percent, end_offset = discount
    first = date(year, month, 1)
    ends_on = None if end_offset is None else first + timedelta(days=end_offset)
    with transaction.atomic():
        Price.objects.create(
            module="trade", monthly_amount=price, currency="CNY", valid_from=date(1999, 1, 1)
        )
        # Only trade is billed here (the modules alpha got at signup are not part of the case).
        LedgerSpan.objects.filter(tenant=alpha.tenant).exclude(module="trade").delete()
        TenantDiscount.objects.filter(tenant=alpha.tenant).delete()
        if percent:
            TenantDiscount.objects.create(
                tenant=alpha.tenant,
                percent=percent,
                reason="property test",
                valid_from=date(1999, 1, 1),
                ends_on=ends_on,
            )
        history(alpha.tenant, "trade", steps)
        ledger_sync(tenant=alpha.tenant, module="trade")
        owed = period_total(alpha.tenant, first, billable_from=trial_end)
        lines = [ln for ln in owed.lines if ln.module == "trade"]
        got = lines[0].amount if lines else Decimal("0.00")
        expected = reference_amount(steps, year, month, price, SH, trial_end)
        assert got == expected
        assert owed.total == reference_discounted(expected, percent, ends_on, first)
        assert owed.subtotal - owed.discount == owed.total
        transaction.set_rollback(True)


def test_examples_by_hand():
    # 199/month in a 30-day month, on from the 10th 15:00 to the 20th 09:00 local: days 10..20 = 11 days.
    steps = [
        (datetime(2026, 4, 10, 15, tzinfo=SH), "enable"),
        (datetime(2026, 4, 20, 9, tzinfo=SH), "disable"),
    ]
    days = billed_days(spans_from_changes(steps), first=date(2026, 4, 1), last=date(2026, 4, 30), tz=SH)
    assert days == 11
    assert line_amount(monthly_amount=Decimal("199"), days=11, days_in_month=30) == Decimal("72.97")
    # switched off exactly at midnight: the new day is not billed
    steps = [(datetime(2026, 4, 1, tzinfo=SH), "enable"), (datetime(2026, 4, 3, tzinfo=SH), "disable")]
    assert billed_days(spans_from_changes(steps), first=date(2026, 4, 1), last=date(2026, 4, 30), tz=SH) == 2
    # comped for the whole month: free
    steps = [(datetime(2026, 3, 1, tzinfo=SH), "enable"), (datetime(2026, 3, 31, tzinfo=SH), "comp_on")]
    assert billed_days(spans_from_changes(steps), first=date(2026, 4, 1), last=date(2026, 4, 30), tz=SH) == 0


def test_price_change_affects_new_periods_only(alpha):
    """Given a price rise from May, April keeps the old price and May uses the new one."""
    prices_seed()
    Price.objects.create(module="project", monthly_amount=Decimal("500.00"), valid_from=date(2026, 5, 1))
    history(alpha.tenant, "project", [(datetime(2026, 3, 1, tzinfo=SH), "enable")])
    ledger_sync(tenant=alpha.tenant, module="project")
    april = {ln.module: ln for ln in period_lines(alpha.tenant, date(2026, 4, 1))}
    may = {ln.module: ln for ln in period_lines(alpha.tenant, date(2026, 5, 1))}
    assert april["project"].monthly_amount != Decimal("500.00")
    assert april["project"].amount == april["project"].monthly_amount  # whole month
    assert may["project"].amount == Decimal("500.00")


def test_backfill_rebuilds_spans_from_history(alpha):
    history(alpha.tenant, "volume", [(datetime(2026, 3, 1, tzinfo=SH), "enable")])
    LedgerSpan.objects.filter(tenant=alpha.tenant).delete()
    assert ledger_backfill() >= 2
    assert ledger_backfill() >= 2  # twice: same spans
    assert LedgerSpan.objects.filter(tenant=alpha.tenant, module="volume", ended_at__isnull=True).count() == 1
    assert LedgerSpan.objects.filter(tenant=alpha.tenant, module="retail").exists()  # from signup


def test_prices_seed_is_idempotent(db):
    first = prices_seed()
    assert prices_seed() == 0
    assert Price.objects.count() >= first > 0


def test_module_events_feed_the_ledger(alpha, django_capture_on_commit_callbacks):
    """When the owner turns a module on and off through the tenants service, the ledger follows."""
    from crm.tenants.services import module_set_enabled

    with django_capture_on_commit_callbacks(execute=True):
        module_set_enabled(tenant=alpha.tenant, module="trade", enabled=True, actor_email="o@x.cn")
    span = LedgerSpan.objects.get(tenant=alpha.tenant, module="trade")
    assert span.ended_at is None
    with django_capture_on_commit_callbacks(execute=True):
        module_set_enabled(tenant=alpha.tenant, module="trade", enabled=False, actor_email="o@x.cn")
    span = LedgerSpan.objects.get(tenant=alpha.tenant, module="trade")
    assert span.ended_at is not None
    # a replay of the sync changes nothing
    ledger_sync(tenant=alpha.tenant, module="trade")
    assert LedgerSpan.objects.filter(tenant=alpha.tenant, module="trade").count() == 1
