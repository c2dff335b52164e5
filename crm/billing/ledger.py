"""The platform's own ledger: which module was billable when, and what that costs per period.

A module is billable while it is enabled and not comped, and charged only while its manifest says it is
available: a module that is coming soon keeps its spans (the history) but no invoice, Stripe item or
expectation prices them; flipping the flag makes them count again. A day (in the tenant's time zone) is
billed if the module was billable at any moment of it; a line costs days x (monthly price / days in the
month), rounded half-up to the cent once per line. Spans are rebuilt from the ModuleChange history (the
audit rows the tenants app writes), so re-running a sync or receiving events twice or late converges.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.db import transaction

from crm.billing.models import LedgerSpan, Price, TenantDiscount
from crm.platform.registry import registry
from crm.tenants.models import ModuleChange, Tenant

CENT = Decimal("0.01")
SEED_VALID_FROM = date(2000, 1, 1)


@dataclass(frozen=True)
class Span:
    start: datetime
    end: datetime | None  # None: still billable


@dataclass(frozen=True)
class Line:
    module: str
    days: int
    days_in_month: int
    monthly_amount: Decimal
    currency: str
    amount: Decimal


def charged(module: str) -> bool:
    """Whether a module costs money now: a registered sellable module that is available (not coming soon).
    The one test every bill, estimate and Stripe item list applies."""
    if module not in registry:
        return False
    manifest = registry.get(module)
    return manifest.sellable and manifest.available


def month_bounds(day: date) -> tuple[date, date]:
    """First and last day of the month containing `day`."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


def spans_from_changes(changes: Iterable[tuple[datetime, str]]) -> list[Span]:
    """Billable stretches from (time, action) pairs in time order (enable/disable/comp_on/comp_off)."""
    enabled = comp = False
    opened: datetime | None = None
    spans: list[Span] = []
    for at, action in changes:
        if action == "enable":
            enabled = True
        elif action == "disable":
            enabled = False
        elif action == "comp_on":
            comp = True
        elif action == "comp_off":
            comp = False
        billable = enabled and not comp
        if billable and opened is None:
            opened = at
        elif not billable and opened is not None:
            if at > opened:  # an instant of billability bills nothing
                spans.append(Span(opened, at))
            opened = None
    if opened is not None:
        spans.append(Span(opened, None))
    return spans


def billed_days(
    spans: Iterable[Span], *, first: date, last: date, tz: ZoneInfo, not_before: datetime | None = None
) -> int:
    """How many local days in [first, last] the spans touch (half-open spans [start, end))."""
    days: set[date] = set()
    for span in spans:
        start = max(span.start, not_before) if not_before else span.start
        end = span.end
        if end is not None and end <= start:
            continue
        day = max(start.astimezone(tz).date(), first)
        # last day touched: the day holding the last instant before `end`
        stop = last if end is None else min((end - timedelta(microseconds=1)).astimezone(tz).date(), last)
        while day <= stop:
            days.add(day)
            day += timedelta(days=1)
    return len(days)


def line_amount(*, monthly_amount: Decimal, days: int, days_in_month: int) -> Decimal:
    return (monthly_amount * days / days_in_month).quantize(CENT, rounding=ROUND_HALF_UP)


def price_for(module: str, on: date, prices: Iterable[Price] | None = None) -> tuple[Decimal, str]:
    """Monthly price of `module` for the period starting `on`: the latest row valid then, else the
    manifest's price (a module registered after the price list was seeded)."""
    rows = prices if prices is not None else Price.objects.filter(module=module, valid_from__lte=on)
    best: Price | None = None
    for row in rows:
        if (
            row.module == module
            and row.valid_from <= on
            and (best is None or row.valid_from > best.valid_from)
        ):
            best = row
    if best is not None:
        return best.monthly_amount, best.currency
    manifest = registry.get(module)
    return manifest.monthly_price, manifest.currency


def tenant_tz(tenant: Tenant) -> ZoneInfo:
    return ZoneInfo(tenant.time_zone or "Asia/Shanghai")


def period_start_at(tenant: Tenant, first: date) -> datetime:
    return datetime.combine(first, time.min, tzinfo=tenant_tz(tenant))


