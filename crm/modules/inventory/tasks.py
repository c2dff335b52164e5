"""Inventory periodic tasks (run per tenant inside its schema by the platform's beat fan-out)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="crm.modules.inventory.tasks.ledger_check")
def ledger_check() -> int:
    # Idempotent: reads only; the owners' notice is sent once per day.
    return len(services.ledger_check())


@shared_task(name="crm.modules.inventory.tasks.samples_remind")
def samples_remind() -> int:
    """Remind reps of samples past their expected return date (idempotent: once per sample)."""
    from .services_fulfilment import samples_remind as remind

    return remind()
