"""Manual (offline) invoices as PDF: drawn on request for the workspace's billing roles and for operators,
in the workspace's language, never another workspace's."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone, translation
from pypdf import PdfReader

from crm.billing import services
from crm.billing.ledger import ledger_sync_all
from crm.billing.models import Invoice, InvoiceStatus, TenantDiscount
from crm.billing.pdf import invoice_pdf, money
from crm.tenants.models import TenantStatus
from tests.billing.conftest import history

SH = ZoneInfo("Asia/Shanghai")
LOGIN = "crm.tenants.accounts.backends.EmailBackend"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)


@pytest.fixture
def invoiced(alpha: Any, offline: None) -> Any:
    """alpha billed for project all of October 2026 with a 10% discount: one open manual invoice."""
    tenant = alpha.tenant
    tenant.trial_ends_at = datetime(2026, 1, 1, tzinfo=SH)
    tenant.status = TenantStatus.ACTIVE
    tenant.save()
    history(tenant, "project", [(datetime(2026, 9, 1, tzinfo=SH), "enable")])
    history(tenant, "retail", [])
    ledger_sync_all(tenant=tenant)
    TenantDiscount.objects.create(
        tenant=tenant, percent=Decimal("10"), reason="launch", valid_from=date(2026, 10, 1)
    )
    with translation.override("en"):  # the monthly task's language: the PDF must not depend on it
        invoice = services.invoice_generate(tenant=tenant, period_start=date(2026, 10, 1))
    assert invoice is not None
    alpha.invoice = invoice
    return alpha


def test_owner_downloads_the_pdf_in_the_workspace_language(invoiced):
    """Given a manual invoice, when the owner follows the link on the billing page, then a PDF named after
    the invoice number arrives with the number, customer, period, lines, discount and total, in Chinese
    (the workspace's language) even though the invoice was made while English was active."""
    invoice = invoiced.invoice
    owner = invoiced.client("owner")
    page = owner.get("/billing/").content.decode()
    url = f"/billing/invoices/{invoice.pk}/pdf/"
    assert f'href="{url}"' in page

    response = owner.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{invoice.number}.pdf"'
    assert "no-store" in response["Cache-Control"]
    assert response.content.startswith(b"%PDF")
    text = pdf_text(response.content)
    assert invoice.number in text
    assert invoiced.tenant.name in text  # "Alpha 有限公司": the CID font carries the Chinese
    assert "2026-10-01" in text and "2026-10-31" in text
    with translation.override("zh-hans"):
        project = _project_name()
    assert project in text
    assert money(invoice.total, "CNY") in text and "￥" in text
    assert money(-invoice.lines.get(module=services.DISCOUNT_LINE).amount, "CNY") in text


def _project_name() -> str:
    from crm.platform.registry import registry

    return str(registry.get("project").name)


def test_pdf_is_deterministic_and_follows_the_language(invoiced):
    invoice = invoiced.invoice
    assert invoice_pdf(invoice) == invoice_pdf(Invoice.objects.get(pk=invoice.pk))
    tenant = invoice.tenant
    tenant.default_language = "en"
    tenant.save()
    text = pdf_text(invoice_pdf(Invoice.objects.get(pk=invoice.pk)))
    with translation.override("en"):
        assert _project_name() in text
    assert "Invoice" in text and "Discount 10%" in text and "tax included" in text


def test_paid_invoice_says_when(invoiced, operator):
    invoice = invoiced.invoice
    paid_at = datetime(2026, 11, 5, 10, tzinfo=SH)
    services.invoice_mark_paid(actor=operator, invoice=invoice, now=paid_at)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    invoice.tenant.default_language = "en"
    text = pdf_text(invoice_pdf(invoice))
    assert "Paid on 2026-11-05" in text


def test_uncompressed_output_carries_the_number(invoiced):
    """Without pypdf one could still read the drawing commands: the number is there in plain bytes."""
    invoice = invoiced.invoice
    raw = invoice_pdf(invoice, compress=False)
    # STSong-Light is a two-byte CID font: each ASCII character is drawn as a NUL byte (written \000 in
    # the PDF string) followed by the character.
    assert raw.startswith(b"%PDF")
    assert "".join(f"\\000{ch}" for ch in invoice.number).encode() in raw


@pytest.mark.parametrize(
    ("role", "status"),
    [("owner", 200), ("admin", 200), ("finance", 200), ("sales", 403), ("clerk", 403), ("manager", 403)],
)
def test_only_billing_roles_get_the_pdf(invoiced, role, status):
    response = invoiced.client(role).get(f"/billing/invoices/{invoiced.invoice.pk}/pdf/")
    assert response.status_code == status


def test_other_workspaces_and_stripe_invoices_answer_404(invoiced, beta):
    """Given beta's own manual invoice and alpha's Stripe invoice, alpha's owner on alpha's host gets 404
    for both (and for an id that does not exist), so ids reveal nothing."""
    betas = Invoice.objects.create(
        tenant=beta.tenant,
        number="M202610-BETA",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        total=Decimal("10"),
        manual=True,
        status=InvoiceStatus.OPEN,
    )
    stripe_invoice = Invoice.objects.create(
        tenant=invoiced.tenant,
        number="STRIPE-1",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        manual=False,
        stripe_invoice_id="in_test_pdf",
        pdf_url="https://pay.example.com/in_test_pdf.pdf",
    )
    owner = invoiced.client("owner")
    for pk in (betas.pk, stripe_invoice.pk, 999_999_999):
        assert owner.get(f"/billing/invoices/{pk}/pdf/").status_code == 404
    assert beta.client("owner").get(f"/billing/invoices/{betas.pk}/pdf/").status_code == 200
    # The Stripe invoice keeps Stripe's PDF link on the page.
    assert stripe_invoice.pdf_url in owner.get("/billing/").content.decode()


def test_api_lists_the_pdf_link(invoiced):
    rows = invoiced.client("owner").get("/api/v1/billing/invoices/").json()["results"]
    row = next(r for r in rows if r["id"] == invoiced.invoice.pk)
    assert row["pdf"] == f"http://{invoiced.host}/billing/invoices/{invoiced.invoice.pk}/pdf/"


def test_operator_downloads_from_the_console(invoiced, operator, public_client):
    invoice = invoiced.invoice
    url = f"/console/billing/invoices/{invoice.pk}/pdf/"
    assert public_client.get(url).status_code == 302  # to the console login
    public_client.force_login(operator, backend=LOGIN)
    page = public_client.get(f"/console/billing/tenants/{invoice.tenant_id}/")
    assert page.status_code == 200, page.get("Location")
    assert f'href="{url}"' in page.content.decode()
    response = public_client.get(url)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert invoice.number in pdf_text(response.content)
    assert public_client.get("/console/billing/invoices/999999999/pdf/").status_code == 404
    # Not a route on a tenant host.
    assert invoiced.client("owner").get(url).status_code == 404


def test_an_invoice_made_today_has_todays_issue_date(invoiced):
    invoice = invoiced.invoice
    assert timezone.localdate().isoformat() in pdf_text(invoice_pdf(invoice))
