"""Service periodic tasks (run per tenant inside its schema by the platform's beat fan-out)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="crm.modules.service.tasks.renewals")
def renewals() -> dict[str, int]:
    # Idempotent: one renewal opportunity per agreement term (a unique row per agreement and end date).
    return services.renewals_run()
