"""The only code that imports `stripe`. Thin wrappers returning plain dicts, so services stay testable and
the rest of the platform never sees Stripe types. Amounts cross this boundary in the currency's minor unit.

Settings are read per call (never at import time): STRIPE_SECRET_KEY empty means offline mode.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import stripe
from django.conf import settings

# Stripe amounts are integers in the minor unit; CNY and the others we sell in have two decimals.
MINOR = Decimal(100)


class GatewayError(Exception):
    """Stripe could not be reached or refused the call; the caller keeps the tenant usable."""


def enabled() -> bool:
    return bool(settings.STRIPE_SECRET_KEY)


def to_minor(amount: Decimal) -> int:
    return int((amount * MINOR).to_integral_value())


def from_minor(amount: int | None) -> Decimal:
    return (Decimal(amount or 0) / MINOR).quantize(Decimal("0.01"))


def _client() -> stripe.StripeClient:
    base = {"api": settings.STRIPE_API_BASE} if settings.STRIPE_API_BASE else None
    # No retries: a webhook or the next page view re-syncs, and the owner must never wait on Stripe.
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY, base_addresses=base, max_network_retries=0)  # type: ignore[arg-type]


def _plain(obj: Any) -> dict[str, Any]:
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def _call(fn: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return _plain(fn(*args, **kwargs))
    except stripe.StripeError as exc:
        raise GatewayError(str(exc)) from exc


def customer_create(*, name: str, email: str, tenant_id: int, schema: str) -> str:
    c = _client()
    obj = _call(
        c.v1.customers.create,
        params={"name": name, "email": email, "metadata": {"tenant_id": str(tenant_id), "schema": schema}},
    )
    return str(obj["id"])


def price_create(*, module: str, name: str, monthly_amount: Decimal, currency: str) -> str:
    c = _client()
    product = _call(c.v1.products.create, params={"name": name, "metadata": {"module": module}})
    price = _call(
        c.v1.prices.create,
        params={
            "product": product["id"],
            "currency": currency.lower(),
            "unit_amount": to_minor(monthly_amount),
            "recurring": {"interval": "month"},
            "metadata": {"module": module},
        },
    )
    return str(price["id"])


def checkout_session_create(
    *,
    customer: str,
    price_ids: list[str],
    success_url: str,
    cancel_url: str,
    tenant_id: int,
    anchor_config: dict[str, int],
    coupon: str = "",
) -> dict[str, Any]:
    """A subscription-mode Checkout session whose monthly periods start at `anchor_config` (day_of_month,
    hour, minute, second in UTC; Stripe clamps day 31 to shorter months). No trial and no
    billing_cycle_anchor: Checkout refuses either together with the config. proration_behavior=none makes
    the stub before the first anchor free in Stripe (documented for Checkout's anchor); the ledger bills
    it with pending invoice items instead (`invoice_item_create`)."""
    c = _client()
    subscription_data: dict[str, Any] = {
        "metadata": {"tenant_id": str(tenant_id)},
        "billing_cycle_anchor_config": anchor_config,
        "proration_behavior": "none",
    }
    params: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer,
        "client_reference_id": str(tenant_id),
        "line_items": [{"price": p, "quantity": 1} for p in price_ids],
        "success_url": success_url,
        "cancel_url": cancel_url,
        "metadata": {"tenant_id": str(tenant_id)},
        "subscription_data": subscription_data,
    }
    if coupon:
        params["discounts"] = [{"coupon": coupon}]
    return _call(c.v1.checkout.sessions.create, params=params)


def invoice_item_create(
    *,
    customer: str,
    subscription: str,
    amount: Decimal,
    currency: str,
    description: str,
    period_start: int,
    period_end: int,
    module: str,
    idempotency_key: str,
) -> str:
    """A pending invoice item (a charge, or a credit when `amount` is negative) for the subscription's next
    invoice, with its service period. The idempotency key makes a retried call return the same item."""
    c = _client()
    params: dict[str, Any] = {
        "customer": customer,
        "subscription": subscription,
        "amount": to_minor(amount),
        "currency": currency.lower(),
        "description": description[:500],
        "period": {"start": period_start, "end": period_end},
        "metadata": {"module": module},
    }
    item = _call(c.v1.invoice_items.create, params=params, options={"idempotency_key": idempotency_key})
    return str(item["id"])


def coupon_create(*, percent_off: Decimal, name: str, tenant_id: int, duration_in_months: int | None) -> str:
    """A percent-off coupon for one tenant: for `duration_in_months` billing months, else forever."""
    c = _client()
    params: dict[str, Any] = {
        "percent_off": str(percent_off),
        "name": name[:40],
        "metadata": {"tenant_id": str(tenant_id)},
        "duration": "repeating" if duration_in_months else "forever",
    }
    if duration_in_months:
        params["duration_in_months"] = duration_in_months
    return str(_call(c.v1.coupons.create, params=params)["id"])


def subscription_discount_set(subscription_id: str, coupon: str) -> dict[str, Any]:
    """Put the coupon on the subscription (replacing any other); an empty coupon clears the discounts."""
    c = _client()
    discounts: Any = [{"coupon": coupon}] if coupon else ""
    return _call(c.v1.subscriptions.update, subscription_id, params={"discounts": discounts})


def portal_session_create(*, customer: str, return_url: str) -> str:
    c = _client()
    return str(
        _call(c.v1.billing_portal.sessions.create, params={"customer": customer, "return_url": return_url})[
            "url"
        ]
    )


def subscription_retrieve(subscription_id: str) -> dict[str, Any] | None:
    """The subscription as Stripe has it now, or None if Stripe no longer knows it."""
    c = _client()
    try:
        return _plain(c.v1.subscriptions.retrieve(subscription_id))
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise GatewayError(str(exc)) from exc
    except stripe.StripeError as exc:
        raise GatewayError(str(exc)) from exc


def subscription_cancel_at_period_end(subscription_id: str, cancel: bool = True) -> dict[str, Any]:
    c = _client()
    return _call(c.v1.subscriptions.update, subscription_id, params={"cancel_at_period_end": cancel})


def subscription_cancel_now(subscription_id: str) -> dict[str, Any]:
    """End the subscription at once (a closed workspace is never billed again)."""
    c = _client()
    return _call(c.v1.subscriptions.cancel, subscription_id, params={"prorate": False})


def subscription_item_add(
    *, subscription_id: str, price_id: str, module: str, proration_date: int | None = None
) -> str:
    """Add an item, prorated (on the next invoice) as if added at `proration_date`."""
    c = _client()
    params: dict[str, Any] = {
        "subscription": subscription_id,
        "price": price_id,
        "quantity": 1,
        "proration_behavior": "create_prorations",
        "metadata": {"module": module},
    }
    if proration_date is not None:
        params["proration_date"] = proration_date
    item = _call(c.v1.subscription_items.create, params=params)
    return str(item["id"])


def subscription_item_remove(item_id: str, *, proration_date: int | None = None) -> None:
    """Remove an item, credited (on the next invoice) as if removed at `proration_date`."""
    c = _client()
    params: dict[str, Any] = {"proration_behavior": "create_prorations"}
    if proration_date is not None:
        params["proration_date"] = proration_date
    _call(c.v1.subscription_items.delete, item_id, params=params)


def invoice_retrieve(invoice_id: str) -> dict[str, Any]:
    """The invoice with all its lines: the invoice carries only the first few inline (`lines.has_more`),
    the rest are paged from /v1/invoices/{id}/lines."""
    c = _client()
    invoice = _call(c.v1.invoices.retrieve, invoice_id)
    lines = invoice.get("lines") or {}
    data = list(lines.get("data") or [])
    has_more = bool(lines.get("has_more"))
    while has_more:
        params: dict[str, Any] = {"limit": 100}
        if data:
            params["starting_after"] = data[-1]["id"]
        page = _call(c.v1.invoices.line_items.list, invoice_id, params=params)
        batch = list(page.get("data") or [])
        data.extend(batch)
        has_more = bool(page.get("has_more")) and bool(batch)
    invoice["lines"] = {**lines, "data": data, "has_more": False}
    return invoice


def upcoming_total(*, customer: str, subscription_id: str) -> tuple[Decimal, str]:
    """Stripe's preview of the next invoice (amount due, currency)."""
    c = _client()
    obj = _call(c.v1.invoices.create_preview, params={"customer": customer, "subscription": subscription_id})
    return from_minor(obj.get("amount_due")), str(obj.get("currency", "")).upper()


class BadSignature(Exception):
    pass


def webhook_event(payload: bytes, signature: str) -> dict[str, Any]:
    """Verify the Stripe-Signature header over the raw body and return the event as a dict."""
    try:
        stripe.Webhook.construct_event(payload, signature, settings.STRIPE_WEBHOOK_SECRET)
    except (ValueError, stripe.SignatureVerificationError) as exc:
        raise BadSignature(str(exc)) from exc
    # Keep the verified body as sent (plain JSON types, storable as is).
    event: dict[str, Any] = json.loads(payload)
    return event
