"""Durable task dispatch: queued work survives a broker outage and a web process restart.

`enqueue()` writes a `platform_pendingdispatch` row in the caller's transaction and, on commit, hands the
task to the broker. If the broker is away the row stays pending and `dispatch_sweep()` (beat every 30 s,
and once at worker start) resends it, oldest first, with backoff. A row is marked sent after the broker
took the message: a crash between the two sends it twice, so every task dispatched this way must be
idempotent (ours are: they take ids and check the row's state before acting).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

BROKER_ERRORS = (OperationalError, RedisError, ConnectionError, OSError, TimeoutError)
# The on-commit send normally wins; the sweeper leaves a fresh row alone for this long.
FIRST_SWEEP_DELAY = timedelta(seconds=15)
MAX_BACKOFF_SECONDS = 600
SWEEP_BATCH = 200


def enqueue(
    task_name: str,
    *,
    args: list[Any] | tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    schema: str | None = None,
    send_on_commit: bool = True,
) -> int:
    """Queue `task_name(*args, **kwargs)` to run in `schema` (default: the current one) after commit.

    Returns the pending dispatch id. Outside a transaction the row is written and sent at once.
    `send_on_commit=False`: the caller does the work itself after commit and calls `settle()` when it
    succeeded, or `send()` to hand it to a worker; if the process dies first, the sweeper sends it."""
    from crm.platform.models import PendingDispatch

    row = PendingDispatch.objects.create(
        task_name=task_name,
        args=list(args),
        kwargs=dict(kwargs or {}),
        schema=schema or connection.schema_name,  # type: ignore[attr-defined]
        next_attempt_at=timezone.now() + FIRST_SWEEP_DELAY,
    )
    row_id = row.pk
    if send_on_commit:
        transaction.on_commit(lambda: send(row_id))
    return int(row_id)


def settle(row_id: int) -> None:
    """Mark a pending dispatch done without sending it (its work was done in process)."""
    from crm.platform.models import PendingDispatch

    with schema_context(get_public_schema_name()):
        PendingDispatch.objects.filter(pk=row_id, sent_at__isnull=True).update(sent_at=timezone.now())


def _task(name: str) -> Any:
    from crm.platform.tasks import periodic_task

    return periodic_task(name)


def send(row_id: int) -> bool:
    """Hand one pending dispatch to the broker; True when sent (or already sent)."""
    from crm.platform.models import PendingDispatch

    with schema_context(get_public_schema_name()):
        row = PendingDispatch.objects.filter(pk=row_id).first()
    if row is None or row.sent_at is not None:
        return row is not None
    try:
        _task(row.task_name).apply_async(
            args=row.args, kwargs=row.kwargs, headers={"_schema_name": row.schema}
        )
    except BROKER_ERRORS as exc:
        _failed(row, exc)
        return False
    with schema_context(get_public_schema_name()):
        PendingDispatch.objects.filter(pk=row.pk).update(sent_at=timezone.now(), attempts=row.attempts + 1)
    return True


def _failed(row: Any, exc: BaseException) -> None:
    from crm.platform.models import PendingDispatch

    attempts = row.attempts + 1
    delay = min(MAX_BACKOFF_SECONDS, 15 * 2 ** min(attempts, 10))
    log.warning(
        "dispatch %s #%s (%s) not sent, attempt %s: %s", row.task_name, row.pk, row.schema, attempts, exc
    )
    with schema_context(get_public_schema_name()):
        PendingDispatch.objects.filter(pk=row.pk).update(
            attempts=attempts,
            last_error=str(exc)[:1000],
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        )


def dispatch_sweep(*, batch: int = SWEEP_BATCH, now: Any = None) -> dict[str, int]:
    """Resend pending dispatches that are due, oldest first; stops at the first broker error (the broker
    is away: the rest would fail too). Rows are locked with SKIP LOCKED so two sweepers never share one."""
    from crm.platform.models import PendingDispatch

    now = now or timezone.now()
    sent = failed = 0
    with schema_context(get_public_schema_name()), transaction.atomic():
        ids = list(
            PendingDispatch.objects.select_for_update(skip_locked=True)
            .filter(sent_at__isnull=True, next_attempt_at__lte=now)
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        for row_id in ids:
            if send(row_id):
                sent += 1
            else:
                failed += 1
                break
    if sent or failed:
        log.info("dispatch sweep: %s sent, %s failed", sent, failed)
    return {"sent": sent, "failed": failed, "due": len(ids)}
