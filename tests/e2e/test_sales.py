"""Quote to cash in a browser, with the three people it takes: a rep takes an opportunity from a first visit
to an accepted quote and a contract; the sales manager approves the contract on a phone; finance records two
receipts; the rep sees the contract paid, the opportunity won and the dashboard target move.

The workspace is set up through the services, as an owner would on the settings pages: a team with its
manager and rep, a finance user, the usual approval rules (amount over 100,000 needs the manager), a product
of 120,000 RMB, a customer of the rep, a target of 200,000 this month measured by receipts.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from tests.e2e.conftest import DESKTOP, PASSWORD, PHONE, LiveServer, login, screenshot

pytestmark = pytest.mark.e2e

SETUP = """
import json
from decimal import Decimal
from django_tenants.utils import schema_context
from crm.kernel.approval_rules import rules_preset
from crm.kernel.tenant_time import tenant_today
from crm.modules.core.models import Customer, Product
from crm.modules.sales import services_money
from crm.tenants.accounts.models import User
from crm.tenants.accounts.services import team_save
from crm.tenants.models import Tenant
t = Tenant.objects.get(slug={slug!r})
with schema_context(t.schema_name):
    owner = User.objects.get(email={owner!r})
    manager = User.objects.create_user({manager!r}, {pw!r}, name="李经理", role="manager")
    rep = User.objects.create_user({rep!r}, {pw!r}, name="张销售", role="sales")
    User.objects.create_user({finance!r}, {pw!r}, name="王财务", role="finance")
    team = team_save(actor=owner, name="华东销售组", manager=manager)
    User.objects.filter(pk=rep.pk).update(team=team)
    rules_preset(actor=owner, doc_type="sales.contract")
    Product.objects.create(name="ERP 实施服务", unit="项", price=Decimal("120000"), vat_rate=Decimal("0.06"),
                           cost=Decimal("60000"))
    customer = Customer.objects.create(name="上海启明科技有限公司", owner=rep)
    services_money.settings_update(actor=owner, target_basis="receipts")
    services_money.target_set(actor=owner, month=tenant_today(), amount="200000", user=rep)
    print(json.dumps({{"customer": customer.pk}}))
"""

STATE = """
import json
from django_tenants.utils import schema_context
from crm.modules.sales.models import Contract, Installment, Opportunity, Receipt
from crm.tenants.models import Tenant
with schema_context(Tenant.objects.get(slug={slug!r}).schema_name):
    c = Contract.objects.get()
    print(json.dumps({{
        "state": c.state, "payment": c.payment_status, "paid": str(c.paid_amount), "total": str(c.total_incl),
        "installments_open": sum(str(i.amount - i.paid_amount) != "0.00" for i in Installment.objects.all()),
        "receipts": Receipt.objects.count(), "opportunity": Opportunity.objects.get().status,
    }}))
