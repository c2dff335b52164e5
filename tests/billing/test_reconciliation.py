"""Stripe against the ledger, per invoice line: anchored periods, whole-day proration dates, the advance
charge and the proration lines of the next invoice, the per-month check, and the operator console."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm.billing import services
from crm.billing.ledger import expected_for, ledger_sync, ledger_sync_all
from crm.billing.models import BillingAccount, Invoice, InvoiceLine, MonthCheck
from crm.tenants.models import ModuleChange, Tenant
from crm.tenants.services import module_set_enabled
from tests.billing.conftest import history
from tests.billing.test_stripe import send

SH = ZoneInfo("Asia/Shanghai")
OWNER = "owner@alpha.example.com"


def at(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


def ts(when: datetime) -> int:
    return int(when.timestamp())


def since_august(tenant: Tenant) -> None:
    """alpha's trial ended in June; project and retail have been on since 5 August 09:00."""
    Tenant.objects.filter(pk=tenant.pk).update(trial_ends_at=at(7, 1), time_zone="Asia/Shanghai")
    tenant.refresh_from_db()
    for module in ("project", "retail"):
        history(tenant, module, [(at(8, 5, 9), "enable")])
    ledger_sync_all(tenant=tenant)


def toggle(tenant: Tenant, fake: Any, capture: Any, module: str, on: bool, when: datetime) -> None:
    """The owner turns a module on or off at `when`; the ledger records it then and the item sync (the task
    queued on commit) runs at that moment too."""
    with capture(execute=False):  # the sync task is run below, at the chosen time
        module_set_enabled(tenant=tenant, module=module, enabled=on, actor_email=OWNER)
    latest = ModuleChange.objects.filter(tenant=tenant, module=module).order_by("-id").first()
    assert latest is not None
    ModuleChange.objects.filter(pk=latest.pk).update(created_at=when)
    ledger_sync(tenant=tenant, module=module)
    fake.clock = ts(when)
    services.subscription_items_sync(tenant=tenant, now=when)


@pytest.fixture
def august(alpha, fake_stripe, public_client, django_capture_on_commit_callbacks):
    """alpha subscribes on 20 August 10:00 (no trial left): anchored on 1 September (monthly on the last
    day of the month, 16:00 UTC); the first invoice (free stub) and the September invoice delivered."""
    since_august(alpha.tenant)
    fake_stripe.clock = ts(at(8, 20, 10))
    url = services.checkout_start(
        actor=alpha.users["owner"],
        tenant=alpha.tenant,
        success_url="https://alpha.example/ok",
        cancel_url="https://alpha.example/no",
        now=at(8, 20, 10),
    )
    session_id = url.rsplit("/", 1)[1]
    assert fake_stripe.get(session_id)["_anchor_config"] == {
        "day_of_month": "31",
        "hour": "16",
        "minute": "0",
        "second": "0",
    }
    send(
        public_client,
        fake_stripe,
        fake_stripe.complete_checkout(session_id),
        django_capture_on_commit_callbacks,
    )
    sub_id = BillingAccount.objects.get(tenant=alpha.tenant).stripe_subscription_id
    fake_stripe.clock = ts(at(9, 1))
    send(public_client, fake_stripe, fake_stripe.renew(sub_id, pay=True), django_capture_on_commit_callbacks)
    return alpha, sub_id


def september_changes(tenant: Tenant, fake: Any, capture: Any) -> None:
    toggle(tenant, fake, capture, "trade", True, at(9, 10, 14))  # charged from 10 Sep: 21 of 30 days
    toggle(tenant, fake, capture, "retail", False, at(9, 12, 9))  # off and on again the same day
    toggle(tenant, fake, capture, "retail", True, at(9, 12, 18))
    toggle(tenant, fake, capture, "volume", True, at(9, 20, 11))  # on for a few hours: one day
    toggle(tenant, fake, capture, "volume", False, at(9, 20, 16))
    toggle(tenant, fake, capture, "project", False, at(9, 25, 8))  # 25 Sep is still billed


def october_invoice(fx: Any, sub_id: str, fake: Any, client: Any, capture: Any) -> tuple[Invoice, list]:
    fake.clock = ts(at(10, 1))
    events = fake.renew(sub_id, pay=True)
    send(client, fake, events, capture)
    return Invoice.objects.get(stripe_invoice_id=events[0]["data"]["object"]["id"]), events


