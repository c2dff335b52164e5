"""The app shell (issue 10 section 1): every role's main pages in one layout with the phone tab bar, the
menu grouped by module, the header search, no CDN; the quick "log a visit" sheet; landing per role; error
pages in the shell; numbers and dates the Chinese way."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.template import engines
from django.template.loader import render_to_string
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation
from django_tenants.utils import schema_context

from crm.modules.core import services as core_services
from crm.modules.core.models import Activity
from tests.fixtures import TenantFixture

MAIN_PAGES = {
    "owner": ["/", "/customers/", "/tasks/", "/settings/", "/retail/members/", "/auth/profile/"],
    "manager": ["/", "/customers/", "/pool/", "/retail/members/", "/retail/results/"],
    "sales": ["/", "/customers/", "/tasks/", "/search/?q=x"],
    "clerk": ["/retail/"],
}
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//(?!(?:[a-z0-9-]+\.)*localhost[:/"'])""", re.I)


def _get(client, path):
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.content.decode()


@pytest.mark.parametrize("role", sorted(MAIN_PAGES))
def test_main_pages_of_each_role_render_in_the_shell(alpha: TenantFixture, role: str) -> None:
    client = alpha.client(role, language="en")
    for path in MAIN_PAGES[role]:
        html = _get(client, path)
        # The phone tab bar and the "more" sheet with the menu grouped by module, titled by module name
        assert 'data-testid="tabbar"' in html, path
        assert 'data-testid="tab-more"' in html, path
        assert 'data-testid="sidenav"' in html, path
        if role != "sales":  # sales reps have no retail page
            assert '<div class="nav-title">Retail and members</div>' in html, path
        # No CDN: every script, stylesheet and link stays on the app's own host
        assert not EXTERNAL.search(html), (path, EXTERNAL.search(html))
        assert "vendor/pico/pico.min.css" in html and "vendor/bootstrap-icons/" in html
        # No inline scripts (a CSP without 'unsafe-inline' comes later) and no inline handlers
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\son(click|change|submit)=", html), path
        # Language lives in the profile, not in the header
        header = html.split('<header class="top">', 1)[1].split("</header>", 1)[0]
        assert 'name="language"' not in header, path
        if role == "clerk":
            assert 'data-testid="header-search"' not in html  # clerks find members by exact lookup only
            assert 'data-testid="quick-add"' not in html
            nav = html.split('data-testid="sidenav"', 1)[1].split("</aside>", 1)[0]
            assert 'href="/customers/"' not in nav and 'href="/retail/" class="active"' in nav
        else:
            assert 'data-testid="header-search"' in html, path
            assert 'data-testid="quick-add"' in html, path
            assert '<div class="nav-title">CRM core</div>' in html, path


def test_nav_groups_follow_the_modules_that_declared_them(alpha: TenantFixture) -> None:
    html = _get(alpha.client("owner", language="en"), "/customers/")
    nav = html.split('data-testid="sidenav"', 1)[1].split("</aside>", 1)[0]
    groups = re.findall(r'<div class="nav-group" data-module="([a-z_]+)">', nav)
    assert groups[0] == "core" and "retail" in groups
    retail = nav.split('data-module="retail"', 1)[1].split('<div class="nav-group"', 1)[0]
    assert 'href="/retail/members/"' in retail and 'href="/customers/"' not in retail
    assert nav.count('aria-current="page"') == 1  # Customers is the current page


def test_each_role_lands_where_it_works(alpha: TenantFixture) -> None:
    response = alpha.client("clerk").get("/")
    assert response.status_code == 302 and response["Location"] == "/retail/"
    for role in ("owner", "manager", "sales"):
        assert alpha.client(role).get("/").status_code == 200, role


def test_settings_reach_billing_and_profile_holds_the_language(alpha: TenantFixture) -> None:
    owner = alpha.client("owner", language="en")
    settings = _get(owner, "/settings/")
    assert 'data-testid="settings-billing-card"' in settings and 'href="/billing/"' in settings
    assert 'data-testid="settings-billing"' in _get(owner, "/settings/users/")
    assert 'name="language"' in _get(owner, "/auth/profile/")
    # A sales rep has no billing link in the "more" sheet
    assert 'href="/billing/"' not in _get(alpha.client("sales", language="en"), "/customers/")


def test_shell_adds_no_query_per_module(alpha: TenantFixture, beta: TenantFixture) -> None:
    # The same page on workspaces with different module sets costs the same number of queries, and the
    # menu costs none once the module set is cached.
    counts = []
    for tenant in (alpha, beta):
        client = tenant.client("owner", language="en")
        client.get("/auth/profile/")  # warm caches (module set, permissions)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/auth/profile/").status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 8, counts


def test_public_site_has_the_language_in_the_footer_only(world, public_client) -> None:
    html = public_client.get("/").content.decode()
    assert 'data-testid="footer-language"' in html
    assert not EXTERNAL.search(html)
    assert (
        "database schema" not in html
        and "schema" not in html.lower().split("<footer", 1)[0].split("<main>", 1)[1]
    )


# ---- quick "log a visit" sheet ----


