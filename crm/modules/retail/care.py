"""Member care (关怀): birthday, tier upgrade, points and membership about to expire, by SMS and email.

Run daily per tenant (manifest periodic task `crm.modules.retail.tasks.care`). Each (member, event,
occurrence, channel) has one idempotency key; messaging inserts the row first and sends second, so a second
run, a retried task or two overlapping runs send nothing twice. Members' per-channel opt-out is respected.

Each day's run is a CareRun row (a job with a heartbeat, crm.platform.jobs): claimed by one worker, its
progress beaten every BATCH messages; the jobs sweeper requeues a run whose worker stopped
(`crm.modules.retail.tasks.care_resume`) and at last fails it, and the owner retries it from the care page.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Min, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.kernel.tenant_time import tenant_zone
from crm.modules.messaging.public import (
    Channel,
    EventKind,
    OutboundMessage,
    Provider,
    care_settings_get,
    cursor_get,
    cursor_set,
    message_retry_failed,
    message_send,
)
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.jobs import job_heartbeat, job_requeue
from crm.platform.permissions import Role, check_perm
from crm.tenants.accounts.models import User

from . import selectors
from .models import CareRun, Member, PointsEntry, TierChange

log = logging.getLogger(__name__)
# The task the jobs sweeper and the retry queue for one run (settings.CRM_HEARTBEAT_JOBS).
RESUME_TASK = "crm.modules.retail.tasks.care_resume"

TIER_CURSOR = "retail.tier_change"
# A first run (or one after a long pause) does not congratulate members on upgrades from long ago.
TIER_LOOKBACK = timedelta(days=3)


# Messages handed to messaging between two heartbeats of a care run.
BATCH = 100


@dataclass
class CareResult:
    """What one run did, per event kind: messages handed to messaging (sent, failed or already done);
    `total` planned, `done` handed over so far, of which `sent` are sent and `undelivered` failed."""

    counts: dict[str, int] = field(default_factory=dict)
    total: int = 0
    done: int = 0
    sent: int = 0
    undelivered: int = 0

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


@dataclass
class Notice:
    """One planned care message: a member, an event occurrence and one channel."""

    member: Member
    kind: str
    occurrence: str
    channel: str
    recipient: str
    extra: dict[str, Any]


def _plan(notices: list[Notice], member: Member, kind: str, occurrence: str, **extra: Any) -> None:
    targets = (
        (Channel.SMS, member.phone, member.opt_out_sms),
        (Channel.EMAIL, member.email, member.opt_out_email),
    )
    for channel, recipient, opted_out in targets:
        if recipient and not opted_out:
            notices.append(Notice(member, kind, occurrence, channel, recipient, extra))


def _reachable() -> Any:
    """Members with a channel they have not opted out of."""
    return Member.objects.filter(
        (~Q(phone="") & Q(opt_out_sms=False)) | (~Q(email="") & Q(opt_out_email=False))
    ).select_related("tier", "store")


def care_plan(*, now: datetime, provider: Provider | None = None) -> tuple[list[Notice], int | None]:
    """The messages due at `now`, in a stable order, and the tier-change cursor to store once they are all
    handed to messaging (None: unchanged). Retries the failed upgrade messages of earlier runs first."""
    zone = tenant_zone()
    today = timezone.localtime(now, zone).date()
    settings = care_settings_get()
    notices: list[Notice] = []

    # Birthdays; members born on 29 February are greeted on the 28th in other years.
    days = [today.day]
    if today.month == 2 and today.day == 28 and not calendar.isleap(today.year):
        days.append(29)
    for member in _reachable().filter(birthday__month=today.month, birthday__day__in=days):
        _plan(notices, member, EventKind.BIRTHDAY, str(today.year))

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
            _plan(notices, member, EventKind.TIER_UPGRADE, str(change.pk), tier=change.to_tier.name)
    cursor = changes[-1].pk if changes else None

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
        _plan(
            notices,
            member,
            EventKind.POINTS_EXPIRING,
            expiry.isoformat(),
            points=points,
            expiry_date=expiry.isoformat(),
        )

    # Memberships ending within the window; a renewal moves valid_until and so makes a new occurrence.
    ending = today + timedelta(days=settings.membership_notice_days)
    for member in _reachable().filter(valid_until__gte=today, valid_until__lte=ending):
        assert member.valid_until is not None
        _plan(
            notices,
            member,
            EventKind.MEMBERSHIP_EXPIRING,
            member.valid_until.isoformat(),
            expiry_date=member.valid_until.isoformat(),
        )
    return notices, cursor


def care_run(
    *,
    now: datetime | None = None,
    provider: Provider | None = None,
    progress: Callable[[CareResult], None] | None = None,
) -> CareResult:
    """Plan the messages due at `now` and hand each to messaging, which sends it once per idempotency key.
    `progress` is called every BATCH messages and at the end (a job's heartbeat)."""
    notices, cursor = care_plan(now=now or timezone.now(), provider=provider)
    result = CareResult(total=len(notices))
    for notice in notices:
        message = message_send(
            kind=notice.kind,
            channel=notice.channel,
            recipient=notice.recipient,
            idempotency_key=f"retail:{notice.kind}:{notice.member.pk}:{notice.occurrence}:{notice.channel}",
            context=_context(notice.member, **notice.extra),
            provider=provider,
        )
        result.done += 1
        if message is not None:
            result.add(notice.kind)
            if message.status == OutboundMessage.Status.SENT:
                result.sent += 1
            elif message.status == OutboundMessage.Status.FAILED:
                result.undelivered += 1
        if progress is not None and result.done % BATCH == 0:
            progress(result)
    # The cursor moves past the changes scanned only once their messages are all handed over: a run
    # interrupted before this point scans the same changes again (and sends nothing twice).
    if cursor is not None:
        cursor_set(TIER_CURSOR, cursor)
    if progress is not None:
        progress(result)
    return result


# --- the daily run as a job with a heartbeat (crm.platform.jobs) ------------------------------------------


def care_run_start(*, now: datetime | None = None) -> CareRun:
    """Today's care run (tenant-local day), made on the first delivery of the daily task; a later delivery
    the same day gets the same row back (whatever its status)."""
    now = now or timezone.now()
    day = timezone.localtime(now, tenant_zone()).date()
    run, _created = CareRun.objects.get_or_create(run_on=day, defaults={"planned_for": now})
    return run


def care_run_execute(*, run_id: int, provider: Provider | None = None) -> CareRun | None:
    """Worker side: claim the run (queued -> running in one UPDATE; a second delivery, or one for a run
    already done, finds nothing to claim and does nothing), send with a heartbeat and progress every BATCH
    messages, then record the outcome. A run requeued by the jobs sweeper plans for the same moment
    (`planned_for`), so the messages its first attempt sent come back as sent and go out only once."""
    now = timezone.now()
    claimed = CareRun.objects.filter(pk=run_id, status=CareRun.Status.QUEUED).update(
        status=CareRun.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        done=0,
        sent=0,
        undelivered=0,
        error="",
    )
    if not claimed:
        return None
    run = CareRun.objects.get(pk=run_id)

    def beat(result: CareResult) -> None:
        job_heartbeat(
            run, total=result.total, done=result.done, sent=result.sent, undelivered=result.undelivered
        )

    try:
        result = care_run(now=run.planned_for, provider=provider, progress=beat)
    except Exception as exc:
        log.exception("care run %s failed", run.pk)
        CareRun.objects.filter(pk=run.pk).update(
            status=CareRun.Status.FAILED,
            finished_at=timezone.now(),
            error=_("The care run failed (%(error)s). Retry it; details are in the worker's log.")
            % {"error": type(exc).__name__},
        )
        return CareRun.objects.get(pk=run.pk)
    CareRun.objects.filter(pk=run.pk).update(
        status=CareRun.Status.DONE,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
        total=result.total,
        done=result.done,
        sent=result.sent,
        undelivered=result.undelivered,
        counts=result.counts,
    )
    return CareRun.objects.get(pk=run.pk)


def care_run_retry(*, actor: User, run: CareRun) -> CareRun:
    """The owner's retry of a failed care run (interrupted too often, or an error): queued again and run by
    a worker from the start; messages already sent are not sent again."""
    check_perm(actor, "retail.manage", _("You may not change care messages."))
    if actor.role != Role.OWNER:
        raise PermissionDenied(_("Only the workspace owner can retry the care run."))
    if not job_requeue(run, RESUME_TASK, error=""):
        raise ServiceError(_("Only a failed care run can be retried."), code="conflict")
    return run
