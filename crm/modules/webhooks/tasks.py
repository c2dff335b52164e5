"""Celery tasks of outbound webhooks: they take ids, call one service, and are idempotent (a delivery is
claimed before it is sent, and only pending ones are)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="crm.modules.webhooks.tasks.deliver", ignore_result=True)
def deliver(delivery_id: int) -> bool | None:
    return services.attempt(delivery_id=delivery_id)


@shared_task(name="crm.modules.webhooks.tasks.sweep", ignore_result=True)
def sweep() -> int:
    return services.sweep()