def _customers(alpha: TenantFixture) -> tuple[int, int]:
    with schema_context(alpha.schema):
        mine = core_services.customer_create(
            actor=alpha.users["sales"], name="上海明达科技有限公司", phone="13800000001"
        )
        other = core_services.customer_create(
            actor=alpha.users["sales2"], name="上海远大贸易有限公司", phone="13800000002"
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return mine.pk, other.pk


def test_quick_log_picks_a_visible_customer_and_logs_in_one_tap(alpha: TenantFixture) -> None:
    mine, other = _customers(alpha)
    rep = alpha.client("sales", language="en")
    # The sheet opens on the rep's recent customers; the picker searches only visible ones
    picker = _get(rep, "/quick/log/")
    assert (
        'data-testid="quick-search"' in picker
        and f"customer={mine}" in picker
        and f"customer={other}" not in picker
    )
    results = _get(rep, "/quick/log/?q=上海")
    assert f"customer={mine}" in results and f"customer={other}" not in results
    assert "13800000001" in results
    form = _get(rep, f"/quick/log/?customer={mine}")
    assert 'href="tel:13800000001"' in form and 'data-testid="quick-result"' in form
    # Tapping a result chip saves the visit
    done = rep.post(
        "/quick/log/", {"customer": mine, "kind": "visit", "result": "Sent a quote", "result_text": ""}
    )
    assert done.status_code == 200 and 'data-testid="quick-done"' in done.content.decode()
    with schema_context(alpha.schema):
        activity = Activity.objects.get(customer_id=mine)
        assert (activity.kind, activity.result, activity.author_id) == (
            "visit",
            "Sent a quote",
            alpha.users["sales"].pk,
        )


def test_quick_log_refuses_empty_results_and_invisible_customers(alpha: TenantFixture) -> None:
    mine, other = _customers(alpha)
    rep = alpha.client("sales", language="en")
    empty = rep.post("/quick/log/", {"customer": mine, "kind": "visit", "result_text": "  "})
    assert empty.status_code == 400 and 'role="alert"' in empty.content.decode()
    assert rep.get(f"/quick/log/?customer={other}").status_code == 404
    assert rep.post("/quick/log/", {"customer": other, "kind": "call", "result_text": "x"}).status_code == 404
    assert alpha.client("clerk").get("/quick/log/").status_code == 403
    with schema_context(alpha.schema):
        assert not Activity.objects.filter(customer_id__in=[mine, other]).exists()


# ---- error pages ----


def test_error_pages_render_in_the_shell_and_translated(alpha: TenantFixture) -> None:
    zh = alpha.client("sales", language="zh-hans")
    response = zh.get("/no-such-page/")
    html = response.content.decode()
    assert (
        response.status_code == 404 and 'data-testid="error-page"' in html and 'data-testid="tabbar"' in html
    )
    assert "页面" in html
    forbidden = zh.get("/settings/")
    assert forbidden.status_code == 403 and 'data-status="403"' in forbidden.content.decode()
    with translation.override("zh-hans"):
        server_error = render_to_string("500.html")
    assert 'data-status="500"' in server_error and "服务器错误" in server_error


# ---- numbers and dates ----


def _render(source: str, **ctx) -> str:
    return engines["django"].from_string("{% load crm_format %}" + source).render(ctx).strip()


def test_money_wan_smartdate_and_ago() -> None:
    now = timezone.now()
    last_year = timezone.localdate().replace(month=3, day=5, year=timezone.localdate().year - 1)
    this_year = timezone.localdate().replace(month=3, day=5)
    with translation.override("zh-hans"):
        assert _render("{{ v|money }}", v=Decimal("1234567.5")) == "¥1,234,567.50"
        assert _render("{{ v|money }}", v=-12) == "-¥12.00"
        assert _render("{{ v|wan }}", v=123456) == "12.3万"
        assert _render("{{ v|wan }}", v=250000000) == "2.5亿"
        assert _render("{{ v|wan }}", v=9800) == "9,800"
        assert _render("{{ d|smartdate }}", d=this_year) == "3月5日"
        assert _render("{{ d|smartdate }}", d=last_year) == f"{last_year.year}年3月5日"
        assert _render("{{ t|ago }}", t=now - timedelta(days=3)) == "3 天前"
        assert _render("{{ t|ago }}", t=now - timedelta(hours=5)) == "5 小时前"
    with translation.override("en"):
        assert _render("{{ v|wan }}", v=123456) == "123.5k"
        assert _render("{{ d|smartdate }}", d=this_year) == "Mar 5"
        assert _render("{{ d|smartdate }}", d=last_year) == f"Mar 5, {last_year.year}"
        assert _render("{{ t|ago }}", t=now - timedelta(days=3)) == "3 days ago"
        assert _render("{{ v|money }}", v=None) == ""


def test_password_rule_errors_are_chinese_on_the_chinese_signup() -> None:
    from django.contrib.auth.password_validation import MinimumLengthValidator
    from django.core.exceptions import ValidationError

    with translation.override("zh-hans"), pytest.raises(ValidationError) as exc:
        MinimumLengthValidator(10).validate("abc")
    assert "10" in exc.value.messages[0] and "password" not in exc.value.messages[0].lower()


# ---- walk-through fixes ----


def test_member_list_columns_say_what_they_show(alpha: TenantFixture) -> None:
    html = _get(alpha.client("manager", language="en"), "/retail/members/")
    header = html.split('data-testid="member-table"', 1)[1].split("</tr>", 1)[0]
    assert '<th class="hide-sm">Store</th>' in header and "Member since" in header
    assert "Registered at" not in header


def test_to_json_quotes_chart_data_for_an_attribute() -> None:
    html = _render(
        '<div data-chart-json="{{ d|to_json }}"></div>', d={"x": ['a"b', "<c>"], "n": Decimal("1.5")}
    )
    expected = (
        '<div data-chart-json="{&quot;x&quot;: [&quot;a\\&quot;b&quot;, &quot;&lt;c&gt;&quot;], '
        '&quot;n&quot;: &quot;1.5&quot;}"></div>'
    )
    assert html == expected