def period_lines(tenant: Tenant, first: date, *, billable_from: datetime | None = None) -> list[Line]:
    """What the tenant owes for the month starting `first`, one line per module with billed days.

    Open spans count to the month's end, so for the current month this is the estimate if nothing changes.
    Days before `billable_from` (the trial end) are free. Two queries whatever the number of modules.
    """
    first, last = month_bounds(first)
    tz = tenant_tz(tenant)
    start_at = datetime.combine(first, time.min, tzinfo=tz)
    end_at = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)
    by_module: dict[str, list[Span]] = {}
    rows = LedgerSpan.objects.filter(tenant=tenant, started_at__lt=end_at).exclude(ended_at__lte=start_at)
    for row in rows:
        by_module.setdefault(row.module, []).append(Span(row.started_at, row.ended_at))
    prices = list(Price.objects.filter(module__in=list(by_module), valid_from__lte=first))
    dim = calendar.monthrange(first.year, first.month)[1]
    lines = []
    for module in sorted(by_module):
        if not charged(module):
            continue
        days = billed_days(by_module[module], first=first, last=last, tz=tz, not_before=billable_from)
        if not days:
            continue
        monthly, currency = price_for(module, first, prices)
        lines.append(
            Line(
                module,
                days,
                dim,
                monthly,
                currency,
                line_amount(monthly_amount=monthly, days=days, days_in_month=dim),
            )
        )
    return lines


