"""The billing cycle anchor as a monthly config (00:00 on the 1st, tenant time, every month) and the stub
before the first anchor billed by the ledger as Stripe pending invoice items."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import stripe
from django.conf import settings

from crm.billing import services
from crm.billing.gateway import _client
from crm.billing.ledger import (
    anchor_config,
    anchor_config_for_offset,
    ledger_sync_all,
    line_amount,
    price_for,
)
from crm.billing.models import BillingAccount, Invoice, MonthCheck, StubCharge
from crm.tenants.models import Tenant
from tests.billing.conftest import history
from tests.billing.test_reconciliation import toggle
from tests.billing.test_stripe import send

SH = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=SH)


def ts(when: datetime) -> int:
    return int(when.timestamp())


FIRSTS = [local(2026, 12, 1), local(2027, 1, 1), local(2027, 2, 1), local(2027, 3, 1), local(2027, 4, 1)]


def stub_items(fake: Any) -> list[tuple[str, int, int, int]]:
    """The pending invoice items the fake Stripe holds: (module, amount in fen, period start, period end)."""
    return sorted(
        (o["metadata"]["module"], o["amount"], o["period"]["start"], o["period"]["end"])
        for o in fake.objects.values()
        if o["object"] == "invoiceitem"
    )


@pytest.mark.parametrize(
    ("offset", "config"),
    [
        (timedelta(hours=8), (31, 16, 0)),  # the 1st 00:00 in Shanghai: 16:00 UTC on the last day
        (timedelta(hours=5, minutes=30), (31, 18, 30)),
        (timedelta(0), (1, 0, 0)),
        (timedelta(hours=-5), (1, 5, 0)),
    ],
)
def test_anchor_config_is_the_utc_wall_time_of_local_midnight_on_the_1st(offset, config):
    day, hour, minute = config
    assert anchor_config_for_offset(offset) == {
        "day_of_month": day,
        "hour": hour,
        "minute": minute,
        "second": 0,
    }


def test_anchor_config_takes_standard_time_in_zones_with_daylight_saving():
    assert anchor_config(SH, 2027)["hour"] == 16
    # Standard time: in summer the period starts at 01:00 on the 1st, the same local day.
    assert anchor_config(ZoneInfo("Europe/Berlin"), 2027) == anchor_config_for_offset(timedelta(hours=1))
    assert anchor_config(ZoneInfo("America/New_York"), 2027) == anchor_config_for_offset(timedelta(hours=-5))


def test_fake_checkout_refuses_the_config_with_a_trial_or_a_timestamp_anchor(alpha, fake_stripe):
    customer = _client().v1.customers.create(params={"name": "x"})
    price = services.stripe_price_id(price=services._current_price("project"))
    config = {"day_of_month": 31, "hour": 16, "minute": 0, "second": 0}
    base: dict[str, Any] = {
        "mode": "subscription",
        "customer": customer.id,
        "line_items": [{"price": price, "quantity": 1}],
        "success_url": "https://x.example/ok",
    }
    later = ts(datetime.now(SH) + timedelta(days=5))
    extras: list[dict[str, Any]] = [
        {"trial_end": later},
        {"billing_cycle_anchor": later},
        {"trial_period_days": 7},
    ]
    for extra in extras:
        with pytest.raises(stripe.InvalidRequestError, match="cannot be combined"):
            params: Any = {**base, "subscription_data": {"billing_cycle_anchor_config": config, **extra}}
            _client().v1.checkout.sessions.create(params=params)
    assert fake_stripe.url == settings.STRIPE_API_BASE


def subscribe(
    fx: Any, fake: Any, client: Any, capture: Any, *, trial_ends: datetime, on_since: datetime
) -> str:
    """project and retail on since `on_since`; the owner goes through Checkout on 20 November 10:00."""
    tenant = fx.tenant
    Tenant.objects.filter(pk=tenant.pk).update(trial_ends_at=trial_ends, time_zone="Asia/Shanghai")
    tenant.refresh_from_db()
    for module in ("project", "retail"):
        history(tenant, module, [(on_since, "enable")])
    ledger_sync_all(tenant=tenant)
    now = local(2026, 11, 20, 10)
    fake.clock = ts(now)
    url = services.checkout_start(
        actor=fx.users["owner"],
        tenant=tenant,
        success_url="https://alpha.example/ok",
        cancel_url="https://alpha.example/no",
        now=now,
    )
    send(client, fake, fake.complete_checkout(url.rsplit("/", 1)[1]), capture)
    return BillingAccount.objects.get(tenant=tenant).stripe_subscription_id


def renew(fake: Any, sub_id: str, client: Any, capture: Any) -> Invoice:
    cut = fake.get(sub_id)["_period_end"]
    fake.clock = cut
    events = fake.renew(sub_id, pay=True)
    send(client, fake, events, capture)
    return Invoice.objects.get(stripe_invoice_id=events[0]["data"]["object"]["id"])


def assert_matches(invoice: Invoice) -> None:
    lines = list(invoice.lines.all())
    assert lines and all(ln.amount == ln.expected_amount for ln in lines), [
        (ln.module, ln.period_start, ln.amount, ln.expected_amount) for ln in lines
    ]
    assert invoice.total == invoice.ledger_total and not invoice.ledger_mismatch


@pytest.fixture
def shanghai(alpha, fake_stripe, public_client, django_capture_on_commit_callbacks):
    """Trial over since October; on since 5 October; subscribed on 20 November, anchored for 1 December."""
    sub_id = subscribe(
        alpha,
        fake_stripe,
        public_client,
        django_capture_on_commit_callbacks,
        trial_ends=local(2026, 10, 1),
        on_since=local(2026, 10, 5, 9),
    )
    return alpha, sub_id


def test_utc_plus_8_periods_start_at_local_midnight_of_the_1st_every_month(
    shanghai, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    """The case a timestamp anchor got wrong: Dec 1 00:00 UTC+8 is Nov 30 16:00 UTC, and Stripe then
    repeated on the 30th UTC (Dec 31 local, a day early). The config repeats on each month's last day."""
    fx, sub_id = shanghai
    sub = fake_stripe.get(sub_id)
    assert sub["billing_cycle_anchor"] == ts(FIRSTS[0])
    assert sub["billing_cycle_anchor_config"]["day_of_month"] == 31
    invoices = [renew(fake_stripe, sub_id, public_client, django_capture_on_commit_callbacks) for _ in FIRSTS]
    for first, invoice in zip(FIRSTS, invoices, strict=True):
        stripe_invoice = fake_stripe.get(str(invoice.stripe_invoice_id))
        assert stripe_invoice["period_end"] == ts(first)
        advance = [li for li in stripe_invoice["_lines"] if li["period"]["start"] == ts(first)]
        assert len(advance) == 2 and all(li["amount"] == 19900 for li in advance)
        assert invoice.period_end == first.date()
        assert_matches(invoice)
    # The first anchored invoice carries November (the stub, free in Stripe) as the ledger's items.
    stub = [
        (ln.module, ln.period_start, ln.amount) for ln in invoices[0].lines.filter(period_start__month=11)
    ]
    assert sorted(stub) == [
        ("project", date(2026, 11, 1), Decimal("199.00")),
        ("retail", date(2026, 11, 1), Decimal("199.00")),
    ]
    checks = MonthCheck.objects.filter(tenant=fx.tenant).order_by("month")
    assert [c.month for c in checks] == [date(2026, 11, 1), *[f.date() for f in FIRSTS[:-1]]]
    assert not any(c.mismatch for c in checks), [(c.month, c.stripe_amount, c.ledger_amount) for c in checks]


