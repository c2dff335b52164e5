"""Domain events: an outbox row per event (durable, replayable) plus in-process subscribers run on commit.

Billing subscribes to `module.enabled` / `module.disabled`; a subscriber failing never breaks the write
that published the event (the outbox row stays unprocessed and can be replayed).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

if TYPE_CHECKING:
    from crm.platform.models import DomainEvent
    from crm.tenants.models import Tenant

log = logging.getLogger(__name__)
EVENT_TASK = "crm.platform.tasks.event_dispatch"
Handler = Callable[["DomainEvent"], None]
_subscribers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(name: str, handler: Handler) -> None:
    if handler not in _subscribers[name]:
        _subscribers[name].append(handler)


def publish(name: str, *, tenant: Tenant | None, payload: dict[str, Any]) -> DomainEvent:
    from crm.kernel.dispatch import enqueue
    from crm.platform.models import DomainEvent

    event = DomainEvent.objects.create(name=name, tenant=tenant, payload=payload)
    # Subscribers run in this process right after commit, as before; the pending dispatch row is the
    # durable fallback: sent to a worker if a subscriber failed, by the sweeper if this process died first.
    row_id = enqueue(EVENT_TASK, args=[event.pk], send_on_commit=False)
    transaction.on_commit(lambda: _dispatch_or_defer(event.pk, row_id))
    return event


def _dispatch_or_defer(event_id: int, row_id: int) -> None:
    from crm.kernel.dispatch import send, settle
    from crm.platform.models import DomainEvent

    dispatch(event_id)
    if DomainEvent.objects.filter(pk=event_id, processed_at__isnull=False).exists():
        settle(row_id)
    else:
        send(row_id)  # a subscriber failed: a worker retries it (the sweeper if the broker is away too)


def dispatch(event_id: int) -> None:
    from crm.platform.models import DomainEvent

    event = DomainEvent.objects.filter(pk=event_id, processed_at__isnull=True).first()
    if event is None:
        return
    handlers = _subscribers.get(event.name, [])
    try:
        for handler in handlers:
            handler(event)
    except Exception:
        log.exception("event %s #%s: subscriber failed; left unprocessed for replay", event.name, event.pk)
        return
    DomainEvent.objects.filter(pk=event.pk).update(processed_at=timezone.now())
