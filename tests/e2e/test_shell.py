"""The app shell in a browser (issue 10 section 1): on a 390x844 phone a rep logs a visit from the quick
sheet in at most 3 taps after the picker opens, the "more" tab opens the grouped navigation, nothing is wider
than the screen; on a desktop the side navigation and the header search are there. Every test fails on any
request to a host other than the app's (no CDN)."""

from __future__ import annotations

import json
import shutil
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ARTIFACTS, PASSWORD, ROOT, LiveServer, htmx_idle, login, screenshot

pytestmark = pytest.mark.e2e

SETUP = """
import json
from django_tenants.utils import schema_context
from crm.modules.core import services
from crm.tenants.accounts.models import User
from crm.tenants.models import Tenant
t = Tenant.objects.get(slug={slug!r})
with schema_context(t.schema_name):
    rep = User.objects.create_user({rep!r}, {pw!r}, name="张伟", role="sales")
    ids = [services.customer_create(actor=rep, name=n, phone=p).pk for n, p in (
        ("上海明达科技有限公司", "13800000001"),
        ("杭州远大贸易有限公司", "13800000002"),
        ("深圳市南山区科技园北区高新技术产业园华强北电子元器件批发零售有限责任公司第一分公司", "13800000003"),
    )]
print(json.dumps(ids))
"""
ACTIVITIES = """
from django_tenants.utils import schema_context
from crm.modules.core.models import Activity
from crm.tenants.models import Tenant
with schema_context(Tenant.objects.get(slug={slug!r}).schema_name):
    print(list(Activity.objects.filter(customer_id={pk}).values_list("kind", "result")))
"""


def _workspace(server: LiveServer, slug: str) -> tuple[str, list[int]]:
    server.create_tenant(slug, ["retail"])
    rep = f"rep@{slug}.e2e.example.com"
    out = server.manage("shell", "-c", SETUP.format(slug=slug, pw=PASSWORD, rep=rep))
    return rep, json.loads(out.strip().splitlines()[-1])


def _only_own_host(page: Any) -> list[str]:
    foreign: list[str] = []

    def check(request: Any) -> None:
        host = urlsplit(request.url).hostname or ""
        if request.url.startswith(("data:", "blob:")):
            return
        if host != "localhost" and not host.endswith(".localhost"):
            foreign.append(request.url)

    page.on("request", check)
    return foreign


def _doc_shot(page: Any, name: str, viewport: tuple[str, dict[str, int]]) -> None:
    """The full-page screenshot in .artifacts/ and a screen-sized one for README (docs/screenshots/)."""
    screenshot(page, name, viewport)
    page.screenshot(path=str(ARTIFACTS / f"doc-{name}-{viewport[0]}.png"))


