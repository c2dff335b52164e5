"""Celery tasks of the documents area (thin wrappers; run inside the tenant schema)."""

from __future__ import annotations

from celery import shared_task

from . import services_documents


@shared_task(name="crm.modules.sales.tasks_documents.quotes_expire")
def quotes_expire() -> int:
    # Idempotent: a second run finds no sent quote past its validity.
    return services_documents.quotes_expire()


@shared_task(name="crm.modules.sales.tasks_documents.quote_email_send")
def quote_email_send(quote_id: int, activity_id: int, to: str, subject: str, message: str) -> bool:
    # Idempotent: one email per logged activity, whatever the retries.
    return services_documents.quote_email_send(quote_id, activity_id, to, subject, message)
