"""Receivables periodic tasks (run per tenant inside its schema by the platform's beat fan-out)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="crm.modules.sales.tasks_receivables.reminders")
def reminders() -> dict[str, int]:
    # Idempotent: each installment is reminded once before and once after its due date (stamped in the
    # same transaction), so a retry or a second run the same day sends nothing.
    from .services_receivables import reminders_run

    return reminders_run()