def _no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (
        f"page is {width}px wide on a {page.viewport_size['width']}px screen"
    )


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_phone_rep_logs_a_visit_from_the_quick_sheet_in_three_taps(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    foreign = _only_own_host(page)
    slug = "shellphone"
    rep, ids = _workspace(e2e_server, slug)
    login(page, e2e_server, slug, rep)

    # The phone shell: bottom tab bar, no side navigation, nothing wider than the screen
    page.goto(e2e_server.tenant_url(slug, "/customers/"))
    assert page.locator("[data-testid=tabbar]").is_visible()
    assert not page.locator("[data-testid=sidenav]").is_visible()
    assert page.locator("[data-testid=header-search]").is_visible()
    assert page.locator("[data-testid=phone-sm]").first.is_visible()  # the phone number in the phone list
    assert page.locator("a[href='tel:13800000003']").count() >= 1
    _no_horizontal_scroll(page)
    _doc_shot(page, "shell-customers", viewport)

    # "More" opens the navigation grouped by module as a sheet
    page.locator("[data-testid=tab-more]").tap()
    sheet = page.locator("#sheet-more")
    sheet.wait_for(state="visible")
    assert "CRM core" in sheet.inner_text()
    _doc_shot(page, "shell-more", viewport)
    sheet.locator("[data-sheet-close]").tap()
    sheet.wait_for(state="hidden")

    # Quick add opens the picker on the rep's recent customers; then at most 3 taps log the visit
    page.locator("[data-testid=quick-add]").tap()
    page.locator("[data-testid=quick-picker]").wait_for()
    htmx_idle(page)
    taps = 0
    page.locator("[data-testid=quick-pick]", has_text="上海明达科技有限公司").tap()
    taps += 1
    page.locator("[data-testid=quick-form]").wait_for()
    htmx_idle(page)
    _doc_shot(page, "shell-quick-log", viewport)
    page.locator("[data-testid=quick-result]").first.tap()
    taps += 1
    page.locator("[data-testid=quick-done]").wait_for()
    print(f"\nquick log: {taps} taps after the picker")
    assert taps <= 3
    logged = (
        e2e_server.manage("shell", "-c", ACTIVITIES.format(slug=slug, pk=ids[0])).strip().splitlines()[-1]
    )
    assert logged == "[('visit', 'Visited, needs discussed')]", logged

    # The picker searches the rep's customers (htmx) and long names wrap inside the screen
    page.locator("[data-testid=quick-done] button").tap()
    page.locator("[data-testid=quick-search]").wait_for()
    htmx_idle(page)  # htmx has wired the swapped-in picker
    page.locator("[data-testid=quick-search]").fill("深圳")
    expect(page.locator("[data-testid=quick-pick]")).to_have_count(1)  # the htmx search answered
    assert "深圳市" in page.locator("[data-testid=quick-pick]").inner_text()
    _no_horizontal_scroll(page)

    # The dashboard's empty charts say what to do instead of drawing an empty axis
    page.goto(e2e_server.tenant_url(slug, "/"))
    assert page.locator("#chart-week canvas").count() == 1  # one visit this week: a real chart
    _no_horizontal_scroll(page)
    _doc_shot(page, "shell-dashboard", viewport)
    assert not foreign, f"requests to other hosts: {foreign}"


@pytest.mark.parametrize("viewport", ["desktop"], indirect=True)
def test_desktop_shell_has_grouped_side_navigation_and_header_search(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    foreign = _only_own_host(page)
    slug = "shelldesk"
    _workspace(e2e_server, slug)
    owner = f"owner@{slug}.e2e.example.com"
    login(page, e2e_server, slug, owner)
    page.goto(e2e_server.tenant_url(slug, "/"))
    nav = page.locator("[data-testid=sidenav]")
    assert nav.is_visible() and not page.locator("[data-testid=tabbar]").is_visible()
    titles = nav.locator(".nav-title").all_inner_texts()
    assert titles[0] == "CRM core" and "Retail and members" in titles
    # The owner has no customers of their own: that chart is an empty state, not a 0-1 axis
    assert page.locator("#chart-stage [data-testid=chart-empty]").count() == 1
    _doc_shot(page, "shell-dashboard", viewport)
    page.locator("[data-testid=header-search] input").fill("上海")
    page.locator("[data-testid=header-search] input").press("Enter")
    page.wait_for_url("**/search/?q=*")
    assert "上海明达科技有限公司" in page.content()
    page.goto(e2e_server.tenant_url(slug, "/customers/"))
    _doc_shot(page, "shell-customers", viewport)
    # Settings lead to billing
    page.locator("[data-testid=settings-link]").click()
    page.locator("[data-testid=settings-billing-card]").click()
    page.wait_for_url("**/billing/")
    # A missing page is the app's own page in the shell (DEBUG off as in `make run`)
    page.goto(e2e_server.tenant_url(slug, "/no-such-page/"))
    assert page.locator("[data-testid=error-page]").is_visible() and nav.is_visible()
    screenshot(page, "shell-404", viewport)
    assert not foreign, f"requests to other hosts: {foreign}"


WORKSPACE_PAGES = [
    "/",
    "/customers/",
    "/customers/new/",
    "/customers/{id}/",
    "/tasks/",
    "/products/",
    "/pool/",
    "/handover/",
    "/import/",
    "/search/?q=上海",
    "/reports/weekly/",
    "/settings/",
    "/settings/modules/",
    "/settings/users/",
    "/settings/teams/",
    "/billing/",
    "/billing/export/",
    "/settings/api-keys/",
    "/webhooks/",
    "/approvals/",
    "/notices/",
    "/auth/profile/",
    "/retail/",
    "/retail/members/",
    "/retail/stores/",
    "/retail/setup/",
    "/retail/reminders/",
    "/retail/results/",
    "/retail/care/",
    "/no-such-page/",
]
PUBLIC_PAGES = ["/", "/pricing/", "/signup/", "/console/login/"]


@pytest.mark.parametrize("viewport", ["phone"], indirect=True)
def test_every_main_page_fits_the_phone_screen(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    foreign = _only_own_host(page)
    slug = "shellwalk"
    _rep, ids = _workspace(e2e_server, slug)
    login(page, e2e_server, slug, f"owner@{slug}.e2e.example.com")
    too_wide = []
    for path in WORKSPACE_PAGES:
        url = e2e_server.tenant_url(slug, path.format(id=ids[2]))  # the customer with the very long name
        page.goto(url)
        assert page.locator("[data-testid=tabbar]").is_visible(), path
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > viewport[1]["width"]:
            too_wide.append((path, width))
        screenshot(page, "walk" + path.replace("/", "-").split("?")[0].rstrip("-"), viewport)
    # Forms start at the top of the screen
    page.goto(e2e_server.tenant_url(slug, "/customers/new/"))
    box = page.locator("main form input:visible").first.bounding_box()
    assert box is not None and box["y"] < 300, box
    for path in PUBLIC_PAGES:
        page.goto(e2e_server.public_url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > viewport[1]["width"]:
            too_wide.append((path, width))
        screenshot(page, "walk-public" + path.replace("/", "-").rstrip("-"), viewport)
    assert not too_wide, too_wide
    assert not foreign, f"requests to other hosts: {foreign}"


def test_publish_screenshots() -> None:
    """Copy the shell screenshots the tests above took into docs/screenshots/ (README), when present."""
    target = ROOT / "docs" / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    for name in (
        "shell-customers-phone",
        "shell-quick-log-phone",
        "shell-more-phone",
        "shell-dashboard-desktop",
        "shell-customers-desktop",
    ):
        source = ARTIFACTS / f"doc-{name}.png"
        if source.exists():
            shutil.copyfile(source, target / f"{name}.png")
