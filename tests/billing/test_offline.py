"""Offline mode (no Stripe key): ledger invoices by a beat task, operators mark them paid, dunning."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.billing import services, tasks
from crm.billing.ledger import ledger_sync_all, price_for
from crm.billing.models import AccountStatus, Invoice, InvoiceStatus
from crm.platform.errors import PermissionDenied, ServiceError
from crm.tenants.models import TenantStatus
from tests.billing.conftest import history

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def october(alpha, offline):
    """alpha: trial over long ago; project on since 15 Sep, retail 1 Sep .. 11 Oct 00:00 (10 Oct days)."""
    tenant = alpha.tenant
    tenant.trial_ends_at = datetime(2026, 1, 1, tzinfo=SH)
    tenant.status = TenantStatus.ACTIVE
    tenant.save()
    history(tenant, "project", [(datetime(2026, 9, 15, 12, tzinfo=SH), "enable")])
    history(
        tenant,
        "retail",
        [(datetime(2026, 9, 1, tzinfo=SH), "enable"), (datetime(2026, 10, 11, tzinfo=SH), "disable")],
    )
    ledger_sync_all(tenant=tenant)
    return alpha


def october_invoice(tenant: Any) -> Invoice:
    invoice = services.invoice_generate(tenant=tenant, period_start=date(2026, 10, 1))
    assert invoice is not None
    return invoice


def test_monthly_invoice_from_the_ledger_is_made_once(october):
    """Given October's module history, when the monthly task runs twice, one manual invoice exists whose
    lines are module-days x daily rate."""
    made_first = services.invoices_generate_monthly(today=date(2026, 11, 2))
    made_again = services.invoices_generate_monthly(today=date(2026, 11, 3))
    invoices = Invoice.objects.filter(tenant=october.tenant, period_start=date(2026, 10, 1))
    assert made_first >= 1 and made_again == 0 and invoices.count() == 1
    invoice = invoices.get()
    assert (
        invoice.manual and invoice.status == InvoiceStatus.OPEN and invoice.period_end == date(2026, 10, 31)
    )
    lines = {ln.module: ln for ln in invoice.lines.all()}
    project_price = price_for("project", date(2026, 10, 1))[0]
    assert lines["project"].days == 31 and lines["project"].amount == project_price
    assert lines["retail"].days == 10
    assert lines["retail"].amount == (Decimal("199") * 10 / 31).quantize(Decimal("0.01"))  # 64.19
    assert invoice.total == lines["project"].amount + lines["retail"].amount
    assert invoice.due_at == datetime(2026, 11, 8, tzinfo=SH)


def test_beat_task_is_idempotent(october):
    """The Celery task (today's date) can run twice: still one invoice per tenant and period."""
    tasks.generate_monthly_invoices.delay()
    tasks.generate_monthly_invoices.delay()
    counts = Invoice.objects.filter(manual=True).values_list("tenant_id", "period_start")
    assert len(counts) == len(set(counts))


def test_trial_days_are_free(alpha, offline):
    tenant = alpha.tenant
    tenant.trial_ends_at = datetime(2026, 10, 21, 8, tzinfo=SH)
    tenant.save()
    history(tenant, "project", [(datetime(2026, 9, 15, tzinfo=SH), "enable")])
    history(tenant, "retail", [])
    ledger_sync_all(tenant=tenant)
    invoice = services.invoice_generate(tenant=tenant, period_start=date(2026, 10, 1))
    assert invoice is not None
    assert [ln.days for ln in invoice.lines.all()] == [11]  # 21..31 October


def test_only_operators_mark_paid(october, operator):
    invoice = october_invoice(october.tenant)
    with pytest.raises(PermissionDenied):
        services.invoice_mark_paid(actor=october.users["owner"], invoice=invoice)
    services.invoice_mark_paid(actor=operator, invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.marked_paid_by == operator.email
    with pytest.raises(ServiceError):
        services.invoice_mark_paid(actor=operator, invoice=invoice)


def test_dunning_past_due_then_read_only_then_restored_on_payment(october, operator, settings):
    """Unpaid past due -> past_due (full use, banner); after the grace -> read-only; paid -> restored."""
    settings.BILLING_GRACE_DAYS = 7
    tenant = october.tenant
    invoice = october_invoice(tenant)
    due = invoice.due_at
    assert due is not None

    assert services.standing_refresh(tenant=tenant, now=due - timedelta(hours=1)) == TenantStatus.ACTIVE
    assert services.standing_refresh(tenant=tenant, now=due + timedelta(hours=1)) == TenantStatus.PAST_DUE
    account = services.account_get(tenant=tenant)
    assert account.status == AccountStatus.PAST_DUE and account.grace_ends_at == due + timedelta(days=7)
    owner = october.client("owner", language="en")
    page = owner.get("/billing/")
    assert page.status_code == 200 and "read-only on" in page.content.decode()
    assert 'data-testid="billing-banner"' in owner.get("/").content.decode()  # banner to owner and admins
    assert 'data-testid="billing-banner"' not in october.client("sales").get("/").content.decode()
    assert owner.post("/settings/modules/", {"module": "trade", "action": "enable"}).status_code == 302

    assert (
        services.standing_refresh(tenant=tenant, now=due + timedelta(days=7, hours=1))
        == TenantStatus.SUSPENDED
    )
    tenant.refresh_from_db()
    assert tenant.suspended_by_billing
    refused = owner.post("/settings/modules/", {"module": "volume", "action": "enable"})
    assert refused.status_code == 423 and "read-only" in refused.content.decode()
    assert owner.get("/").status_code == 200
    assert owner.get("/billing/").status_code == 200

    services.invoice_mark_paid(actor=operator, invoice=invoice, now=due + timedelta(days=8))
    tenant.refresh_from_db()
    assert tenant.status == TenantStatus.ACTIVE and not tenant.suspended_by_billing
    assert owner.post("/settings/modules/", {"module": "volume", "action": "enable"}).status_code == 302


def test_dunning_run_ends_trials_and_checks_everyone(october):
    october.tenant.status = TenantStatus.TRIAL
    october.tenant.save()
    assert services.dunning_run() >= 2
    october.tenant.refresh_from_db()
    assert october.tenant.status == TenantStatus.ACTIVE


def test_price_set_only_for_future_periods(operator, alpha):
    today = date(2026, 11, 23)
    with pytest.raises(ServiceError) as err:
        services.price_set(
            actor=operator,
            module="retail",
            monthly_amount=Decimal("10"),
            valid_from=date(2026, 11, 1),
            today=today,
        )
    assert "valid_from" in err.value.fields
    with pytest.raises(PermissionDenied):
        services.price_set(
            actor=alpha.users["owner"],
            module="retail",
            monthly_amount=Decimal("10"),
            valid_from=date(2026, 12, 1),
            today=today,
        )
    services.price_set(
        actor=operator,
        module="retail",
        monthly_amount=Decimal("219.00"),
        valid_from=date(2026, 12, 1),
        today=today,
    )
    assert price_for("retail", date(2026, 12, 1))[0] == Decimal("219.00")
    assert price_for("retail", date(2026, 11, 1))[0] != Decimal("219.00")


def test_billing_page_roles_and_cross_tenant(alpha, beta, offline):
    assert alpha.client("owner").get("/billing/").status_code == 200
    assert alpha.client("finance").get("/billing/").status_code == 200
    assert alpha.client("sales").get("/billing/").status_code == 403
    # beta's owner session means nothing on alpha's host
    cookie = beta.client("owner").cookies
    stranger = Client(HTTP_HOST=alpha.host)
    stranger.cookies = cookie
    assert stranger.get("/billing/").status_code == 302
    assert stranger.get("/api/v1/billing/invoices/").status_code in (401, 403)


@pytest.mark.parametrize("path", ["/api/v1/billing/invoices/", "/billing/"])
def test_invoice_list_constant_queries(october, path):
    """The invoice list (API and owner page) costs the same number of queries for 1 or 8 invoices."""
    owner = october.client("owner")

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = owner.get(path)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    services.invoice_generate(tenant=october.tenant, period_start=date(2026, 10, 1))
    count()  # warm caches (module set, session)
    small = count()
    for month in (3, 4, 5, 6, 7, 8, 9):
        history(october.tenant, "project", [(datetime(2026, 1, 1, tzinfo=SH), "enable")])
        ledger_sync_all(tenant=october.tenant)
        services.invoice_generate(tenant=october.tenant, period_start=date(2026, month, 1))
    assert len(owner.get("/api/v1/billing/invoices/").json()["results"]) == 8
    assert count() == small
    if path == "/billing/":
        assert owner.get(path).content.decode().count("M2026") == 8


def test_operator_console_and_mark_paid(october, operator, public_client):
    invoice = october_invoice(october.tenant)
    assert public_client.get("/console/billing/").status_code == 302  # to the console login
    public_client.force_login(operator, backend="crm.tenants.accounts.backends.EmailBackend")
    page = public_client.get("/console/billing/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200 and invoice.number in html
    # Within the console's own layout (its menu), tenants counted by status under their labels; the
    # platform's own row is not a customer and is not counted.
    assert 'href="/console/"' in html and 'href="/console/billing/"' in html
    assert 'data-testid="status-platform"' not in html
    assert 'data-testid="status-trial"' in html and "Trial" in html
    assert public_client.post(f"/console/billing/invoices/{invoice.pk}/mark-paid/").status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID


def test_trial_reminders_at_seven_and_one_day_each_once(
    alpha, beta, mailoutbox, django_capture_on_commit_callbacks
):
    end = alpha.tenant.trial_ends_at
    assert end is not None
    beta.tenant.trial_ends_at = end + timedelta(days=30)  # out of the window: only alpha is reminded
    beta.tenant.save()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.trial_reminders_send(now=end - timedelta(days=8)) == 0
        assert services.trial_reminders_send(now=end - timedelta(days=6, hours=23)) == 1
        assert services.trial_reminders_send(now=end - timedelta(days=5)) == 0
        assert services.trial_reminders_send(now=end - timedelta(hours=20)) == 1
        assert services.trial_reminders_send(now=end - timedelta(hours=2)) == 0
    assert [m.to for m in mailoutbox] == [[alpha.tenant.owner_email]] * 2
    assert "/billing/" in mailoutbox[0].body and "7" in mailoutbox[0].subject


def test_operator_price_list_page(operator, alpha, public_client):
    from crm.billing.ledger import next_month
    from crm.billing.models import Price

    public_client.force_login(operator, backend="crm.tenants.accounts.backends.EmailBackend")
    start = next_month(timezone.localdate().replace(day=1))
    response = public_client.post(
        "/console/billing/prices/",
        {"module": "trade", "monthly_amount": "188.00", "currency": "CNY", "valid_from": start.isoformat()},
    )
    assert response.status_code == 302
    assert Price.objects.get(module="trade", valid_from=start).monthly_amount == Decimal("188.00")
    public_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    past = public_client.post(
        "/console/billing/prices/",
        {"module": "trade", "monthly_amount": "1.00", "currency": "CNY", "valid_from": "2020-01-01"},
    )
    assert past.status_code == 200 and "future month" in past.content.decode()
    assert not Price.objects.filter(module="trade", valid_from=date(2020, 1, 1)).exists()
