"""Modules that are not built yet (manifest `available=False`, "coming soon"): never billed, even where they
are on (the demo workspaces, alpha's "project"); a credit for what was invoiced before is shown to
operators; flipping the flag is all it takes to sell and bill a module (proved with the dummy module)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone, translation

from crm.billing import selectors, services
from crm.billing.ledger import charged, ledger_sync, ledger_sync_all, period_lines, price_for
from crm.billing.models import Invoice, InvoiceLine, InvoiceStatus
from crm.platform.errors import ServiceError
from crm.platform.registry import registry
from crm.tenants.models import TenantModule, TenantStatus
from crm.tenants.selectors import enabled_modules
from crm.tenants.services import module_set_comp, module_set_enabled
from tests.billing.conftest import history
from tests.billing.test_stripe import state, subscribed  # noqa: F401  (the fixture is used by name)
from tests.fixtures import restore_manifest, set_available

SH = ZoneInfo("Asia/Shanghai")
LOGIN = "crm.tenants.accounts.backends.EmailBackend"
OCT = date(2026, 10, 1)
UNBUILT = ("project", "production", "volume", "distribution")

unbuilt = pytest.mark.unbuilt  # keep the real flags (tests/billing/conftest.py)


@pytest.fixture
def october(alpha: Any, offline: None) -> Any:
    """alpha after its trial: project (coming soon) and retail on for the whole of October."""
    tenant = alpha.tenant
    tenant.trial_ends_at = datetime(2026, 1, 1, tzinfo=SH)
    tenant.status = TenantStatus.ACTIVE
    tenant.save()
    for module in ("project", "retail"):
        history(tenant, module, [(datetime(2026, 9, 1, tzinfo=SH), "enable")])
    ledger_sync_all(tenant=tenant)
    return alpha


@pytest.fixture
def dummy_history(alpha: Any, offline: None) -> Iterator[Any]:
    """alpha with the dummy module on since 1 September (as if enabled before it was marked unbuilt)."""
    tenant = alpha.tenant
    tenant.trial_ends_at = datetime(2026, 1, 1, tzinfo=SH)
    tenant.save()
    history(tenant, "dummy", [(datetime(2026, 9, 1, tzinfo=SH), "enable")])
    TenantModule.objects.update_or_create(tenant=tenant, module="dummy", defaults={"enabled": True})
    ledger_sync_all(tenant=tenant)
    yield alpha


@unbuilt
def test_the_unbuilt_sales_modes_are_not_available() -> None:
    assert {m.slug for m in registry.sellable() if not m.available} >= set(UNBUILT)
    assert registry.get("retail").available and registry.get("dummy").available
    assert not any(charged(slug) for slug in UNBUILT)
    assert charged("retail") and not charged("core") and not charged("nonsense")


# --- not charged ---------------------------------------------------------------------------------------


@unbuilt
def test_manual_invoice_leaves_out_a_module_that_is_coming_soon(october: Any) -> None:
    invoice = services.invoice_generate(tenant=october.tenant, period_start=OCT)
    assert invoice is not None
    lines = {ln.module: ln for ln in invoice.lines.all()}
    assert set(lines) == {"retail"}  # project is on, but not built: not billed
    assert lines["retail"].days == 31 and invoice.total == price_for("retail", OCT)[0]


@unbuilt
def test_a_tenant_with_only_coming_soon_modules_gets_no_invoice(october: Any) -> None:
    history(october.tenant, "retail", [])
    ledger_sync(tenant=october.tenant, module="retail")
    assert services.invoice_generate(tenant=october.tenant, period_start=OCT) is None


@unbuilt
def test_estimate_stripe_items_mrr_and_billing_page_say_what_is_not_charged(
    october: Any, operator: Any, public_client: Client
) -> None:
    tenant = october.tenant
    assert services.billable_modules(tenant) == ["retail"]  # what Stripe items and checkout use
    assert services.not_charged_modules(tenant) == ["project"]
    with translation.override("en"):
        estimate = services.estimate_current(tenant=tenant)
    assert [ln["module"] for ln in estimate["lines"]] == ["retail"]
    assert estimate["not_charged"] == ["Project sales"]

    html = october.client("owner", language="en").get("/billing/").content.decode()
    row = html[html.index('<tr data-module="project">') :]
    row = row[: row.index("</tr>")]
    assert "Coming soon: not billed until it is available" in row and "CNY" not in row
    assert 'data-testid="estimate-not-charged"' in html and "Not charged: Project sales." in html
    zh = october.client("owner", language="zh-hans").get("/billing/").content.decode()
    assert "即将推出：上线前不计费" in zh

    # MRR counts retail only
    public_client.force_login(operator, backend=LOGIN)
    overview = selectors.console_overview(user=operator)
    retail = price_for("retail", timezone.localdate().replace(day=1))[0]
    assert overview["mrr"] == [("CNY", retail)]  # alpha's retail; its project is not charged
    for slug in UNBUILT:
        TenantModule.objects.filter(module=slug).update(enabled=True)
    assert selectors.console_overview(user=operator)["mrr"] == overview["mrr"]


@unbuilt
def test_change_preview_turning_off_a_coming_soon_module_saves_nothing_turning_on_is_refused(
    october: Any,
) -> None:
    off = services.module_change_preview(tenant=october.tenant, module="project", enable=False)
    assert off["this_month"] == 0
    retail_next = price_for("retail", off["next_month_starts"])[0]
    assert off["monthly_from_next_month"] == retail_next
    with pytest.raises(ServiceError) as info:
        services.module_change_preview(tenant=october.tenant, module="production", enable=True)
    assert info.value.code == "unavailable"
    owner = october.client("owner", language="en")
    refused = owner.get("/billing/preview/", {"module": "production", "action": "enable"})
    assert refused.status_code == 400 and "coming soon" in refused.content.decode()
    api = owner.get("/api/v1/billing/preview/", {"module": "production", "action": "enable"})
    assert api.status_code == 400 and api.json()["error"]["code"] == "unavailable"


# --- refused ---------------------------------------------------------------------------------------------


@unbuilt
def test_enabling_is_refused_in_the_service_and_on_the_settings_page_disabling_works(alpha: Any) -> None:
    tenant = alpha.tenant
    with translation.override("en"), pytest.raises(ServiceError) as info:
        module_set_enabled(tenant=tenant, module="production", enabled=True, actor_email="o@x.cn")
    assert info.value.code == "unavailable"
    assert str(info.value.message) == "Production sales is coming soon: it cannot be turned on yet."
    assert "production" not in enabled_modules(tenant)

    owner = alpha.client("owner", language="en")
    page = owner.post(
        "/settings/modules/", {"module": "production", "action": "enable"}, HTTP_HX_REQUEST="true"
    )
    assert page.status_code == 200
    assert "Production sales is coming soon: it cannot be turned on yet." in page.content.decode()
    assert "production" not in enabled_modules(tenant)

    # project is on from before: turning it off still works (and its data is kept)
    page = owner.post(
        "/settings/modules/", {"module": "project", "action": "disable"}, HTTP_HX_REQUEST="true"
    )
    assert "Project sales is off." in page.content.decode()
    assert "project" not in enabled_modules(tenant)
    # ... and it cannot be turned back on
    with pytest.raises(ServiceError):
        module_set_enabled(tenant=tenant, module="project", enabled=True, actor_email="o@x.cn")


@unbuilt
def test_operators_cannot_comp_a_coming_soon_module(alpha: Any, operator: Any) -> None:
    with pytest.raises(ServiceError) as info:
        module_set_comp(tenant=alpha.tenant, module="production", comp=True, operator_email=operator.email)
    assert info.value.code == "unavailable"
    assert not TenantModule.objects.filter(tenant=alpha.tenant, module="production", comp=True).exists()


# --- flipping the flag (the dummy module) --------------------------------------------------------------


@unbuilt
def test_flipping_the_flag_on_the_dummy_module(dummy_history: Any, public_client: Client) -> None:
    tenant = dummy_history.tenant
    original = set_available("dummy", False)
    try:
        # unavailable: not offered, refused, not billed (though on)
        pricing = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en").get("/pricing/").content.decode()
        assert 'data-testid="coming-soon-dummy"' in pricing and 'data-testid="price-dummy"' not in pricing
        signup = Client(HTTP_HOST="localhost").get("/signup/").content.decode()
        assert 'name="modules" value="dummy"' not in signup and "module-coming-soon-dummy" in signup
        with pytest.raises(ServiceError):
            module_set_enabled(tenant=tenant, module="dummy", enabled=True, actor_email="o@x.cn")
        assert "dummy" not in [ln.module for ln in period_lines(tenant, OCT)]
        assert "dummy" in services.not_charged_modules(tenant)
    finally:
        restore_manifest(original)
    # available again: offered, billed for its days, and enabling works
    pricing = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en").get("/pricing/").content.decode()
    assert 'data-testid="price-dummy"' in pricing and 'data-testid="coming-soon-dummy"' not in pricing
    assert 'name="modules" value="dummy"' in Client(HTTP_HOST="localhost").get("/signup/").content.decode()
    lines = {ln.module: ln for ln in period_lines(tenant, OCT)}
    assert lines["dummy"].days == 31 and lines["dummy"].amount == Decimal("1.00")
    module_set_enabled(tenant=tenant, module="dummy", enabled=False, actor_email="o@x.cn")
    assert module_set_enabled(tenant=tenant, module="dummy", enabled=True, actor_email="o@x.cn")
    assert "dummy" in enabled_modules(tenant) and "dummy" in services.billable_modules(tenant)


def test_stripe_items_of_a_module_marked_unbuilt_are_removed_and_come_back(
    subscribed: Any,  # noqa: F811
    fake_stripe: Any,
) -> None:
    # alpha subscribed while project was sold (this module's fixture makes every mode available)
    tenant = subscribed.tenant
    assert state(tenant)["items"] == ["project", "retail"]
    original = set_available("project", False)
    try:
        assert services.subscriptions_sync_unavailable() == 1
        assert state(tenant)["items"] == ["retail"]
        removes = [p for m, _path, p in fake_stripe.requests if m == "DELETE"]
        assert len(removes) == 1 and removes[0]["proration_behavior"] == "create_prorations"
        assert services.subscriptions_sync_unavailable() == 0  # a diff: nothing more to do
    finally:
        restore_manifest(original)
    assert services.subscriptions_sync_unavailable() == 1
    assert state(tenant)["items"] == ["project", "retail"]


# --- credit for days already billed ----------------------------------------------------------------------


def _issued_invoice(
    tenant: Any, *, number: str, status: str, discount: Decimal | None, manual: bool = True
) -> Invoice:
    """An invoice issued before the module was marked unbuilt (project 30 days 199.00, retail 199.00)."""
    invoice = Invoice.objects.create(
        tenant=tenant,
        number=number,
        period_start=date(2026, 9, 1),
        period_end=date(2026, 9, 30),
        total=Decimal("398.00") + (discount or 0),
        currency="CNY",
        status=status,
        manual=manual,
    )
    for module in ("project", "retail"):
        InvoiceLine.objects.create(
            invoice=invoice,
            module=module,
            description=module,
            days=30,
            monthly_amount=Decimal("199.00"),
            amount=Decimal("199.00"),
            currency="CNY",
        )
    if discount:
        InvoiceLine.objects.create(
            invoice=invoice,
            module="-discount",
            description="Discount",
            days=0,
            monthly_amount=Decimal("0"),
            amount=discount,
            currency="CNY",
        )
    return invoice


@unbuilt
def test_credit_for_days_billed_for_an_unbuilt_module_is_shown_to_operators(
    alpha: Any, beta: Any, operator: Any, public_client: Client
) -> None:
    # Given alpha's September invoice (paid, 10% off) and a void one, both with project on them
    paid = _issued_invoice(
        alpha.tenant, number="M202609-A", status=InvoiceStatus.PAID, discount=Decimal("-39.80")
    )
    _issued_invoice(alpha.tenant, number="in_void", status=InvoiceStatus.VOID, discount=None, manual=False)
    before = list(paid.lines.values_list("amount", flat=True))

    credit = selectors.unbuilt_credit_for_operator(user=operator, tenant=alpha.tenant)
    assert credit is not None
    # project's 199.00 less its share of the discount (199 / 398 x 39.80 = 19.90); the void one is not owed
    assert credit["amounts"] == [("CNY", Decimal("179.10"))] and credit["days"] == 30
    assert [item["line"].module for item in credit["lines"]] == ["project"]
    assert selectors.unbuilt_credit_for_operator(user=operator, tenant=beta.tenant) is None
    everyone = selectors.unbuilt_credits_for_operator(user=operator)
    assert [row["tenant"].pk for row in everyone] == [alpha.tenant.pk]
    # The invoice itself is not rewritten
    assert list(paid.lines.values_list("amount", flat=True)) == before

    public_client.force_login(operator, backend=LOGIN)
    overview = public_client.get("/console/billing/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-testid="unbuilt-credit-row" data-tenant="{alpha.tenant.pk}"' in overview
    assert "179.10 CNY" in overview
    page = public_client.get(f"/console/billing/tenants/{alpha.tenant.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200 and 'data-testid="unbuilt-credit-total">179.10 CNY<' in html
    assert "30 days billed for modules that are coming soon." in html and "M202609-A" in html
    detail = public_client.get(f"/console/tenants/{alpha.tenant.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert 'data-testid="coming-soon"' in detail.content.decode()

    # Once project is available, nothing is owed any more: it was billed for a module that exists
    original = set_available("project", True)
    try:
        assert selectors.unbuilt_credit_for_operator(user=operator, tenant=alpha.tenant) is None
    finally:
        restore_manifest(original)


@unbuilt
def test_home_page_and_console_price_list_mark_coming_soon(
    world: Any, operator: Any, public_client: Client
) -> None:
    from crm.billing.ledger import prices_seed

    prices_seed()
    home = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en").get("/").content.decode()
    assert 'data-testid="coming-soon-production">Coming soon<' in home
    assert 'data-testid="coming-soon-retail"' not in home
    public_client.force_login(operator, backend=LOGIN)
    html = public_client.get("/console/billing/prices/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    rows = {
        slug: html[html.index(f'data-module="{slug}"') :].split("</tr>")[0] for slug in ("project", "retail")
    }
    assert 'data-testid="price-coming-soon"' in rows["project"]
    assert 'data-testid="price-coming-soon"' not in rows["retail"]
