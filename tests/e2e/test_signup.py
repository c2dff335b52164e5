"""A visitor signs up in the browser and lands, logged in, in the new workspace."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD, LiveServer, screenshot, status_of

pytestmark = pytest.mark.e2e


def test_signup_from_public_home_to_logged_in_workspace(
    e2e_server: LiveServer, page: Any, viewport: tuple[str, dict[str, int]]
) -> None:
    slug = f"shop{viewport[0]}"

    # Given the public home page
    page.goto(f"{e2e_server.public_url}/")
    screenshot(page, "public-home", viewport)

    # When the visitor goes to pricing: every sellable module is listed with a monthly price
    page.locator('a[href$="/pricing/"]').first.click()
    page.wait_for_url(re.compile(r"/pricing/$"))
    pricing_text = page.locator("main").inner_text()
    assert "Trade sales" in pricing_text and "Retail and members" in pricing_text
    assert re.search(r"\d+", pricing_text)
    screenshot(page, "pricing", viewport)

    # ... then to the signup form, fills it in and picks two sales modes
    page.locator('a[href$="/signup/"]').first.click()
    page.wait_for_url(re.compile(r"/signup/$"))
    form = page.locator("form:has(input[name=slug])")
    form.locator("input[name=company]").fill("E2E 贸易零售有限公司")
    form.locator("input[name=slug]").fill(slug)
    form.locator("input[name=owner_name]").fill("王小明")
    form.locator("input[name=email]").fill(f"owner@{slug}.example.com")
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("input[name=phone]").fill("13800138000")
    for mode in ("production", "retail"):
        form.locator(f"input[name=sales_modes][value={mode}]").check()
    # Picking a sales mode pre-selects its module; production's module is coming soon: listed, no box to tick.
    expect_checked(form.locator("input[name=modules][value=retail]"))
    assert form.locator("input[name=modules][value=production]").count() == 0
    assert form.locator("[data-testid=module-coming-soon-production]").count() == 1
    screenshot(page, "signup-form", viewport)

    started = time.perf_counter()
    with page.expect_response(lambda r: r.url.endswith("/signup/") and r.request.method == "POST") as posted:
        form.locator("button[type=submit], input[type=submit]").last.click()
    # Time to the first byte of the signup POST's answer (the redirect): server time plus loopback.
    signup_ms = posted.value.request.timing["responseStart"]

    # Then the owner lands on the new workspace's host, logged in
    page.wait_for_url(f"http://{slug}.localhost:{e2e_server.port}/**")
    page.wait_for_load_state("load")
    elapsed = time.perf_counter() - started
    assert page.url.startswith(f"http://{slug}.localhost:{e2e_server.port}/")
    assert "/auth/login" not in page.url
    body = page.locator("body").inner_text()
    assert "王小明" in body or "E2E 贸易零售有限公司" in body
    assert page.locator('form[action$="/auth/logout/"]').count() == 1
    # ... with the getting-started list of the modules picked: the core's steps and retail's, none done
    card = page.locator("[data-testid=onboarding-card]")
    card.wait_for()
    steps = card.locator("[data-testid=onboarding-steps] li")
    keys = steps.evaluate_all("items => items.map(li => li.dataset.step)")
    assert keys[:4] == ["core.customers", "core.products", "core.colleague", "core.visit"]
    assert {"retail.store", "retail.tier", "retail.members"} <= set(keys)
    assert card.locator("[data-done='1']").count() == 0
    screenshot(page, "signup-landed", viewport)
    # Wall time in the browser, including the redirects and the first workspace page (the one
    # second is server time for the signup request; this bound only catches a migration sneaking in).
    assert elapsed < 10, f"signup took {elapsed:.1f}s"
    print(
        f"signup ({viewport[0]}): POST answered in {signup_ms:.0f} ms, "
        f"first workspace page after {elapsed * 1000:.0f} ms"
    )
    # The new owner explores with sample data from the card, sees it marked, and removes it in one step.
    page.locator("[data-testid=onboarding-slot] [data-testid=sample-load]").click()
    banner = page.locator("[data-testid=sample-banner]")
    banner.wait_for()
    assert "演示" in banner.inner_text()
    page.goto(page.evaluate("location.origin") + "/customers/")
    assert page.locator("text=演示").count() > 0  # the sample customers carry their tag in the list
    screenshot(page, "signup-sample", viewport)
    page.go_back()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-testid=sample-remove]").click()
    page.locator("[data-testid=sample-load]").wait_for()  # back on the dashboard, nothing sample left
    assert page.locator("[data-testid=sample-banner]").count() == 0


def test_bad_signup_input_shows_errors_and_creates_nothing(e2e_server: LiveServer, page: Any) -> None:
    # Given a signup form with a reserved-looking slug and a weak password
    page.goto(f"{e2e_server.public_url}/signup/")
    form = page.locator("form:has(input[name=slug])")
    form.locator("input[name=company]").fill("Bad Input Ltd")
    form.locator("input[name=slug]").fill("www")
    form.locator("input[name=owner_name]").fill("Bad")
    form.locator("input[name=email]").fill("not-an-email")
    form.locator("input[name=password]").fill("123")
    form.locator("input[name=sales_modes][value=trade]").check()

    # When it is submitted
    form.locator("button[type=submit], input[type=submit]").last.click()
    page.wait_for_load_state("load")

    # Then the visitor stays on the public site with errors, and no workspace answers at that slug
    assert page.url.startswith(e2e_server.public_url)
    for field in ("slug", "email", "password"):
        assert page.locator(f"[data-testid=error-{field}]").count() > 0, f"no error shown for {field}"
    assert status_of(page, e2e_server.tenant_url("www", "/auth/login/")) == 404


def expect_checked(locator: Any) -> None:
    from playwright.sync_api import expect

    expect(locator).to_be_checked()