def test_first_invoice_is_free_and_the_stub_items_bill_august_on_the_september_invoice(august):
    fx, _sub_id = august
    first, september = Invoice.objects.filter(tenant=fx.tenant, manual=False).order_by("id")
    # Checkout: the stub up to the anchor is free in Stripe (proration_behavior=none).
    assert [(ln.module, ln.amount, ln.expected_amount) for ln in first.lines.order_by("module")] == [
        ("project", Decimal("0.00"), Decimal("0.00")),
        ("retail", Decimal("0.00"), Decimal("0.00")),
    ]
    assert first.total == first.ledger_total == Decimal("0.00")
    # 1 September: the month in advance, plus the ledger's August (on since 5 Aug: 27 of 31 days at 199 =
    # 173.32 per module) as pending invoice items made at checkout.
    lines = [
        (ln.module, ln.period_start, ln.period_end, ln.proration, ln.amount, ln.expected_amount)
        for ln in september.lines.order_by("period_start", "module")
    ]
    assert lines == [
        ("project", date(2026, 8, 1), date(2026, 8, 31), False, Decimal("173.32"), Decimal("173.32")),
        ("retail", date(2026, 8, 1), date(2026, 8, 31), False, Decimal("173.32"), Decimal("173.32")),
        ("project", date(2026, 9, 1), date(2026, 9, 30), False, Decimal("199.00"), Decimal("199.00")),
        ("retail", date(2026, 9, 1), date(2026, 9, 30), False, Decimal("199.00"), Decimal("199.00")),
    ]
    assert september.total == september.ledger_total == Decimal("744.64")
    # August is checked like any month: Stripe billed all of it.
    check = MonthCheck.objects.get(tenant=fx.tenant, month=date(2026, 8, 1))
    assert check.stripe_amount == check.ledger_amount == Decimal("346.64") and not check.mismatch


