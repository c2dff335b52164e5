"""Retail periodic tasks (run per tenant inside its schema by the platform's beat fan-out)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="crm.modules.retail.tasks.points_expire")
def points_expire() -> int:
    # Idempotent: a retry or a second run finds nothing left to expire.
    return services.points_expire()


@shared_task(name="crm.modules.retail.tasks.care")
def care() -> dict[str, int]:
    # Idempotent: every message has a unique idempotency key, so a retry or a second run sends nothing twice.
    from . import care as member_care

    return member_care.care_run().counts
