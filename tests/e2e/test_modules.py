"""The owner turns a module on and off on the settings page; menus and pages follow on the next request."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse

from crm.platform.registry import ModuleManifest, registry
from tests.e2e.conftest import LiveServer, login, screenshot, status_of

pytestmark = pytest.mark.e2e

# Empty: retail is the one built sellable module (the others are coming soon), so it is the one toggled.
INITIAL_MODULES: list[str] = []


def module_to_toggle() -> ModuleManifest:
    """An available sellable module the tenant does not have (coming-soon modules cannot be turned on); one
    with menu entries when there is one, so that the menu check has something to look for."""
    candidates = [
        m for m in registry.sellable() if m.slug not in INITIAL_MODULES and m.slug != "dummy" and m.available
    ]
    with_menu = [m for m in candidates if m.menu]
    return (with_menu or candidates)[0]


def menu_hrefs(manifest: ModuleManifest) -> set[str]:
    hrefs = set()
    for entry in manifest.menu:
        try:
            hrefs.add(reverse(entry.url_name, urlconf="config.urls_tenant"))
        except NoReverseMatch:
            continue
    return hrefs


def nav_hrefs(page: Any) -> set[str]:
    links = page.locator(".sidenav .nav-group a")
    return set(links.evaluate_all("links => links.map(a => a.getAttribute('href'))"))


def test_owner_turns_a_module_on_and_off(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"toggle{viewport[0]}"
    email = e2e_server.create_tenant(slug, INITIAL_MODULES)
    module = module_to_toggle()
    expected_menu = menu_hrefs(module)
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of turning on/off

    # Given the owner logged in through the workspace's login page
    login(page, e2e_server, slug, email)
    before = nav_hrefs(page)
    assert before and not (before & expected_menu)
    if module.urls:
        assert status_of(page, e2e_server.tenant_url(slug, f"/{module.slug}/")) == 404

    # When the owner turns the module on from the settings page
    page.goto(e2e_server.tenant_url(slug, "/settings/modules/"))
    card = page.locator(f"#module-{module.slug}")
    assert card.get_attribute("data-state") == "off"
    screenshot(page, "modules-before", viewport)
    card.locator("[data-testid=preview-enable]").click()
    # The cost of the change is shown before anything changes: this month (prorated) and from next month.
    card.locator("[data-testid=change-preview]").wait_for()
    assert card.get_attribute("data-state") == "off"
    assert card.locator("[data-testid=preview-next-month]").get_attribute("data-amount")
    screenshot(page, "modules-preview", viewport)
    card.locator("[data-testid=preview-confirm]").click()
    page.locator(f"#module-{module.slug}[data-state=on]").wait_for()
    screenshot(page, "modules-on", viewport)

    # Then on the next request its menu entries and pages are there
    page.goto(e2e_server.tenant_url(slug, "/"))
    assert expected_menu <= nav_hrefs(page)
    if module.urls:
        assert status_of(page, e2e_server.tenant_url(slug, f"/{module.slug}/")) == 200
    screenshot(page, "menu-with-module", viewport)

    # When the owner turns it off again
    page.goto(e2e_server.tenant_url(slug, "/settings/modules/"))
    card = page.locator(f"#module-{module.slug}")
    card.locator("[data-testid=preview-disable]").click()
    card.locator("[data-testid=preview-confirm]").click()
    page.locator(f"#module-{module.slug}[data-state=off]").wait_for()
    # Both changes are in the log shown on the page.
    assert page.locator("[data-testid=module-log] tbody tr").count() >= 2
    screenshot(page, "modules-off", viewport)

    # Then the menu is back to what it was and the module's pages answer 404
    page.goto(e2e_server.tenant_url(slug, "/"))
    after = nav_hrefs(page)
    assert not (after & expected_menu)
    assert after == before
    if module.urls:
        assert status_of(page, e2e_server.tenant_url(slug, f"/{module.slug}/")) == 404
