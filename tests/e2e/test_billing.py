"""Dunning as the owner and the operator see it: an overdue invoice puts a banner on the workspace, the end of
the grace period makes it read-only (writes refused with a clear page, reads and the billing page still
work, the invoice PDF downloads), and the operator marking the invoice paid restores full use at once."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, LiveServer, screenshot, status_of

pytestmark = pytest.mark.e2e


def _overdue_invoice(server: LiveServer, slug: str, *, days_overdue: int) -> str:
    """An open manual invoice of the workspace, due `days_overdue` days ago (made directly: the monthly task
    would need a month to pass), then the daily standing refresh. Returns the invoice number."""
    number = f"E2E-{slug}"
    return server.manage(
        "shell",
        "-c",
        "from datetime import timedelta\n"
        "from decimal import Decimal\n"
        "from django.utils import timezone\n"
        "from crm.billing.models import Invoice\n"
        "from crm.billing.services import standing_refresh\n"
        "from crm.tenants.models import Tenant\n"
        f"t = Tenant.objects.get(slug='{slug}')\n"
        "today = timezone.localdate()\n"
        f"inv, _ = Invoice.objects.update_or_create(number='{number}', defaults=dict(tenant=t, manual=True, "
        "status='open', period_start=today.replace(day=1), period_end=today, total=Decimal('199.00'), "
        f"currency='CNY', due_at=timezone.now() - timedelta(days={days_overdue})))\n"
        "print(standing_refresh(tenant=t), inv.number)\n",
    ).split()[-1]


def _login(page: Any, url: str, email: str, password: str) -> None:
    page.goto(url)
    page.locator("input[name=username]").fill(email)
    page.locator("input[name=password]").fill(password)
    page.locator("form:has(input[name=password]) button[type=submit]").click()
    page.wait_for_load_state()


def test_overdue_read_only_then_paid(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"dunning{viewport[0]}"
    email = e2e_server.create_tenant(slug, ["retail"])
    operator = f"ops-{slug}@platform.example.com"
    e2e_server.manage("create_operator", "--email", operator, "--name", "Ops", "--password", PASSWORD)

    # Given an invoice one day overdue: full use, and a banner for the owner
    number = _overdue_invoice(e2e_server, slug, days_overdue=1)
    _login(page, e2e_server.tenant_url(slug, "/auth/login/"), email, PASSWORD)
    page.goto(e2e_server.tenant_url(slug, "/customers/"))
    banner = page.locator("[data-testid=billing-banner]")
    assert "overdue" in banner.inner_text()
    assert status_of(page, e2e_server.tenant_url(slug, "/customers/new/")) == 200
    screenshot(page, "billing-past-due", viewport)

    # When the grace period is over: read-only
    _overdue_invoice(e2e_server, slug, days_overdue=60)
    page.goto(e2e_server.tenant_url(slug, "/customers/new/"))
    page.locator("input[name=name]").fill("只读测试客户")
    page.locator("[data-testid=save-customer]").click()
    # Then a write answers the read-only page, and nothing was saved
    page.get_by_role("heading", name="Read-only workspace").wait_for()
    screenshot(page, "billing-read-only", viewport)
    page.goto(e2e_server.tenant_url(slug, "/customers/?q=只读测试客户"))
    assert "read-only" in page.locator("[data-testid=billing-banner]").inner_text()
    assert page.get_by_text("只读测试客户").count() == 0
    # Reads and the billing page still work
    page.goto(e2e_server.tenant_url(slug, "/billing/"))
    row = page.locator("[data-testid=billing-invoices] tr", has_text=number)
    # The invoice's PDF downloads (fetched by the page itself: same origin, same session)
    href = row.locator("[data-testid=invoice-pdf]").get_attribute("href")
    pdf = page.evaluate(
        "async (url) => { const r = await fetch(url); const b = new Uint8Array(await r.arrayBuffer());"
        " return [r.status, r.headers.get('content-type'), String.fromCharCode(...b.slice(0, 5))]; }",
        href,
    )
    assert pdf == [200, "application/pdf", "%PDF-"]

    # When the operator marks the invoice paid in the console (another browser context: another host)
    console = page.context.browser.new_context(viewport=page.viewport_size, locale="en-US")
    console.add_cookies([{"name": "django_language", "value": "en", "domain": "localhost", "path": "/"}])
    ops = console.new_page()
    try:
        _login(ops, f"{e2e_server.public_url}/console/login/", operator, PASSWORD)
        ops.goto(f"{e2e_server.public_url}/console/billing/")
        ops.locator(f"tr:has-text('{number}') button", has_text="Mark paid").click()
        ops.wait_for_load_state()
        assert ops.locator(f"tr:has-text('{number}') button", has_text="Mark paid").count() == 0
        screenshot(ops, "billing-console-paid", viewport)
    finally:
        console.close()

    # Then the workspace is fully usable again at once: no banner, writes work
    page.goto(e2e_server.tenant_url(slug, "/customers/new/"))
    assert page.locator("[data-testid=billing-banner]").count() == 0
    page.locator("input[name=name]").fill("恢复后客户")
    page.locator("[data-testid=save-customer]").click()
    page.wait_for_load_state()
    page.goto(e2e_server.tenant_url(slug, "/customers/"))
    page.get_by_text("恢复后客户").first.wait_for()