def test_modules_toggled_through_the_month_next_invoice_matches_to_the_cent(
    august, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    fx, sub_id = august
    september_changes(fx.tenant, fake_stripe, django_capture_on_commit_callbacks)
    # Proration dates are day boundaries: on -> 00:00 that day; off -> 00:00 the next day.
    adds = [p for m, path, p in fake_stripe.requests if m == "POST" and path == "/subscription_items"]
    removes = [p for m, path, p in fake_stripe.requests if m == "DELETE"]
    assert [int(p["proration_date"]) for p in adds] == [ts(at(9, 10)), ts(at(9, 13)), ts(at(9, 20))]
    assert [int(p["proration_date"]) for p in removes] == [ts(at(9, 13)), ts(at(9, 21)), ts(at(9, 26))]

    invoice, _events = october_invoice(
        fx, sub_id, fake_stripe, public_client, django_capture_on_commit_callbacks
    )
    got = sorted(
        (ln.module, ln.period_start and ln.period_start.day, ln.proration, ln.amount, ln.expected_amount)
        for ln in invoice.lines.all()
    )
    assert got == [
        ("project", 26, True, Decimal("-33.17"), Decimal("-33.17")),  # 5 of 30 days credited
        ("retail", 1, False, Decimal("199.00"), Decimal("199.00")),  # October in advance
        ("retail", 13, True, Decimal("-119.40"), Decimal("-119.40")),  # off and on again: nets to 0
        ("retail", 13, True, Decimal("119.40"), Decimal("119.40")),
        ("trade", 1, False, Decimal("249.00"), Decimal("249.00")),
        ("trade", 10, True, Decimal("174.30"), Decimal("174.30")),  # 249 x 21/30
        ("volume", 20, True, Decimal("72.97"), Decimal("72.97")),  # 199 x 11/30
        ("volume", 21, True, Decimal("-66.33"), Decimal("-66.33")),  # 199 x 10/30 back
    ]
    assert invoice.total == invoice.ledger_total == Decimal("595.77")
    assert not invoice.ledger_mismatch
    # September closed: every Stripe line for it against the ledger's September (whole days, rounded per
    # module-month), within the rounding of the lines.
    check = MonthCheck.objects.get(tenant=fx.tenant, month=date(2026, 9, 1))
    assert check.stripe_amount == Decimal("545.77") and check.ledger_amount == Decimal("545.76")
    assert not check.mismatch
    assert not MonthCheck.objects.get(tenant=fx.tenant, month=date(2026, 8, 1)).mismatch


@pytest.mark.parametrize("fault", ["wrong_price", "drop_credit"])
def test_stripe_billing_wrongly_is_flagged(
    august, fake_stripe, public_client, django_capture_on_commit_callbacks, operator, fault
):
    fx, sub_id = august
    fake_stripe.faults = {fault}
    september_changes(fx.tenant, fake_stripe, django_capture_on_commit_callbacks)
    invoice, _events = october_invoice(
        fx, sub_id, fake_stripe, public_client, django_capture_on_commit_callbacks
    )
    assert invoice.ledger_total == Decimal("595.77") and invoice.total != invoice.ledger_total
    assert invoice.ledger_mismatch
    assert any(ln.off_by for ln in invoice.lines.all())
    assert MonthCheck.objects.get(tenant=fx.tenant, month=date(2026, 9, 1)).mismatch

    from crm.billing import selectors

    overview = selectors.console_overview(user=operator)
    assert [inv.pk for inv in overview["mismatches"]] == [invoice.pk]
    assert [(row.tenant_id, row.month) for row in overview["month_mismatches"]] == [
        (fx.tenant.pk, date(2026, 9, 1))
    ]


def test_webhook_replays_twice_and_reversed_converge_on_the_same_lines(
    august, fake_stripe, public_client, django_capture_on_commit_callbacks
):
    fx, sub_id = august
    september_changes(fx.tenant, fake_stripe, django_capture_on_commit_callbacks)
    fake_stripe.inline_lines = 3  # more lines than the invoice carries inline: the rest are paged
    invoice, events = october_invoice(
        fx, sub_id, fake_stripe, public_client, django_capture_on_commit_callbacks
    )
    assert any(
        p == f"/invoices/{invoice.stripe_invoice_id}/lines"
        for m, p, _params in fake_stripe.requests
        if m == "GET"
    )

    def snapshot() -> tuple[Any, ...]:
        invoice.refresh_from_db()
        lines = sorted(invoice.lines.values_list("stripe_line_id", "amount", "expected_amount"))
        return invoice.total, invoice.ledger_total, lines, InvoiceLine.objects.count()

    before = snapshot()
    assert len(before[2]) == 8
    # The same events again under new ids (Stripe retries), twice, in reverse order.
    replays = [dict(e, id=f"{e['id']}_r{n}") for n in (1, 2) for e in reversed(events)]
    send(public_client, fake_stripe, replays, django_capture_on_commit_callbacks)
    assert snapshot() == before
    assert MonthCheck.objects.filter(tenant=fx.tenant).count() == 2  # August and September


def test_expected_for_hand_computed_lines(alpha):
    tenant = alpha.tenant
    Tenant.objects.filter(pk=tenant.pk).update(trial_ends_at=None, time_zone="Asia/Shanghai")
    tenant.refresh_from_db()
    # ¥199 a month, on from 10 September 14:00 (a 30-day month): 21 days -> 139.30
    history(tenant, "project", [(at(9, 10, 14), "enable")])
    # ¥199, on 3 Feb 2027 23:59 until 4 Feb 00:01: two days of 28 -> 14.21; February alone
    history(
        tenant,
        "retail",
        [
            (datetime(2027, 2, 3, 23, 59, tzinfo=SH), "enable"),
            (datetime(2027, 2, 4, 0, 1, tzinfo=SH), "disable"),
        ],
    )
    # ¥249 comped for the middle of October: billed 1-10 and 21-31 (the 10th and 21st touch billable time):
    # 21 days of 31
    history(
        tenant,
        "trade",
        [(at(10, 1), "enable"), (at(10, 10, 12), "comp_on"), (at(10, 21, 6), "comp_off")],
    )
    ledger_sync_all(tenant=tenant)
    assert expected_for(tenant, "project", at(9, 1), at(10, 1)) == Decimal("139.30")
    assert expected_for(tenant, "project", at(9, 10), at(10, 1)) == Decimal("139.30")
    assert expected_for(tenant, "project", at(9, 20), at(10, 1)) == Decimal("72.97")  # 11 days
    feb = (datetime(2027, 2, 1, tzinfo=SH), datetime(2027, 3, 1, tzinfo=SH))
    assert expected_for(tenant, "retail", *feb) == Decimal("14.21")
    assert expected_for(tenant, "trade", at(10, 1), at(11, 1)) == Decimal("168.68")
    # As known when October's advance was made (1 Oct): the whole month
    assert expected_for(tenant, "trade", at(10, 1), at(11, 1), as_of=at(10, 1)) == Decimal("249.00")


def test_console_shows_expected_against_stripe_with_constant_queries(
    august, fake_stripe, public_client, django_capture_on_commit_callbacks, operator
):
    from tests.billing.test_closing import LOGIN

    fx, sub_id = august
    fake_stripe.faults = {"drop_credit"}
    september_changes(fx.tenant, fake_stripe, django_capture_on_commit_callbacks)
    invoice, _events = october_invoice(
        fx, sub_id, fake_stripe, public_client, django_capture_on_commit_callbacks
    )
    public_client.force_login(operator, backend=LOGIN)

    def count(path: str) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as ctx:
            response = public_client.get(path)
        assert response.status_code == 200
        return len(ctx.captured_queries), response.content.decode()

    public_client.get("/console/billing/")  # warm caches
    small, page = count("/console/billing/")
    assert page.count('data-testid="mismatch"') == 1 and 'data-testid="month-mismatch"' in page
    assert f"{invoice.total}" in page and f"{invoice.ledger_total}" in page
    assert 'data-testid="mismatch-line"' in page
    tenant_page = count(f"/console/billing/tenants/{fx.tenant.pk}/")[1]
    assert tenant_page.count('data-testid="invoice-flag"') == 1 and 'data-testid="month-check"' in tenant_page

    # Two more flagged invoices with more lines: the same number of queries.
    for n in (1, 2):
        copy = Invoice.objects.create(
            tenant=fx.tenant,
            number=f"COPY-{n}",
            stripe_invoice_id=f"in_copy_{n}",
            period_start=invoice.period_start,
            period_end=invoice.period_end,
            total=invoice.total,
            ledger_total=invoice.ledger_total,
        )
        for ln in invoice.lines.all():
            ln.pk = None
            ln.invoice = copy
            ln.save()
    queries, page = count("/console/billing/")
    assert queries == small and page.count('data-testid="mismatch"') == 3
