"""Cost preview on the modules settings page: before the owner confirms turning a module on or off, the
page shows what it costs this month (prorated by day) and the monthly total from next month."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from crm.billing import services
from crm.billing.ledger import ledger_sync_all, line_amount, month_bounds, next_month, price_for
from crm.tenants.models import TenantModule, TenantStatus
from tests.billing.conftest import history

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def paying(alpha, offline):
    """alpha out of its trial, project on since the first of last month (retail dropped from the ledger)."""
    tenant = alpha.tenant
    tenant.trial_ends_at = timezone.now() - timedelta(days=60)
    tenant.status = TenantStatus.ACTIVE
    tenant.save()
    first, _last = month_bounds(timezone.now().astimezone(SH).date())
    start = datetime.combine((first - timedelta(days=1)).replace(day=1), datetime.min.time(), tzinfo=SH)
    history(tenant, "project", [(start, "enable")])
    ledger_sync_all(tenant=tenant)
    return alpha


def amounts(html: str) -> tuple[Decimal, Decimal]:
    this = re.search(r'data-testid="preview-this-month" data-amount="([-\d.]+)"', html)
    following = re.search(r'data-testid="preview-next-month" data-amount="([-\d.]+)"', html)
    assert this and following, html
    return Decimal(this.group(1)), Decimal(following.group(1))


def test_enable_shows_prorated_cost_and_next_month_total_then_confirm_posts_the_toggle(paying):
    owner = paying.client("owner", language="en")
    # Given the modules page: "Turn on" asks billing for the preview instead of switching at once
    page = owner.get("/settings/modules/").content.decode()
    card = page[page.index('id="module-trade"') :]
    card = card[: card.index("</section>")]
    assert 'hx-get="/billing/preview/"' in card and 'value="trade"' in card and 'value="enable"' in card
    assert 'hx-post="/settings/modules/"' not in card  # nothing is switched without the confirmation

    # When the owner asks for the preview (htmx fragment)
    response = owner.get("/billing/preview/?module=trade&action=enable", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html

    # Then it shows exactly what the service computes...
    expected = services.module_change_preview(tenant=paying.tenant, module="trade", enable=True)
    assert amounts(html) == (expected["this_month"], expected["monthly_from_next_month"])
    # ...which is the remaining days of this month (today included) at trade's daily rate, and from next
    # month the price of every billable module including trade.
    today = timezone.now().astimezone(SH).date()
    first, last = month_bounds(today)
    trade_price = price_for("trade", first)[0]
    assert expected["this_month"] == line_amount(
        monthly_amount=trade_price, days=(last - today).days + 1, days_in_month=last.day
    )
    following = next_month(first)
    chosen = set(services.billable_modules(paying.tenant)) | {"trade"}
    assert expected["monthly_from_next_month"] == sum(price_for(m, following)[0] for m in chosen)
    assert expected["this_month"] > 0

    # The confirm button posts the modules page's own toggle form.
    form = html[html.index("<form") :]
    assert 'hx-post="/settings/modules/"' in form and 'name="module" value="trade"' in form
    assert 'name="action" value="enable"' in form
    assert not TenantModule.objects.filter(tenant=paying.tenant, module="trade", enabled=True).exists()
    assert owner.post("/settings/modules/", {"module": "trade", "action": "enable"}).status_code == 302
    assert TenantModule.objects.get(tenant=paying.tenant, module="trade").enabled


def test_disable_shows_the_saving_and_the_lower_monthly_total(paying):
    owner = paying.client("owner", language="en")
    page = owner.get("/settings/modules/").content.decode()
    card = page[page.index('id="module-project"') :]
    assert 'value="disable"' in card[: card.index("</section>")]

    response = owner.get("/billing/preview/?module=project&action=disable", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    expected = services.module_change_preview(tenant=paying.tenant, module="project", enable=False)
    assert amounts(html) == (expected["this_month"], expected["monthly_from_next_month"])
    today = timezone.now().astimezone(SH).date()
    first, last = month_bounds(today)
    # Today is already billed; the days after it are saved.
    saved = line_amount(
        monthly_amount=price_for("project", first)[0], days=(last - today).days, days_in_month=last.day
    )
    assert expected["this_month"] == -saved
    if saved:
        assert f"{saved} CNY less" in html
    chosen = set(services.billable_modules(paying.tenant)) - {"project"}
    assert expected["monthly_from_next_month"] == sum(
        (price_for(m, next_month(first))[0] for m in chosen), Decimal("0")
    )
    assert 'name="action" value="disable"' in html


def test_preview_without_javascript_is_a_page_and_needs_the_modules_permission(paying):
    page = paying.client("owner", language="en").get("/billing/preview/?module=trade&action=enable")
    assert page.status_code == 200 and "<html" in page.content.decode()
    assert paying.client("sales").get("/billing/preview/?module=trade&action=enable").status_code == 403
    assert paying.client("owner").get("/billing/preview/?module=core&action=enable").status_code == 400
    assert paying.client("owner").get("/billing/preview/?module=trade&action=drop").status_code == 400
