"""Stripe webhooks: verify, store once, process idempotently in a task.

Stripe delivers at least once and in no guaranteed order, so processing never trusts the event body for
state: it re-fetches the subscription or invoice from the API and mirrors what Stripe has now. A tenant is
only ever found through its own Stripe customer id (and, for checkout, its own client_reference_id).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.billing import gateway, services
from crm.billing.models import BillingAccount, WebhookEvent

log = logging.getLogger(__name__)

HANDLED = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
        "invoice.finalized",
    }
)


def webhook_receive(*, payload: bytes, signature: str) -> tuple[WebhookEvent, bool]:
    """Verify and store an event (raises gateway.BadSignature, storing nothing). Returns (row, created);
    a new row's processing is queued on commit."""
    event = gateway.webhook_event(payload, signature)
    row, created = WebhookEvent.objects.get_or_create(
        stripe_id=str(event["id"]), defaults={"type": str(event.get("type", "")), "payload": event}
    )
    if created:
        from crm.billing.tasks import process_webhook
        from crm.kernel.dispatch import enqueue

        enqueue(process_webhook.name, args=[row.pk])
    return row, created


def _account_for_customer(customer: Any) -> BillingAccount | None:
    customer_id = customer.get("id") if isinstance(customer, dict) else customer
    if not customer_id:
        return None
    return BillingAccount.objects.select_related("tenant").filter(stripe_customer_id=customer_id).first()


def _handle(event_type: str, obj: dict[str, Any]) -> str:
    """Apply one event; returns a note for the row ('' when applied)."""
    account = _account_for_customer(obj.get("customer"))
    if account is None:
        return "no billing account for this customer; ignored"
    if event_type == "checkout.session.completed":
        if str(obj.get("client_reference_id") or "") != str(account.tenant_id):
            return "checkout session does not belong to the customer's tenant; ignored"
        sub_id = obj.get("subscription")
        sub_id = sub_id.get("id") if isinstance(sub_id, dict) else sub_id
        if not sub_id:
            return "checkout session without subscription; ignored"
        sub = gateway.subscription_retrieve(sub_id)
        services.subscription_apply(account=account, subscription=sub, subscription_id=sub_id)
        if sub is not None and sub.get("customer") == account.stripe_customer_id:
            # The ledger's stub charges and trial credits, once per subscription (a StubCharge row).
            services.stub_items_create(account=account, subscription=sub)
    elif event_type.startswith("customer.subscription."):
        sub = gateway.subscription_retrieve(obj["id"])
        if sub is not None and sub.get("customer") != account.stripe_customer_id:
            return "subscription belongs to another customer; ignored"
        services.subscription_apply(account=account, subscription=sub, subscription_id=obj["id"])
    elif event_type.startswith("invoice."):
        invoice = gateway.invoice_retrieve(obj["id"])
        if invoice.get("customer") != account.stripe_customer_id:
            return "invoice belongs to another customer; ignored"
        services.invoice_apply(account=account, invoice=invoice)
    return ""


def webhook_process(*, event_id: int) -> WebhookEvent:
    """Process a stored event once. Failures are recorded and left for the retry task."""
    with transaction.atomic():
        row = WebhookEvent.objects.select_for_update().get(pk=event_id)
        if row.processed_at is not None:
            return row
        row.attempts += 1
        try:
            with transaction.atomic():
                note = (
                    _handle(row.type, row.payload["data"]["object"]) if row.type in HANDLED else "not handled"
                )
        except Exception as exc:  # recorded for the operator and retried; never lost
            log.exception("stripe event %s failed", row.stripe_id)
            row.error = f"{type(exc).__name__}: {exc}"[:2000]
            row.save(update_fields=["attempts", "error", "updated_at"])
            return row
        row.error = note
        row.processed_at = timezone.now()
        row.save(update_fields=["attempts", "error", "processed_at", "updated_at"])
    return row


def webhooks_retry(*, max_attempts: int = 10) -> int:
    ids = list(
        WebhookEvent.objects.filter(processed_at__isnull=True, attempts__lt=max_attempts)
        .order_by("id")
        .values_list("id", flat=True)
    )
    for event_id in ids:
        webhook_process(event_id=event_id)
    return len(ids)