def discount_amount(*, subtotal: Decimal, percent: Decimal) -> Decimal:
    """The discount on an invoice, positive, rounded half-up to the cent once on the invoice subtotal."""
    return (subtotal * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PeriodTotal:
    lines: list[Line]
    subtotal: Decimal
    discount_percent: Decimal  # 0: no discount for this period
    discount: Decimal  # positive amount taken off the subtotal
    total: Decimal
    currency: str


def discount_in_force(tenant: Tenant, first: date) -> TenantDiscount | None:
    """The discount history row in force for the month starting `first`: of the rows covering that month,
    the one that started last (a later change overrides an earlier one from its start on). None when no
    row covers the month. A 0% row (the discount was removed) counts as in force."""
    first, last = month_bounds(first)
    return (
        TenantDiscount.objects.filter(tenant=tenant, valid_from__lte=last)
        .exclude(ends_on__lt=first)
        .order_by("-valid_from", "-id")
        .first()
    )


def discount_upcoming(tenant: Tenant, today: date) -> TenantDiscount | None:
    """The latest discount decision still to run: the history row that started (or starts) last among
    those not over by `today` and not replaced before they began. What a new Stripe subscription gets as
    its coupon (Stripe cannot schedule one)."""
    rows = (
        TenantDiscount.objects.filter(tenant=tenant).exclude(ends_on__lt=today).order_by("-valid_from", "-id")
    )
    return next((row for row in rows if not row.cancelled), None)


def discount_percent_for(tenant: Tenant, first: date) -> Decimal:
    """The tenant's discount percent for the month starting `first` (0 when none applies)."""
    row = discount_in_force(tenant, first)
    return row.percent if row is not None else Decimal("0")


def period_total(tenant: Tenant, first: date, *, billable_from: datetime | None = None) -> PeriodTotal:
    """The month's module lines, their subtotal, the tenant's discount for that month and the total: what
    the invoice for the period should say (ledger invoices are made from it, Stripe's are checked
    against it)."""
    lines = period_lines(tenant, first, billable_from=billable_from)
    subtotal = sum((ln.amount for ln in lines), Decimal("0"))
    percent = discount_percent_for(tenant, first) if lines else Decimal("0")
    discount = discount_amount(subtotal=subtotal, percent=percent)
    currency = lines[0].currency if lines else tenant.currency
    return PeriodTotal(lines, subtotal, percent, discount, subtotal - discount, currency)


def ledger_sync(*, tenant: Tenant, module: str) -> list[LedgerSpan]:
    """Rebuild the tenant's spans for one module from its full ModuleChange history (idempotent)."""
    with transaction.atomic():
        # Lock the tenant row so two concurrent syncs for it do not interleave delete and insert.
        Tenant.objects.select_for_update().filter(pk=tenant.pk).first()
        changes = (
            ModuleChange.objects.filter(tenant=tenant, module=module)
            .order_by("created_at", "id")
            .values_list("created_at", "action")
        )
        spans = spans_from_changes(changes)
        LedgerSpan.objects.filter(tenant=tenant, module=module).delete()
        return LedgerSpan.objects.bulk_create(
            LedgerSpan(tenant=tenant, module=module, started_at=s.start, ended_at=s.end) for s in spans
        )


def ledger_sync_all(*, tenant: Tenant) -> None:
    modules = set(ModuleChange.objects.filter(tenant=tenant).values_list("module", flat=True))
    for module in sorted(modules):
        ledger_sync(tenant=tenant, module=module)


def prices_seed() -> int:
    """Create a price row for every sellable module that has none (idempotent). Returns rows created."""
    created = 0
    for manifest in registry.sellable():
        _row, made = Price.objects.get_or_create(
            module=manifest.slug,
            valid_from=SEED_VALID_FROM,
            defaults={"monthly_amount": manifest.monthly_price, "currency": manifest.currency},
        )
        created += int(made)
    return created


def ledger_backfill() -> int:
    """Rebuild every tenant's spans from its module history (idempotent; for tenants older than billing or
    after a missed event). Returns tenants synced."""
    count = 0
    for tenant in Tenant.objects.exclude(status__in=["template", "pool"]).order_by("id"):
        ledger_sync_all(tenant=tenant)
        count += 1
    return count


# --- the ledger against Stripe's lines ---------------------------------------------------------------------
#
# Stripe bills each subscription period in advance and, when an item is added or removed, prorates by the
# second from the `proration_date` to the period end, as separate lines on the next invoice. We anchor
# every subscription on the 1st of the month at 00:00 in the tenant's time zone and pass day boundaries as
# proration dates, so a Stripe period is exactly a calendar month and each proration line is a whole number
# of our days. The ledger's billable time is then a set of whole local days (`billable_mask`), and what a
# Stripe line should amount to is the price x (billable seconds in the line's period / seconds in the
# month), rounded half-up to the cent once per line, as Stripe rounds a prorated line to the minor unit.
# In a month without a clock change that is exactly days / days in month, the ledger's own fraction.

Mask = list[tuple[datetime, datetime | None]]  # merged half-open intervals; None: open-ended


def local_midnight(at: datetime, tz: ZoneInfo) -> datetime:
    """00:00 (tenant time) of the day holding `at`."""
    return datetime.combine(at.astimezone(tz).date(), time.min, tzinfo=tz)


def next_local_midnight(at: datetime, tz: ZoneInfo) -> datetime:
    """00:00 (tenant time) of the day after the day holding `at`."""
    return datetime.combine(at.astimezone(tz).date() + timedelta(days=1), time.min, tzinfo=tz)


def month_start_at(at: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(at.astimezone(tz).date().replace(day=1), time.min, tzinfo=tz)


def next_month_start_at(at: datetime, tz: ZoneInfo) -> datetime:
    """The 1st of the month after the one holding `at`, 00:00 tenant time: the next billing anchor."""
    return datetime.combine(next_month(at.astimezone(tz).date().replace(day=1)), time.min, tzinfo=tz)


def spans_as_of(spans: Iterable[Span], at: datetime) -> list[Span]:
    """The spans as the ledger knew them at `at`: later starts unknown, later ends still open."""
    return [
        Span(s.start, s.end if s.end is not None and s.end <= at else None) for s in spans if s.start <= at
    ]


def billable_mask(spans: Iterable[Span], tz: ZoneInfo, *, not_before: datetime | None = None) -> Mask:
    """The ledger's billable time: every local day a span touches, whole, merged. Time before
    `not_before` (the trial end) is free, but the day holding it is billed like any touched day."""
    parts: list[tuple[datetime, datetime | None]] = []
    for span in spans:
        start = max(span.start, not_before) if not_before else span.start
        if span.end is not None and span.end <= start:
            continue
        end = None if span.end is None else next_local_midnight(span.end - timedelta(microseconds=1), tz)
        parts.append((local_midnight(start, tz), end))
    parts.sort(key=lambda p: p[0])
    merged: Mask = []
    for lo, hi in parts:
        if merged and (merged[-1][1] is None or lo <= merged[-1][1]):
            top = merged[-1][1]
            merged[-1] = (merged[-1][0], None if top is None or hi is None else max(top, hi))
        else:
            merged.append((lo, hi))
    return merged


def _seconds(lo: datetime, hi: datetime) -> int:
    # Timestamps, not aware-datetime subtraction: the latter ignores a DST change in the same zone.
    return max(0, int(hi.timestamp()) - int(lo.timestamp()))


def mask_seconds(mask: Mask, lo: datetime, hi: datetime) -> int:
    total = 0
    for start, end in mask:
        a, b = max(start, lo), hi if end is None else min(end, hi)
        if a < b:
            total += _seconds(a, b)
    return total


def mask_on(mask: Mask, at: datetime) -> bool:
    return any(start <= at and (end is None or at < end) for start, end in mask)


def prorated(*, monthly_amount: Decimal, seconds: int, month_seconds: int) -> Decimal:
    """A monthly price for part of a month, rounded half-up to the cent once (one Stripe line)."""
    if not month_seconds:
        return Decimal("0.00")
    return (monthly_amount * seconds / month_seconds).quantize(CENT, rounding=ROUND_HALF_UP)


def _tenant_spans(tenant: Tenant, module: str) -> list[Span]:
    return [
        Span(row.started_at, row.ended_at)
        for row in LedgerSpan.objects.filter(tenant=tenant, module=module).order_by("started_at")
    ]


def expected_for(
    tenant: Tenant, module: str, start: datetime, end: datetime, *, as_of: datetime | None = None
) -> Decimal:
    """What the ledger says `module` costs over [start, end) at our price: billable seconds of each
    calendar month in the window x that month's price / the month's seconds, rounded once (one line).
    `as_of`: judge by the module history known then (an advance charge is right for what was on when it
    was made, even if the module went off later: that is the next invoice's credit)."""
    tz = tenant_tz(tenant)
    spans = _tenant_spans(tenant, module)
    if as_of is not None:
        spans = spans_as_of(spans, as_of)
    mask = billable_mask(spans, tz, not_before=tenant.trial_ends_at)
    raw = Decimal("0")
    cursor = start
    while cursor < end:
        month_lo, month_hi = month_start_at(cursor, tz), next_month_start_at(cursor, tz)
        upto = min(end, month_hi)
        monthly, _currency = price_for(module, month_lo.astimezone(tz).date())
        raw += monthly * mask_seconds(mask, cursor, upto) / _seconds(month_lo, month_hi)
        cursor = upto
    return raw.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ExpectedLine:
    """A line Stripe should have put on an invoice, according to the ledger."""

    module: str
    start: datetime
    end: datetime
    amount: Decimal
    currency: str
    proration: bool


def invoice_expectation(
    tenant: Tenant,
    *,
    cut: datetime,
    previous_cut: datetime,
    modules: Iterable[str],
    opening: bool = False,
    stub: Iterable[ExpectedLine] = (),
) -> list[ExpectedLine]:
    """The lines Stripe should put on the subscription invoice made at `cut` (the invoice's period_end: a
    1st of the month 00:00, or the subscription start) whose previous invoice was made at `previous_cut`
    (its period_start).

    - An advance line per module billable at `cut` (as known then), for [cut, next anchor): the whole
      month, trial or not. Stripe has no trial on our subscriptions; trial days after an anchor are given
      back by the stub credit items (`stub_lines`). None on the `opening` invoice (made at checkout): the
      stub up to the first anchor is free in Stripe (proration_behavior=none) and billed by `stub`.
    - For [previous_cut, cut): wherever the ledger's final billable time departs from what was billed for
      it (as known at `previous_cut`, trial days free on both sides), a proration line from that instant to
      `cut`: a charge where billable time begins, a credit where it ends. That is what Stripe makes from our
      proration dates (midnight of the day a module goes on; midnight after the last billed day when off).
    - `stub`: the pending invoice items made at checkout, pulled into the first anchored invoice.
    """
    tz = tenant_tz(tenant)
    trial = tenant.trial_ends_at
    advance_end = next_month_start_at(cut, tz)
    out: list[ExpectedLine] = []
    for module in sorted(set(modules)):
        if not charged(module):
            continue
        spans = _tenant_spans(tenant, module)
        known = spans_as_of(spans, cut)
        month_lo = month_start_at(cut, tz)
        month_secs = _seconds(month_lo, next_month_start_at(cut, tz))
        monthly, currency = price_for(module, month_lo.astimezone(tz).date())
        items_on = billable_mask(known, tz)  # the Stripe items at the cut: the trial does not matter
        if not opening and mask_on(items_on, cut) and advance_end > cut:
            amount = prorated(
                monthly_amount=monthly,
                seconds=mask_seconds(items_on, cut, advance_end),
                month_seconds=month_secs,
            )
            out.append(ExpectedLine(module, cut, advance_end, amount, currency, False))
        if previous_cut >= cut:
            continue
        final = billable_mask(known, tz, not_before=trial)
        billed = billable_mask(spans_as_of(spans, previous_cut), tz, not_before=trial)
        prev_lo = month_start_at(previous_cut, tz)
        prev_secs = _seconds(prev_lo, next_month_start_at(previous_cut, tz))
        prev_monthly, prev_currency = price_for(module, prev_lo.astimezone(tz).date())
        # Both masks start billing at the trial end, so the trial end itself is never a change: only
        # module changes after `previous_cut` are (Stripe prorates item changes, nothing else).
        points = sorted(
            {previous_cut}
            | {
                p
                for mask in (final, billed)
                for lo, hi in mask
                for p in (lo, hi)
                if p is not None and previous_cut < p < cut
            }
        )
        level = 0
        for point in points:
            diff = int(mask_on(final, point)) - int(mask_on(billed, point))
            if diff != level:
                magnitude = prorated(
                    monthly_amount=prev_monthly, seconds=_seconds(point, cut), month_seconds=prev_secs
                )
                out.append(ExpectedLine(module, point, cut, (diff - level) * magnitude, prev_currency, True))
                level = diff
    out.extend(stub)
    return out


def stub_lines(
    tenant: Tenant, *, start: datetime, anchor: datetime, modules: Iterable[str]
) -> list[ExpectedLine]:
    """What the ledger says the time before the first anchored invoice owes, as Stripe pending invoice
    items for that invoice (Stripe itself charges nothing for it: proration_behavior=none).

    - A charge per module for the subscription's first month up to the anchor, from the trial end's day
      (trial days are free, the day the trial ends is billed whole, as everywhere in the ledger), priced
      by the module history known at `start`. The month's days before the checkout are included: that
      month is never a ledger invoice once a subscription exists, so Stripe bills all of it.
    - When the trial ends after the anchor, Stripe charges each month from the anchor in full and in
      advance: a credit per module and month for its trial days, at the ledger's rate.
    """
    tz = tenant_tz(tenant)
    trial_floor = local_midnight(tenant.trial_ends_at, tz) if tenant.trial_ends_at else None
    month_lo = month_start_at(start, tz)
    out: list[ExpectedLine] = []
    for module in sorted(set(modules)):
        if not charged(module):
            continue
        lo = max(month_lo, trial_floor) if trial_floor is not None else month_lo
        if lo < anchor:
            amount = expected_for(tenant, module, month_lo, anchor, as_of=start)
            if amount:
                currency = price_for(module, month_lo.astimezone(tz).date())[1]
                out.append(ExpectedLine(module, lo, anchor, amount, currency, False))
        if trial_floor is None or trial_floor <= anchor:
            continue
        on_at_start = billable_mask(spans_as_of(_tenant_spans(tenant, module), start), tz)
        if not mask_on(on_at_start, start):
            continue  # not a Stripe item at checkout: nothing charged in advance to give back
        cursor = anchor
        while cursor < trial_floor:
            lo_m, hi_m = month_start_at(cursor, tz), next_month_start_at(cursor, tz)
            upto = min(hi_m, trial_floor)
            monthly, currency = price_for(module, lo_m.astimezone(tz).date())
            credit = prorated(
                monthly_amount=monthly, seconds=_seconds(cursor, upto), month_seconds=_seconds(lo_m, hi_m)
            )
            if credit:
                out.append(ExpectedLine(module, cursor, upto, -credit, currency, False))
            cursor = upto
    return out


# --- Stripe's billing cycle anchor -------------------------------------------------------------------------


def anchor_config_for_offset(offset: timedelta) -> dict[str, int]:
    """Stripe's billing_cycle_anchor_config (UTC wall time, repeated monthly) for 00:00 on the 1st in a zone
    `offset` from UTC. East of UTC that instant is on the previous day: the last day of the month, which
    Stripe reaches by clamping day 31 to shorter months; west of UTC (or at UTC) it is on the 1st itself.
    A fixed day and hour, unlike a timestamp anchor, whose UTC day (e.g. the 30th) would drift."""
    seconds = int(offset.total_seconds())
    wall = 24 * 3600 - seconds if seconds > 0 else -seconds
    day = 31 if seconds > 0 else 1
    return {"day_of_month": day, "hour": wall // 3600, "minute": wall % 3600 // 60, "second": wall % 60}


def anchor_config(tz: ZoneInfo, year: int) -> dict[str, int]:
    """The anchor config for a tenant zone. A zone with daylight saving time has two offsets, and Stripe's
    anchor is one UTC wall time, so the local boundary moves by an hour twice a year. We take the smaller
    offset (standard time east and west of UTC alike): in summer the period then starts at 01:00 on the
    1st, never at 23:00 the day before. That is acceptable: the ledger rounds to whole local days and the
    boundary stays inside the same local day (invoice_apply reads such a cut as that day's 00:00)."""
    offsets = set()
    for month in range(1, 13):
        offset = datetime(year, month, 1, tzinfo=tz).utcoffset()
        if offset is not None:
            offsets.add(offset)
    return anchor_config_for_offset(min(offsets) if offsets else timedelta(0))