"""


def _people(server: LiveServer, slug: str) -> dict[str, Any]:
    owner = server.create_tenant(slug, ["service"])
    people = {role: f"{role}@{slug}.e2e.example.com" for role in ("manager", "rep", "finance")}
    out = server.manage("shell", "-c", SETUP.format(slug=slug, owner=owner, pw=PASSWORD, **people))
    return {**people, "owner": owner, **json.loads(out.strip().splitlines()[-1])}


def _context(browser: Any, size: dict[str, int]) -> Any:
    phone = size == PHONE
    context = browser.new_context(
        viewport=size, locale="en-US", is_mobile=phone, has_touch=phone, device_scale_factor=1
    )
    context.add_cookies([{"name": "django_language", "value": "en", "domain": "localhost", "path": "/"}])
    context.set_default_timeout(15_000)
    return context


def _state(server: LiveServer, slug: str) -> dict[str, Any]:
    return dict(json.loads(server.manage("shell", "-c", STATE.format(slug=slug)).strip().splitlines()[-1]))


def _amount(text: str) -> Decimal:
    """'¥120,000.00' (or '120,000.00') -> Decimal('120000.00')."""
    match = re.search(r"-?[\d,]+(?:\.\d+)?", text)
    assert match, text
    return Decimal(match.group(0).replace(",", ""))


def _receipt(
    page: Any,
    server: LiveServer,
    slug: str,
    customer: int,
    amount: str,
    reference: str,
    *,
    double: bool = False,
) -> None:
    """Finance records a bank receipt from the customer picker on; `double` double-clicks "record"."""
    page.goto(server.tenant_url(slug, "/sales/receivables/receipts/new/"))
    page.locator("#rv-customer").select_option(str(customer))
    page.locator("form:has(#rv-customer) button").click()
    form = page.locator("[data-testid=receipt-form]")
    form.locator("input[name=amount]").fill(amount)
    form.locator("select[name=method]").select_option("bank")
    form.locator("input[name=bank_reference]").fill(reference)
    save = form.locator("[data-testid=receipt-save]")
    if double:
        save.dblclick()
    else:
        save.click()
    page.wait_for_url(re.compile(r".*/sales/receivables/receipts/\d+/$"))


def test_quote_to_cash_rep_manager_on_a_phone_and_finance(
    e2e_server: LiveServer, browser: Any, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"sales{viewport[0]}"
    people = _people(e2e_server, slug)
    url = e2e_server.tenant_url

    # The rep opens the customer and starts an opportunity from its panel
    login(page, e2e_server, slug, people["rep"])
    page.goto(url(slug, f"/customers/{people['customer']}/"))
    page.locator("[data-testid=opp-panel-new]").click()
    form = page.locator("[data-testid=opp-form]")
    form.locator("input[name=name]").fill("启明 ERP 实施项目")
    form.locator("select[name=product]").select_option(label="ERP 实施服务")
    form.locator("input[name=quantity]").fill("1")
    form.locator("input[name=source]").fill("老客户介绍")
    form.locator("button").first.click()
    page.wait_for_url(re.compile(r".*/sales/opportunities/\d+/$"))
    assert page.locator("[data-testid=opp-name]").inner_text() == "启明 ERP 实施项目"

    # ... logs the first visit on it
    activity = page.locator("[data-testid=opp-activity-form]")
    activity.locator("select[name=kind]").select_option("visit")
    activity.locator("input[name=purpose]").fill("首次拜访，了解需求")
    activity.locator("textarea[name=result]").fill("客户希望下月上线")
    activity.locator("button").click()
    page.locator("[data-testid=opp-activity]").first.wait_for()
    assert "首次拜访" in page.locator("[data-testid=opp-activity]").first.inner_text()
    screenshot(page, "sales-opportunity", viewport)

    # ... makes the quote from it (the product is the line), sends it and records the customer's yes
    page.locator("[data-testid=opp-new-quote]").click()
    page.wait_for_url(re.compile(r".*/sales/quotes/\d+/edit/$"))
    assert page.locator("[data-testid=doc-line]").count() == 1
    page.locator("[data-testid=doc-save]").click()
    page.wait_for_url(re.compile(r".*/sales/quotes/\d+/$"))
    page.locator("[data-testid=action-send]").click()
    page.locator("[data-testid=action-accept]").click()
    page.locator("[data-testid=convert-contract]").wait_for()
    screenshot(page, "sales-quote-accepted", viewport)

    # ... turns it into a contract in one click and submits it: over 100,000, so it waits for the manager
    page.locator("[data-testid=convert-contract]").click()
    page.wait_for_url(re.compile(r".*/sales/contracts/\d+/$"))
    contract_url = page.url
    page.locator("[data-testid=action-submit]").click()
    page.locator("[data-testid=approval-status]").wait_for()
    assert "waiting for approval" in page.locator("[data-testid=approval-status]").inner_text()
    # confirming before the approval is refused with a message, and nothing changes
    page.locator("[data-testid=action-confirm]").click()
    assert "needs approval" in page.locator("body").inner_text()
    assert _state(e2e_server, slug)["state"] == "submitted"

    # The manager approves it on a phone
    manager_context = _context(browser, PHONE)
    try:
        phone = manager_context.new_page()
        login(phone, e2e_server, slug, people["manager"])
        phone.goto(url(slug, "/approvals/"))
        card = phone.locator("[data-testid=approval]")
        assert card.count() == 1
        assert "120,000" in card.inner_text()
        card.locator("textarea[name=comment]").fill("同意")
        screenshot(phone, "sales-approval", ("manager-phone", PHONE))
        card.locator("button[value=approve]").click()
        phone.locator("[data-testid=approval]").wait_for(state="detached")
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    finally:
        manager_context.close()

    # The rep confirms it: the payment plan follows from the terms (all after the 30-day account period)
    page.goto(contract_url)
    assert "approved" in page.locator("[data-testid=approval-status]").inner_text()
    page.locator("[data-testid=action-confirm]").click()
    page.locator("[data-testid=plan-table] tr:nth-child(2)").wait_for()
    state = _state(e2e_server, slug)
    assert (state["state"], state["payment"], state["total"]) == ("confirmed", "none", "120000.00")
    assert state["opportunity"] == "won"
    page.goto(url(slug, "/"))
    before = _amount(page.locator("[data-testid=my-target-achieved]").inner_text())
    assert before == Decimal("0")

    # Finance records two receipts, the second one double-clicked: one receipt is recorded
    finance_context = _context(browser, DESKTOP)
    try:
        desk = finance_context.new_page()
        login(desk, e2e_server, slug, people["finance"])
        _receipt(desk, e2e_server, slug, people["customer"], "50000", "BOC-20261203-01")
        assert _state(e2e_server, slug)["payment"] == "partial"
        _receipt(desk, e2e_server, slug, people["customer"], "70000", "BOC-20261203-02", double=True)
        screenshot(desk, "sales-receipt", ("finance-desktop", DESKTOP))
    finally:
        finance_context.close()
    state = _state(e2e_server, slug)
    assert (state["payment"], state["paid"], state["receipts"], state["installments_open"]) == (
        "full",
        "120000.00",
        2,
        0,
    )

    # The rep sees the contract paid and the target moved by what was received
    page.goto(contract_url)
    receivables = page.locator("[data-testid=contract-receivables]")
    assert page.locator("[data-testid=contract-allocations] tr").count() == 3  # header + two receipts
    assert "120,000.00 / " in receivables.inner_text()
    page.goto(url(slug, "/"))
    achieved = page.locator("[data-testid=my-target-achieved]")
    assert _amount(achieved.inner_text()) == Decimal("120000.00")
    assert "60%" in page.locator("[data-widget=sales-my-target]").inner_text()
    screenshot(page, "sales-dashboard-target", viewport)
