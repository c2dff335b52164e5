"""Public site: pricing, signup (good and bad input, handoff to the tenant host), languages, rate limit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import translation
from django_tenants.utils import schema_context

from crm.platform.errors import ServiceError
from crm.platform.forms import money_label
from crm.platform.models import DomainEvent
from crm.platform.modes import SALES_MODES
from crm.platform.registry import registry
from crm.tenants.accounts.handoff import make_token
from crm.tenants.models import Domain, ModuleChange, Tenant, TenantModule
from crm.tenants.services import tenant_signup
from tests.fixtures import PASSWORD


def form_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "company": "杭州示例贸易有限公司",
        "slug": "acme",
        "owner_name": "张伟",
        "email": "zhang.wei@acme.example.com",
        "password": PASSWORD,
        "phone": "138 0013 8000",
        "language": "zh-hans",
        "sales_modes": ["trade", "retail"],
        # "trade" is a sales mode whose module is coming soon; "dummy" (tests only) is available.
        "modules": ["dummy", "retail"],
        "modules_touched": "1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def counts() -> tuple[int, int, int, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace")
        schemas = int(cursor.fetchone()[0])
    return Tenant.objects.count(), Domain.objects.count(), TenantModule.objects.count(), schemas


def english_client() -> Client:
    return Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")


# --- pricing and home ------------------------------------------------------------------------------------


def test_money_label_formats_decimal_with_currency() -> None:
    assert money_label(Decimal("199"), "CNY") == "¥199"
    assert money_label(Decimal("199.5"), "CNY") == "¥199.50"
    assert money_label(Decimal("12.00"), "USD") == "$12"


def test_pricing_lists_every_sellable_module_with_price_and_dependencies(world: Any) -> None:
    html = english_client().get("/pricing/").content.decode()
    sellable = registry.sellable()
    assert {m.sales_mode for m in sellable} >= {code for code, _label in SALES_MODES}
    for manifest in sellable:
        assert f'data-testid="offer-{manifest.slug}"' in html
        assert str(manifest.name) in html and str(manifest.summary) in html
        for dep in manifest.depends:
            assert str(registry.get(dep).name) in html
        if manifest.available:
            assert f'data-testid="price-{manifest.slug}">' in html
            assert f"{money_label(manifest.monthly_price, manifest.currency)}/month" in html
            assert f"?mode={manifest.sales_mode}" in html
        else:
            # Coming soon: shown with its summary, no price, no way to start with it.
            assert f'data-testid="coming-soon-{manifest.slug}">Coming soon<' in html
            assert f'data-testid="price-{manifest.slug}"' not in html
            assert f"?mode={manifest.sales_mode}" not in html
    assert 'data-testid="offer-core"' in html  # the always-included core
    assert 'href="/signup/"' in html


def test_home_explains_the_product_and_links_to_pricing_and_signup(world: Any) -> None:
    response = english_client().get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'href="/pricing/"' in html and 'href="/signup/"' in html
    assert "A CRM that fits how your company sells" in html


# --- signup: good input ------------------------------------------------------------------------------------


def test_signup_page_offers_modes_modules_and_the_address(world: Any) -> None:
    html = english_client().get("/signup/").content.decode()
    for manifest in registry.sellable():
        if manifest.available:
            assert f'name="modules" value="{manifest.slug}"' in html
        else:
            # Listed as coming soon with its summary, without a box that could be ticked.
            assert f'name="modules" value="{manifest.slug}"' not in html
            row = html[html.index(f'data-testid="module-coming-soon-{manifest.slug}"') :]
            row = row[: row.index("</li>")]
            assert str(manifest.summary) in row and "Coming soon" in row and "disabled" in row
    by_mode = {m.sales_mode: m for m in registry.sellable()}
    for code, _label in SALES_MODES:
        if by_mode[code].available:
            assert f'name="sales_modes" value="{code}" data-module="{code}"' in html
        else:
            # The mode can be ticked (it says how the company sells) but pre-selects no module.
            assert f'name="sales_modes" value="{code}" data-module=""' in html
            assert f'data-testid="mode-coming-soon-{code}"' in html
    assert ".localhost:8000" in html
    assert 'hx-get="/signup/check-slug/"' in html


def test_mode_link_from_pricing_preselects_mode_and_module(world: Any) -> None:
    html = english_client().get("/signup/", {"mode": ["retail", "bogus"]}).content.decode()
    assert 'name="sales_modes" value="retail" data-module="retail" checked' in html
    assert 'name="modules" value="retail" data-cents="19900" checked' in html
    assert 'name="modules" value="dummy" data-cents="100">' in html  # not ticked


def test_signup_creates_tenant_and_lands_owner_logged_in(world: Any) -> None:
    before_events = DomainEvent.objects.count()
    response = Client(HTTP_HOST="localhost").post("/signup/", form_data())

    # The visitor is sent to a one-time handoff link on the new workspace's host.
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("http://acme.localhost:8000/auth/handoff/")
    tenant = Tenant.objects.get(slug="acme")
    assert tenant.status == "trial" and tenant.name == "杭州示例贸易有限公司"
    assert tenant.phone == "13800138000" and tenant.sales_modes == ["retail", "trade"]
    assert tenant.default_language == "zh-hans"
    assert Domain.objects.get(tenant=tenant).domain == "acme.localhost"
    enabled = set(TenantModule.objects.filter(tenant=tenant, enabled=True).values_list("module", flat=True))
    assert enabled == {"dummy", "retail"}
    changes = ModuleChange.objects.filter(tenant=tenant)
    assert {(c.module, c.action, c.reason) for c in changes} == {
        ("dummy", "enable", "signup"),
        ("retail", "enable", "signup"),
    }
    names = list(DomainEvent.objects.filter(tenant=tenant).values_list("name", flat=True))
    assert sorted(names) == ["module.enabled", "module.enabled", "tenant.created"]
    assert DomainEvent.objects.count() == before_events + 3
    with schema_context(tenant.schema_name):
        from crm.tenants.accounts.models import User

        owner = User.objects.get()
        assert (owner.email, owner.role, owner.name) == ("zhang.wei@acme.example.com", "owner", "张伟")

    # Following the link logs the owner in on the tenant host ...
    path = location.removeprefix("http://acme.localhost:8000")
    browser = Client(HTTP_HOST="acme.localhost")
    landed = browser.get(path)
    assert landed.status_code == 302 and landed["Location"] == "/"
    assert browser.session["_auth_user_id"] == str(owner.pk)
    home = browser.get("/")
    assert home.status_code == 200 and "张伟" in home.content.decode()
    # ... once: the same link does not work a second time.
    again = Client(HTTP_HOST="acme.localhost").get(path)
    assert again.status_code == 302 and again["Location"].startswith("/auth/login/")
    assert "_auth_user_id" not in again.wsgi_request.session


def test_handoff_token_of_one_tenant_is_refused_on_another(alpha: Any, beta: Any) -> None:
    token = make_token(schema=alpha.schema, user_id=alpha.users["owner"].pk, purpose="signup")
    client = beta.client(None)
    response = client.get(f"/auth/handoff/{token}/")
    assert response.status_code == 302 and response["Location"].startswith("/auth/login/")
    assert "_auth_user_id" not in client.session
    # The same token still works where it belongs (it was not burnt by the refused attempt).
    ok = alpha.client(None).get(f"/auth/handoff/{token}/")
    assert ok.status_code == 302 and ok["Location"] == "/"


def test_modules_follow_the_sales_modes_without_script(world: Any) -> None:
    # No script: the hidden "touched" marker is absent and no module box is ticked.
    data = form_data(
        slug="nojs",
        email="a@nojs.example.com",
        modules=None,
        modules_touched=None,
        sales_modes=["retail", "distribution"],
    )
    response = Client(HTTP_HOST="localhost").post("/signup/", data)
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="nojs")
    enabled = set(TenantModule.objects.filter(tenant=tenant, enabled=True).values_list("module", flat=True))
    assert enabled == {"retail"}  # distribution's module is coming soon: not pre-selected


def test_signup_with_only_coming_soon_modes_starts_with_the_core(world: Any) -> None:
    # How the company sells is recorded; none of its modules is built yet, so the workspace gets the core.
    data = form_data(
        slug="early", email="a@early.example.com", modules=None, modules_touched=None, sales_modes=["project"]
    )
    response = Client(HTTP_HOST="localhost").post("/signup/", data)
    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="early")
    assert tenant.sales_modes == ["project"]
    assert not TenantModule.objects.filter(tenant=tenant, enabled=True).exists()
    from crm.tenants.selectors import enabled_modules

    assert enabled_modules(tenant) == registry.always_on()  # core (and webhooks), nothing billed


def test_a_coming_soon_module_cannot_be_chosen_at_signup(world: Any) -> None:
    # Posted by hand (the page offers no box): the form refuses it and nothing is created.
    before = counts()
    data = form_data(slug="sneaky", email="a@sneaky.example.com", modules=["project", "retail"])
    response = english_client().post("/signup/", data)
    assert response.status_code == 200 and 'data-testid="error-modules"' in response.content.decode()
    # The service refuses it too, with a translated, field-level message.
    with translation.override("en"), pytest.raises(ServiceError) as info:
        tenant_signup(
            company="X",
            slug="sneaky",
            owner_name="X",
            email="a@sneaky.example.com",
            password=PASSWORD,
            modules=["project"],
        )
    assert info.value.fields == {"modules": ["Coming soon, cannot be chosen yet: Project sales"]}
    assert counts() == before


def test_explicit_module_choice_wins_over_the_sales_modes(world: Any) -> None:
    data = form_data(slug="picky", email="a@picky.example.com", modules=["dummy"], sales_modes=["trade"])
    assert Client(HTTP_HOST="localhost").post("/signup/", data).status_code == 302
    tenant = Tenant.objects.get(slug="picky")
    assert list(
        TenantModule.objects.filter(tenant=tenant, enabled=True).values_list("module", flat=True)
    ) == ["dummy"]
    assert tenant.sales_modes == ["trade"]


# --- signup: bad input -------------------------------------------------------------------------------------

BAD_INPUT = [
    ("taken slug", {"slug": "alpha"}, "slug", "This workspace address is already taken."),
    ("reserved slug", {"slug": "admin"}, "slug", "This workspace address is reserved."),
    ("malformed slug", {"slug": "-Bad_Slug"}, "slug", "Use 3 to 40 lowercase letters"),
    ("weak password", {"password": "12345678"}, "password", "This password is too short."),
    ("common password", {"password": "password123"}, "password", "This password is too common."),
    (
        "duplicate email",
        {"email": "OWNER@alpha.example.com"},
        "email",
        "This email already owns a workspace.",
    ),
    ("invalid phone", {"phone": "12345"}, "phone", "Enter a valid mobile number"),
    ("unknown module", {"modules": ["nonsense"]}, "modules", "Select a valid choice."),
    ("missing company", {"company": ""}, "company", "This field is required."),
]


@pytest.mark.parametrize(("case", "overrides", "field", "message"), BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_shows_error_and_creates_nothing(
    world: Any, case: str, overrides: dict[str, Any], field: str, message: str
) -> None:
    before = counts()
    response = english_client().post("/signup/", form_data(**overrides))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'data-testid="error-{field}"' in html
    assert message in html
    assert counts() == before
    # What the visitor typed is kept (except the password).
    assert 'value="zhang.wei@acme.example.com"' in html or field == "email"
    assert PASSWORD not in html


def test_empty_post_lists_the_required_fields_and_creates_nothing(world: Any) -> None:
    before = counts()
    response = english_client().post("/signup/", {})
    assert response.status_code == 200
    html = response.content.decode()
    for field in ("company", "slug", "owner_name", "email", "password"):
        assert f'data-testid="error-{field}"' in html, field
    assert counts() == before


def test_every_problem_is_shown_in_one_round(world: Any) -> None:
    # A malformed email (form-level) and a taken address (rule-level) are reported together.
    html = english_client().post("/signup/", form_data(email="not-an-email", slug="alpha")).content.decode()
    assert "Enter a valid email address." in html
    assert "This workspace address is already taken." in html


def test_service_refuses_unknown_module_and_mode_and_creates_nothing(world: Any) -> None:
    before = counts()
    with pytest.raises(ServiceError) as info:
        tenant_signup(
            company="X",
            slug="svc-bad",
            owner_name="X",
            email="x@svc.example.com",
            password=PASSWORD,
            modules=["nonsense"],
            sales_modes=["teleport"],
        )
    assert set(info.value.fields) == {"modules", "sales_modes"}
    assert counts() == before


# --- languages, live slug check, rate limit -------------------------------------------------------------


def test_signup_renders_in_chinese_and_english(world: Any) -> None:
    english = english_client().post("/signup/", form_data(password="12345678"))
    chinese = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="zh-hans").post(
        "/signup/", form_data(password="12345678")
    )
    by_cookie = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en")
    by_cookie.cookies["django_language"] = "zh-hans"
    cookie_page = by_cookie.get("/signup/").content.decode()

    assert '<html lang="en">' in english.content.decode()
    assert "This password is entirely numeric." in english.content.decode()
    assert '<html lang="zh-hans">' in chinese.content.decode()
    assert "密码只包含数字" in chinese.content.decode()
    assert '<html lang="zh-hans">' in cookie_page
    # The workspace language defaults to the visitor's language.
    assert '<option value="en" selected>' in english_client().get("/signup/").content.decode()


def test_live_slug_check(world: Any) -> None:
    client = english_client()
    taken = client.get("/signup/check-slug/", {"slug": "alpha"}, HTTP_HX_REQUEST="true").content.decode()
    free = client.get("/signup/check-slug/", {"slug": "brand-new"}, HTTP_HX_REQUEST="true").content.decode()
    assert "already taken" in taken
    assert 'data-testid="slug-available"' in free and "brand-new.localhost:8000" in free


def test_signups_are_rate_limited_per_address(world: Any, settings: Any) -> None:
    settings.CRM_SIGNUP_LIMIT_PER_HOUR = 2
    client = Client(HTTP_HOST="localhost", HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR="203.0.113.7")
    for _ in range(2):
        assert client.post("/signup/", form_data(password="short")).status_code == 200
    before = counts()
    blocked = client.post("/signup/", form_data(slug="ratelimited", email="r@rl.example.com"))
    assert blocked.status_code == 429
    assert "Too many signups" in blocked.content.decode()
    assert counts() == before
    # Another address is not affected.
    other = Client(HTTP_HOST="localhost", REMOTE_ADDR="198.51.100.1")
    assert other.post("/signup/", form_data(slug="ratelimited", email="r@rl.example.com")).status_code == 302