def test_a_change_mid_december_is_prorated_exactly_by_days(
    shanghai, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    fx, sub_id = shanghai
    renew(fake_stripe, sub_id, public_client, django_capture_on_commit_callbacks)  # 1 December
    capture = django_capture_on_commit_callbacks
    toggle(fx.tenant, fake_stripe, capture, "trade", True, local(2026, 12, 15, 14))  # from 15 Dec: 17 days
    toggle(fx.tenant, fake_stripe, capture, "retail", False, local(2026, 12, 20, 9))  # credit from 21 Dec
    january = renew(fake_stripe, sub_id, public_client, capture)
    assert_matches(january)
    trade = price_for("trade", date(2026, 12, 1))[0]
    prorations = sorted(
        (ln.module, ln.period_start, ln.amount) for ln in january.lines.filter(proration=True)
    )
    assert prorations == [
        (
            "retail",
            date(2026, 12, 21),
            -line_amount(monthly_amount=Decimal("199"), days=11, days_in_month=31),
        ),
        ("trade", date(2026, 12, 15), line_amount(monthly_amount=trade, days=17, days_in_month=31)),
    ]
    assert not MonthCheck.objects.get(tenant=fx.tenant, month=date(2026, 12, 1)).mismatch


def test_trial_ending_before_the_anchor_is_charged_from_its_day_by_stub_items(
    alpha, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    sub_id = subscribe(
        alpha,
        fake_stripe,
        public_client,
        capture,
        trial_ends=local(2026, 11, 25, 15),
        on_since=local(2026, 11, 10, 9),
    )
    items = stub_items(fake_stripe)
    # 25 to 30 November: 6 of 30 days at 199 = 39.80 per module (the day the trial ends is billed).
    assert items == [(m, 3980, ts(local(2026, 11, 25)), ts(FIRSTS[0])) for m in ("project", "retail")]
    december = renew(fake_stripe, sub_id, public_client, capture)
    assert_matches(december)
    assert december.total == Decimal("477.60")
    check = MonthCheck.objects.get(tenant=alpha.tenant, month=date(2026, 11, 1))
    assert check.stripe_amount == check.ledger_amount == Decimal("79.60")
    assert_matches(renew(fake_stripe, sub_id, public_client, capture))


def test_trial_ending_after_the_anchor_is_credited_by_stub_items(
    alpha, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    sub_id = subscribe(
        alpha,
        fake_stripe,
        public_client,
        capture,
        trial_ends=local(2026, 12, 10, 12),
        on_since=local(2026, 11, 10, 9),
    )
    items = stub_items(fake_stripe)
    # Stripe charges December in full on the 1st: 1 to 9 December (9 of 31 days at 199) given back.
    assert items == [(m, -5777, ts(FIRSTS[0]), ts(local(2026, 12, 10))) for m in ("project", "retail")]
    december = renew(fake_stripe, sub_id, public_client, capture)
    assert_matches(december)
    assert december.total == Decimal("282.46")
    assert_matches(renew(fake_stripe, sub_id, public_client, capture))  # 1 January closes December
    checks = {c.month: c for c in MonthCheck.objects.filter(tenant=alpha.tenant)}
    assert checks[date(2026, 12, 1)].stripe_amount == checks[date(2026, 12, 1)].ledger_amount
    assert checks[date(2026, 12, 1)].ledger_amount == Decimal("282.46")
    assert not any(c.mismatch for c in checks.values())


def test_checkout_webhook_replayed_and_reversed_creates_the_stub_items_once(
    alpha, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    tenant = alpha.tenant
    Tenant.objects.filter(pk=tenant.pk).update(trial_ends_at=local(2026, 10, 1), time_zone="Asia/Shanghai")
    tenant.refresh_from_db()
    for module in ("project", "retail"):
        history(tenant, module, [(local(2026, 10, 5, 9), "enable")])
    ledger_sync_all(tenant=tenant)
    fake_stripe.clock = ts(local(2026, 11, 20, 10))
    url = services.checkout_start(
        actor=alpha.users["owner"],
        tenant=tenant,
        success_url="https://alpha.example/ok",
        cancel_url="https://alpha.example/no",
        now=local(2026, 11, 20, 10),
    )
    events = fake_stripe.complete_checkout(url.rsplit("/", 1)[1])
    # Reverse order first (checkout.session.completed before the subscription), then the same events
    # again under new ids (Stripe retries), twice.
    send(public_client, fake_stripe, list(reversed(events)), capture)
    replays = [dict(e, id=f"{e['id']}_r{n}") for n in (1, 2) for e in events]
    send(public_client, fake_stripe, replays, capture)

    def made() -> list[tuple[str, str, dict[str, Any]]]:
        return [r for r in fake_stripe.requests if r[0] == "POST" and r[1] == "/invoiceitems"]

    invoice_items = [o for o in fake_stripe.objects.values() if o["object"] == "invoiceitem"]
    assert len(made()) == len(invoice_items) == 2
    assert StubCharge.objects.get().items[0]["invoice_item"] in {o["id"] for o in invoice_items}
    # Even if our record were lost, the idempotency keys make Stripe return the same items.
    account = BillingAccount.objects.get(tenant=tenant)
    StubCharge.objects.all().delete()
    services.stub_items_create(
        account=account, subscription=fake_stripe.render(fake_stripe.get(account.stripe_subscription_id))
    )
    assert len(made()) == 4 and fake_stripe.idempotent_replays == 2
    assert len([o for o in fake_stripe.objects.values() if o["object"] == "invoiceitem"]) == 2
    december = renew(fake_stripe, account.stripe_subscription_id, public_client, capture)
    assert_matches(december)
    assert december.total == Decimal("796.00")  # December in advance and November, once
