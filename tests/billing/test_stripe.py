"""Stripe mode against the local fake Stripe API (official client, real HTTP on loopback, signed webhooks)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from crm.billing import services
from crm.billing.gateway import to_minor
from crm.billing.ledger import line_amount, month_bounds, period_total, price_for, tenant_tz
from crm.billing.models import AccountStatus, BillingAccount, Invoice, InvoiceStatus, WebhookEvent
from crm.tenants.models import Tenant, TenantStatus
from crm.tenants.services import module_set_enabled
from tests.billing.conftest import deliver


def start_checkout(fx: Any, fake: Any) -> str:
    response = fx.client("owner").post("/billing/checkout/")
    assert response.status_code == 302 and response.url.startswith(f"{fake.url}/checkout/")
    return str(response.url.rsplit("/", 1)[1])


def send(client: Any, fake: Any, events: list[dict[str, Any]], capture: Any) -> None:
    for event in events:
        with capture(execute=True):
            assert deliver(client, fake, event).status_code == 200


def checkout_completed(fx: Any, fake: Any, client: Any, capture: Any) -> str:
    """The owner goes through Checkout and every resulting webhook is delivered once, in order. Returns the
    Checkout session id."""
    session_id = start_checkout(fx, fake)
    send(client, fake, fake.complete_checkout(session_id), capture)
    return session_id


def state(tenant: Tenant) -> dict[str, Any]:
    tenant.refresh_from_db()
    account = BillingAccount.objects.get(tenant=tenant)
    return {
        "tenant": tenant.status,
        "account": account.status,
        "sub": account.stripe_subscription_status,
        "items": sorted(account.items.values_list("module", flat=True)),
        "invoices": sorted(
            Invoice.objects.filter(tenant=tenant, manual=False).values_list("number", "status")
        ),
    }


@pytest.fixture
def subscribed(alpha, fake_stripe, public_client, django_capture_on_commit_callbacks):
    """alpha went through Checkout; the first invoice is paid; every event delivered once, in order."""
    checkout_completed(alpha, fake_stripe, public_client, django_capture_on_commit_callbacks)
    return alpha


def test_checkout_sends_one_line_per_module_and_activates_only_on_the_webhook(
    alpha, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    alpha.tenant.trial_ends_at = timezone.now() - timedelta(days=1)  # trial over: billed from now
    alpha.tenant.save()
    session_id = start_checkout(alpha, fake_stripe)
    session = fake_stripe.get(session_id)
    assert session["mode"] == "subscription" and session["client_reference_id"] == str(alpha.tenant.pk)
    modules = sorted(fake_stripe.get(li["price"])["metadata"]["module"] for li in session["_line_items"])
    assert modules == ["project", "retail"]
    customer = fake_stripe.get(session["customer"])
    assert customer["metadata"]["tenant_id"] == str(alpha.tenant.pk)

    # The browser coming back proves nothing.
    assert alpha.client("owner").get("/billing/return/").status_code == 302
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.status == TenantStatus.TRIAL

    send(
        public_client,
        fake_stripe,
        fake_stripe.complete_checkout(session_id),
        django_capture_on_commit_callbacks,
    )
    after = state(alpha.tenant)
    assert after["tenant"] == TenantStatus.ACTIVE and after["account"] == AccountStatus.ACTIVE
    assert after["items"] == ["project", "retail"]
    invoice = Invoice.objects.get(tenant=alpha.tenant, manual=False)
    assert invoice.status == InvoiceStatus.PAID and invoice.pdf_url.startswith(fake_stripe.url)
    # Anchored by a monthly config (00:00 on the 1st in UTC+8 is 16:00 UTC on the month's last day), with
    # no trial and no timestamp anchor; the stub up to the first 1st is free in Stripe.
    data = fake_stripe.get(session_id)
    assert data["_anchor_config"] == {"day_of_month": "31", "hour": "16", "minute": "0", "second": "0"}
    assert data["_proration_behavior"] == "none" and not data["_trial_end"] and not data["_anchor"]
    sub = fake_stripe.get(BillingAccount.objects.get(tenant=alpha.tenant).stripe_subscription_id)
    tz = tenant_tz(alpha.tenant)
    assert datetime.fromtimestamp(sub["billing_cycle_anchor"], tz).timetuple()[2:6] == (1, 0, 0, 0)
    lines = list(invoice.lines.order_by("module"))
    assert [ln.module for ln in lines] == ["project", "retail"] and not any(ln.proration for ln in lines)
    assert invoice.total == invoice.ledger_total == Decimal("0.00")
    assert all(ln.amount == ln.expected_amount == 0 for ln in lines)
    # The ledger's days of this month (from the day the trial ended) wait as pending invoice items.
    items = [o for o in fake_stripe.objects.values() if o["object"] == "invoiceitem"]
    first = datetime.fromtimestamp(sub["start_date"], tz).date().replace(day=1)
    assert sorted(i["metadata"]["module"] for i in items) == ["project", "retail"]
    assert all(i["invoice"] is None and i["subscription"] == sub["id"] for i in items)
    owed = period_total(alpha.tenant, first, billable_from=alpha.tenant.trial_ends_at)
    assert sum(i["amount"] for i in items) == to_minor(owed.subtotal) > 0
    assert WebhookEvent.objects.filter(processed_at__isnull=False, error="").count() == 4


def test_each_webhook_twice_and_in_reverse_order_converges(
    alpha, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    session_id = start_checkout(alpha, fake_stripe)
    events = fake_stripe.complete_checkout(session_id)
    send(public_client, fake_stripe, list(reversed(events)), django_capture_on_commit_callbacks)
    reversed_state = state(alpha.tenant)
    stored = WebhookEvent.objects.count()
    send(public_client, fake_stripe, events + events, django_capture_on_commit_callbacks)
    assert WebhookEvent.objects.count() == stored  # deduplicated by event id
    assert state(alpha.tenant) == reversed_state
    assert reversed_state["tenant"] == TenantStatus.ACTIVE and reversed_state["items"] == [
        "project",
        "retail",
    ]


def test_bad_signature_is_rejected_and_nothing_stored(subscribed, fake_stripe, public_client):
    before = WebhookEvent.objects.count()
    sub_id = BillingAccount.objects.get(tenant=subscribed.tenant).stripe_subscription_id
    event = fake_stripe.renew(sub_id, pay=False)[1]
    assert deliver(public_client, fake_stripe, event, secret="whsec_wrong").status_code == 400
    body, header = fake_stripe.signed(event)
    tampered = body.replace(b"invoice.payment_failed", b"invoice.paid")
    assert (
        public_client.post(
            "/billing/stripe/webhook/",
            data=tampered,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        ).status_code
        == 400
    )
    assert (
        public_client.post("/billing/stripe/webhook/", data=body, content_type="application/json").status_code
        == 400
    )
    old = f"t={int(timezone.now().timestamp()) - 3600},v1=" + header.split("v1=")[1]
    assert (
        public_client.post(
            "/billing/stripe/webhook/", data=body, content_type="application/json", HTTP_STRIPE_SIGNATURE=old
        ).status_code
        == 400
    )
    assert WebhookEvent.objects.count() == before
    assert state(subscribed.tenant)["tenant"] == TenantStatus.ACTIVE


def test_failed_payment_past_due_then_read_only_then_paid_restores(
    subscribed, fake_stripe, public_client, django_capture_on_commit_callbacks, settings
):
    tenant = subscribed.tenant
    sub_id = BillingAccount.objects.get(tenant=tenant).stripe_subscription_id
    failed = fake_stripe.renew(sub_id, pay=False)
    send(public_client, fake_stripe, list(reversed(failed)), django_capture_on_commit_callbacks)
    assert state(tenant)["tenant"] == TenantStatus.PAST_DUE
    owner = subscribed.client("owner")
    assert (
        owner.post("/settings/modules/", {"module": "trade", "action": "enable"}).status_code == 302
    )  # full use

    services.standing_refresh(
        tenant=tenant, now=timezone.now() + timedelta(days=settings.BILLING_GRACE_DAYS + 1)
    )
    assert state(tenant)["tenant"] == TenantStatus.SUSPENDED
    assert owner.post("/settings/modules/", {"module": "volume", "action": "enable"}).status_code == 423

    invoice_id = failed[0]["data"]["object"]["id"]
    paid = fake_stripe.pay(invoice_id)
    send(public_client, fake_stripe, paid, django_capture_on_commit_callbacks)
    assert state(tenant)["tenant"] == TenantStatus.ACTIVE
    # The failure notice arriving late (after the payment) changes nothing: the invoice is re-fetched.
    late = dict(failed[1], id="evt_late_copy")
    send(public_client, fake_stripe, [late], django_capture_on_commit_callbacks)
    assert state(tenant)["tenant"] == TenantStatus.ACTIVE


def test_module_toggle_adds_and_removes_items_with_proration(
    subscribed, fake_stripe, django_capture_on_commit_callbacks
):
    tenant = subscribed.tenant
    with django_capture_on_commit_callbacks(execute=True):
        module_set_enabled(tenant=tenant, module="trade", enabled=True, actor_email="owner@alpha.example.com")
    adds = [p for m, path, p in fake_stripe.requests if m == "POST" and path == "/subscription_items"]
    assert len(adds) == 1 and adds[0]["proration_behavior"] == "create_prorations"
    assert state(tenant)["items"] == ["project", "retail", "trade"]
    with django_capture_on_commit_callbacks(execute=True):
        module_set_enabled(
            tenant=tenant, module="trade", enabled=False, actor_email="owner@alpha.example.com"
        )
    removes = [(path, p) for m, path, p in fake_stripe.requests if m == "DELETE"]
    assert len(removes) == 1 and removes[0][1]["proration_behavior"] == "create_prorations"
    assert state(tenant)["items"] == ["project", "retail"]
    # running the sync again changes nothing
    count = len(fake_stripe.requests)
    services.subscription_items_sync(tenant=tenant)
    assert len([r for r in fake_stripe.requests[count:] if r[0] != "GET"]) == 0


def test_change_preview_this_month_and_from_next_month(alpha, offline):
    tenant = alpha.tenant
    tenant.trial_ends_at = timezone.now() - timedelta(days=60)
    tenant.save()
    response = alpha.client("owner").get("/api/v1/billing/preview/", {"module": "trade", "action": "enable"})
    assert response.status_code == 200
    body = response.json()
    today = timezone.localdate()
    first, last = month_bounds(today)
    price = price_for("trade", first)[0]
    remaining = (last - today).days + 1
    assert Decimal(body["this_month"]) == line_amount(
        monthly_amount=price, days=remaining, days_in_month=(last - first).days + 1
    )
    expected_next = sum(price_for(m, last + timedelta(days=1))[0] for m in ("project", "retail", "trade"))
    assert Decimal(body["monthly_from_next_month"]) == expected_next
    off = (
        alpha.client("owner")
        .get("/api/v1/billing/preview/", {"module": "project", "action": "disable"})
        .json()
    )
    assert Decimal(off["this_month"]) <= 0
    assert (
        alpha.client("sales")
        .get("/api/v1/billing/preview/", {"module": "trade", "action": "enable"})
        .status_code
        == 403
    )
    assert (
        alpha.client("owner")
        .get("/api/v1/billing/preview/", {"module": "nope", "action": "enable"})
        .status_code
        == 400
    )


def test_webhooks_never_touch_another_tenant(
    subscribed, beta, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    before_beta = (beta.tenant.status, BillingAccount.objects.filter(tenant=beta.tenant).exists())
    alpha_account = BillingAccount.objects.get(tenant=subscribed.tenant)
    # A checkout session of alpha's customer claiming to be beta's is ignored.
    forged = fake_stripe.emit(
        "checkout.session.completed",
        {
            **fake_stripe.get(next(o for o in fake_stripe.objects if o.startswith("cs_test"))),
            "client_reference_id": str(beta.tenant.pk),
        },
    )
    failed = fake_stripe.renew(alpha_account.stripe_subscription_id, pay=False)
    send(public_client, fake_stripe, [forged, *failed], django_capture_on_commit_callbacks)
    beta.tenant.refresh_from_db()
    assert (beta.tenant.status, BillingAccount.objects.filter(tenant=beta.tenant).exists()) == before_beta
    assert not Invoice.objects.filter(tenant=beta.tenant).exists()
    assert "ignored" in WebhookEvent.objects.get(stripe_id=forged["id"]).error
    # An unknown customer touches nobody.
    stranger = fake_stripe.emit("invoice.paid", {**failed[0]["data"]["object"], "customer": "cus_nobody"})
    send(public_client, fake_stripe, [stranger], django_capture_on_commit_callbacks)
    assert WebhookEvent.objects.get(stripe_id=stranger["id"]).error.startswith("no billing account")
    assert state(subscribed.tenant)["tenant"] == TenantStatus.PAST_DUE


def test_stripe_down_keeps_the_tenant_usable(alpha, fake_stripe):
    fake_stripe.down = True
    owner = alpha.client("owner")
    response = owner.post("/billing/checkout/")
    assert response.status_code == 302 and response.url == "/billing/"
    assert owner.get("/").status_code == 200
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.status == TenantStatus.TRIAL


def test_portal_and_cancel(subscribed, fake_stripe, public_client, django_capture_on_commit_callbacks):
    owner = subscribed.client("owner", language="en")
    response = owner.post("/billing/portal/")
    assert response.status_code == 302 and response.url.startswith(f"{fake_stripe.url}/portal/")
    assert subscribed.client("finance").post("/billing/portal/").status_code == 302
    assert owner.post("/billing/cancel/").status_code == 302
    account = BillingAccount.objects.get(tenant=subscribed.tenant)
    assert account.cancel_at_period_end and account.has_subscription
    page = owner.get("/billing/").content.decode()
    assert "ends at the end of the paid period" in page
    assert fake_stripe.get(account.stripe_subscription_id)["cancel_at_period_end"] is True


def test_checkout_during_the_trial_is_not_charged_for_the_trial_days(
    alpha, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    """A card added on day 1 of a 14-day trial is not charged for the trial days: Stripe gets no trial
    (Checkout refuses one with an anchor config); the ledger's stub items charge from the trial end's day
    to the anchor, or credit the trial days after it."""
    session_id = start_checkout(alpha, fake_stripe)
    assert not fake_stripe.get(session_id)["_trial_end"]
    send(
        public_client,
        fake_stripe,
        fake_stripe.complete_checkout(session_id),
        django_capture_on_commit_callbacks,
    )
    after = state(alpha.tenant)
    assert after["tenant"] == TenantStatus.ACTIVE and after["sub"] == "active"
    first = Invoice.objects.get(tenant=alpha.tenant, manual=False)
    assert first.total == Decimal("0.00") == first.ledger_total
    tz = tenant_tz(alpha.tenant)
    trial_day = datetime.combine(alpha.tenant.trial_ends_at.astimezone(tz).date(), time.min, tzinfo=tz)
    items = [o for o in fake_stripe.objects.values() if o["object"] == "invoiceitem"]
    assert items and all(
        datetime.fromtimestamp(i["period"]["end" if i["amount"] < 0 else "start"], tz) == trial_day
        for i in items
    )
    # The first anchored invoice: the month in advance and the stub items, as the ledger says.
    sub_id = BillingAccount.objects.get(tenant=alpha.tenant).stripe_subscription_id
    send(public_client, fake_stripe, fake_stripe.renew(sub_id, pay=True), django_capture_on_commit_callbacks)
    second = Invoice.objects.filter(tenant=alpha.tenant, manual=False).exclude(pk=first.pk).get()
    assert second.total > 0 and second.total == second.ledger_total
    assert all(ln.amount == ln.expected_amount for ln in second.lines.all())
    assert second.lines.filter(proration=False).count() == 2 + len(items)  # advance + stub items


def test_ledger_mismatch_over_one_cent_is_flagged(alpha, operator):
    from datetime import date

    from crm.billing import selectors

    common = {"tenant": alpha.tenant, "period_start": date(2026, 10, 1), "period_end": date(2026, 10, 31)}
    Invoice.objects.create(
        number="S-1",
        stripe_invoice_id="in_1",
        total=Decimal("100.00"),
        ledger_total=Decimal("100.01"),
        **common,
    )
    Invoice.objects.create(
        number="S-2",
        stripe_invoice_id="in_2",
        total=Decimal("100.00"),
        ledger_total=Decimal("99.98"),
        **common,
    )
    flagged = [inv.number for inv in selectors.console_overview(user=operator)["mismatches"]]
    assert flagged == ["S-2"]


def test_subscription_end_makes_the_workspace_read_only_until_a_new_subscription(
    subscribed, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    tenant = subscribed.tenant
    account = BillingAccount.objects.get(tenant=tenant)
    ended = fake_stripe.end(account.stripe_subscription_id)
    send(public_client, fake_stripe, ended + ended, django_capture_on_commit_callbacks)
    after = state(tenant)
    assert after["tenant"] == TenantStatus.SUSPENDED and after["account"] == AccountStatus.CANCELED
    assert after["items"] == []
    tenant.refresh_from_db()
    assert tenant.suspended_by_billing  # read-only, data kept
    first = timezone.localdate().replace(day=1)
    assert services.invoice_generate(tenant=tenant, period_start=first) is None  # no manual bills either
    # Subscribing again (the billing page stays reachable) restores the workspace on the webhook.
    checkout_completed(subscribed, fake_stripe, public_client, django_capture_on_commit_callbacks)
    assert state(tenant)["tenant"] == TenantStatus.ACTIVE


def test_billing_page_shows_stripe_preview_and_survives_stripe_down(subscribed, fake_stripe):
    owner = subscribed.client("owner")
    page = owner.get("/billing/").content.decode()
    expected = sum(price_for(m, timezone.localdate().replace(day=1))[0] for m in ("project", "retail"))
    assert 'data-testid="stripe-upcoming"' in page and f"{expected:.2f}" in page
    fake_stripe.down = True
    page = owner.get("/billing/")
    assert page.status_code == 200 and 'data-testid="stripe-upcoming"' not in page.content.decode()
