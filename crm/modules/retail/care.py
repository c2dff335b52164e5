"""Member care (关怀): birthday, tier upgrade, points and membership about to expire, by SMS and email.

Run daily per tenant (manifest periodic task `crm.modules.retail.tasks.care`). Each (member, event,
occurrence, channel) has one idempotency key; messaging inserts the row first and sends second, so a second
run, a retried task or two overlapping runs send nothing twice. Members' per-channel opt-out is respected.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Min, Q
from django.utils import timezone

from crm.kernel.tenant_time import tenant_zone
from crm.modules.messaging.public import (
    Channel,
    EventKind,
    Provider,
    care_settings_get,
    cursor_get,
    cursor_set,
    message_retry_failed,
    message_send,
)

from . import selectors
from .models import Member, PointsEntry, TierChange

TIER_CURSOR = "retail.tier_change"
# A first run (or one after a long pause) does not congratulate members on upgrades from long ago.
TIER_LOOKBACK = timedelta(days=3)


@dataclass
class CareResult:
    """What one run did, per event kind: messages handed to messaging (sent, failed or already done)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


def _context(member: Member, **extra: Any) -> dict[str, Any]:
    return {
        "name": member.name,
        "tier": member.tier.name if member.tier else "",
        "points": member.points_balance,
        "store": member.store.name if member.store else "",
        **extra,
    }


def _notify(
    result: CareResult, member: Member, kind: str, occurrence: str, provider: Provider | None, **extra: Any
) -> None:
    context = _context(member, **extra)
    targets = (
        (Channel.SMS, member.phone, member.opt_out_sms),
        (Channel.EMAIL, member.email, member.opt_out_email),
    )
    for channel, recipient, opted_out in targets:
        if not recipient or opted_out:
            continue
        sent = message_send(
            kind=kind,
            channel=channel,
            recipient=recipient,
            idempotency_key=f"retail:{kind}:{member.pk}:{occurrence}:{channel}",
            context=context,
            provider=provider,
        )
        if sent is not None:
            result.add(kind)


def _reachable() -> Any:
    """Members with a channel they have not opted out of."""
    return Member.objects.filter(
        (~Q(phone="") & Q(opt_out_sms=False)) | (~Q(email="") & Q(opt_out_email=False))
    ).select_related("tier", "store")


def care_run(*, now: datetime | None = None, provider: Provider | None = None) -> CareResult:
    now = now or timezone.now()
    zone = tenant_zone()
    today = timezone.localtime(now, zone).date()
    settings = care_settings_get()
    result = CareResult()

    # Birthdays; members born on 29 February are greeted on the 28th in other years.
    days = [today.day]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append(29)
    for member in _reachable().filter(birthday__month=today.month, birthday__day__in=days):
        _notify(result, member, EventKind.BIRTHDAY, str(today.year), provider)

    # Tier upgrades since the last run (a downgrade at renewal is not celebrated). The cursor moves past
    # the changes scanned, so first retry the upgrade messages that failed on earlier runs.
    message_retry_failed(kind=EventKind.TIER_UPGRADE, since=now - TIER_LOOKBACK, provider=provider)
    last = cursor_get(TIER_CURSOR)
    changes = list(
        TierChange.objects.filter(id__gt=last, created_at__gte=now - TIER_LOOKBACK)
        .select_related("member__tier", "member__store", "from_tier", "to_tier")
        .order_by("id")
    )
    for change in changes:
        if change.from_tier is None or change.to_tier.rank > change.from_tier.rank:
            member = change.member
            _notify(
                result, member, EventKind.TIER_UPGRADE, str(change.pk), provider, tier=change.to_tier.name
            )
    if changes:
        cursor_set(TIER_CURSOR, changes[-1].pk)

    # Points lapsing within the window; one notice per batch (the earliest expiry date still ahead).
    until = now + timedelta(days=settings.points_notice_days)
    soon = (
        PointsEntry.objects.filter(
            kind__in=selectors.EARNING, points__gt=0, expires_at__gt=now, expires_at__lte=until
        )
        .exclude(sale__voided_at__isnull=False)
        .values("member_id")
        .annotate(first=Min("expires_at"))
    )
    first_expiry = {row["member_id"]: row["first"] for row in soon}
    due = selectors.points_due(first_expiry.keys(), until)
    for member in _reachable().filter(pk__in=[pk for pk, n in due.items() if n > 0], points_balance__gt=0):
        points = min(due[member.pk], member.points_balance)
        expiry = timezone.localtime(first_expiry[member.pk], zone).date()
        _notify(
            result,
            member,
            EventKind.POINTS_EXPIRING,
            expiry.isoformat(),
            provider,
            points=points,
            expiry_date=expiry.isoformat(),
        )

    # Memberships ending within the window; a renewal moves valid_until and so makes a new occurrence.
    ending = today + timedelta(days=settings.membership_notice_days)
    for member in _reachable().filter(valid_until__gte=today, valid_until__lte=ending):
        assert member.valid_until is not None
        _notify(
            result,
            member,
            EventKind.MEMBERSHIP_EXPIRING,
            member.valid_until.isoformat(),
            provider,
            expiry_date=member.valid_until.isoformat(),
        )
    return result
