"""Cross-tenant isolation: tenant alpha's owner (session and API key) requests EVERY route of the tenant
urlconf on tenant beta's host and never gets in, nor sees beta's data. Routes are enumerated from the URL
resolver (tests/urlwalk.py), so new routes, module routes and API routes are covered without a list here;
a route the walker cannot exercise fails the test instead of being skipped.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from crm.billing.models import Invoice, InvoiceStatus
from crm.platform.registry import registry
from crm.tenants.services import module_set_enabled
from tests import urlwalk

MARK = "ZQX-LEAK"
# Statuses that mean "you are not getting in" (redirects are checked to point at a login page).
DENIED = {401, 403, 404, 405}
METHODS = ("get", "post")


def plant(tenant: Any) -> dict[str, Any]:
    """Records with unique marker strings in every kind of tenant data the routes can show."""
    from crm.modules.core.services import customer_create
    from crm.modules.messaging.public import template_update
    from crm.tenants.accounts.models import Invitation, Team, User
    from crm.tenants.accounts.services import api_key_create

    slug = tenant.tenant.slug
    owner = tenant.users["owner"]
    with schema_context(tenant.schema):
        user = User.objects.create_user(f"marked@{slug}.example.com", "x", name=f"{MARK}-{slug}-user")
        team = Team.objects.create(name=f"{MARK}-{slug}-team", manager=tenant.users["manager"])
        key, raw = api_key_create(actor=owner, name=f"{MARK}-{slug}-key")
        invitation = Invitation.objects.create(
            email=f"invited@{slug}.example.com",
            name=f"{MARK}-{slug}-invite",
            token_hash=f"{slug}-h",
            invited_by=owner,
            expires_at="2099-01-01T00:00:00Z",
        )
        customer = customer_create(actor=owner, name=f"{MARK}-{slug}-customer")
        # Tenant text behind the retail care API (/api/v1/retail/care/templates/birthday/sms/).
        template_update(
            actor=owner, perm="retail.manage", kind="birthday", channel="sms", body=f"{MARK}-{slug}-care"
        )
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    # Invoices live in the public schema, keyed by tenant (the PDF route takes an invoice id).
    invoice = Invoice.objects.create(
        tenant=tenant.tenant,
        number=f"{MARK}-{slug}-invoice",
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        total=Decimal("1.00"),
        manual=True,
        status=InvoiceStatus.OPEN,
    )
    return {
        "ids": sorted({user.pk, team.pk, key.pk, invitation.pk, customer.pk, invoice.pk}),
        "invoice": invoice.pk,
        "raw_key": raw,
        "markers": [f"{MARK}-{slug}", f"@{slug}.example.com"],
    }


@pytest.fixture
def planted(alpha: Any, beta: Any) -> Iterator[dict[str, Any]]:
    # Every module on for beta, so module routes are behind authentication rather than behind the gate.
    for manifest in registry.sellable():
        module_set_enabled(
            tenant=beta.tenant,
            module=manifest.slug,
            enabled=True,
            actor_email="iso@test",
            allow_unavailable=True,
        )
    yield {"alpha": plant(alpha), "beta": plant(beta)}


def on_host(client: Client, host: str) -> Client:
    """A client on another host carrying a copy of `client`'s cookies (alpha's session). A copy, so that a
    cookie the other host sets (e.g. a logout route clearing the session) cannot replace the original."""
    other = Client(HTTP_HOST=host)
    other.cookies = copy.deepcopy(client.cookies)
    return other


@dataclass(frozen=True)
class Answer:
    """What a request returned, read completely while the connection was on the request's schema."""

    status_code: int
    location: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


def leaks(answer: Answer, markers: list[str]) -> list[str]:
    return [m for m in markers if m in answer.text]


def request(client: Client, method: str, path: str) -> Answer:
    # POSTs carry a (meaningless) form field, as a browser form would.
    response = client.post(path, {"probe": "1"}) if method == "post" else client.get(path)
    # Streamed bodies (exports) are produced lazily: read them before leaving the request's schema.
    content = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return Answer(response.status_code, response.get("Location", ""), content.decode(errors="replace"))


def is_login_redirect(answer: Answer) -> bool:
    return answer.status_code in (301, 302) and "login" in answer.location


def test_markers_are_visible_to_their_own_tenant(alpha, planted):
    """Positive control: the marker check below can see data when it is there."""
    client = alpha.client("owner")
    for path in (
        "/api/v1/users/",
        "/api/v1/teams/",
        "/api/v1/api-keys/",
        "/api/v1/invitations/",
        "/api/v1/retail/care/templates/",
        "/api/v1/retail/care/templates/birthday/sms/",
    ):
        assert leaks(request(client, "get", path), planted["alpha"]["markers"]), path


def test_alpha_gets_nothing_from_any_route_on_betas_host(alpha, beta, planted):
    beta_markers = planted["beta"]["markers"]
    anonymous = Client(HTTP_HOST=beta.host)
    with_key = Client(HTTP_HOST=beta.host, HTTP_AUTHORIZATION=f"Api-Key {planted['alpha']['raw_key']}")

    exercised: set[str] = set()
    walked: set[str] = set()
    failures: list[str] = []
    for route in urlwalk.routes("config.urls_tenant"):
        for path in urlwalk.paths(route, planted["beta"]["ids"], "config.urls_tenant"):
            for method in METHODS:
                baseline = request(anonymous, method, path)
                # A fresh alpha session for every request: the walk also POSTs to logout routes, which
                # would end a session that (wrongly) worked on beta and hide every later leak.
                with_session = on_host(alpha.client("owner"), beta.host)
                for who, client in (("session", with_session), ("api-key", with_key)):
                    response = request(client, method, path)
                    found = leaks(response, beta_markers) + leaks(baseline, beta_markers)
                    if found:
                        failures.append(f"{who} {method.upper()} {path}: beta data {found}")
                    # Alpha's credentials must buy nothing: same answer as a stranger, or a refusal.
                    same = response.status_code == baseline.status_code
                    refused = response.status_code in DENIED or is_login_redirect(response)
                    if not (same or refused):
                        failures.append(
                            f"{who} {method.upper()} {path}: {response.status_code} "
                            f"(anonymous: {baseline.status_code})"
                        )
                    if path.startswith("/api/") and response.status_code not in DENIED:
                        failures.append(f"{who} {method.upper()} {path}: API answered {response.status_code}")
                exercised.add(route.namespace or route.name or route.label)
                walked.add(path)
    assert failures == []
    # The walk really covered module, API and platform routes.
    assert {"core", "api-core", "dummy", "api-dummy"} <= exercised
    assert {"api-users-detail", "api-keys-list", "login"} <= exercised
    # Retail's care API, including the template detail on the event/channel that holds beta's marker.
    assert {
        "/api/v1/retail/care/templates/",
        "/api/v1/retail/care/templates/birthday/sms/",
        "/api/v1/retail/care/settings/",
    } <= walked


def test_invoice_pdf_of_another_tenant_is_404_on_own_host(alpha, beta, planted):
    """Public-schema rows are not separated by schema: the PDF route must filter by the request's tenant.
    Alpha's owner on alpha's own host asking for beta's invoice id gets the same 404 as for no invoice."""
    client = alpha.client("owner")
    own = request(client, "get", f"/billing/invoices/{planted['alpha']['invoice']}/pdf/")
    assert own.status_code == 200
    other = request(client, "get", f"/billing/invoices/{planted['beta']['invoice']}/pdf/")
    missing = request(client, "get", "/billing/invoices/999999999/pdf/")
    assert other.status_code == missing.status_code == 404
    assert not leaks(other, planted["beta"]["markers"])
    assert request(client, "get", "/api/v1/billing/invoices/").text.count(f"{MARK}-beta") == 0


def test_alphas_session_is_not_valid_on_betas_host(alpha, beta, planted):
    client = on_host(alpha.client("owner"), beta.host)
    response = request(client, "get", "/api/v1/me/")
    assert response.status_code == 401
    assert is_login_redirect(request(client, "get", "/"))
    # ...while the very same cookies work on alpha's own host.
    assert request(alpha.client("owner"), "get", "/api/v1/me/").status_code == 200


def test_alphas_api_key_is_rejected_on_beta(alpha, beta, planted):
    raw = planted["alpha"]["raw_key"]
    assert (
        request(
            Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION=f"Api-Key {raw}"), "get", "/api/v1/me/"
        ).status_code
        == 200
    )
    response = request(Client(HTTP_HOST=beta.host, HTTP_AUTHORIZATION=f"Api-Key {raw}"), "get", "/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_cache_values_are_per_schema(alpha, beta):
    with schema_context(alpha.schema):
        cache.set("isolation-probe", "alpha-secret")
        assert cache.make_key("isolation-probe").startswith(f"{alpha.schema}:")
    with schema_context(beta.schema):
        assert cache.get("isolation-probe") is None
    with schema_context("public"):
        assert cache.get("isolation-probe") is None
    with schema_context(alpha.schema):
        assert cache.get("isolation-probe") == "alpha-secret"


def test_cache_keys_written_by_alphas_requests_carry_alphas_schema(alpha, beta):
    cache.clear()
    client = alpha.client("owner")
    assert request(client, "get", "/api/v1/me/").status_code == 200
    assert request(client, "get", "/").status_code == 200

    redis = cache._cache.get_client(None, write=False)  # type: ignore[attr-defined]
    keys = [k.decode() for k in redis.keys("*")]
    assert keys, "the requests should have cached something (module set, throttle history)"
    assert all(k.startswith(f"{alpha.schema}:") for k in keys), keys
    # Beta's throttle budget is untouched by alpha's traffic.
    with schema_context(beta.schema):
        assert cache.get(f"throttle_tenant_{alpha.schema}") is None
        assert cache.get(f"throttle_tenant_{beta.schema}") is None


def test_public_site_shows_no_tenant_data_to_a_tenant_session(alpha, beta, planted):
    markers = planted["alpha"]["markers"] + planted["beta"]["markers"]
    client = on_host(alpha.client("owner"), "localhost")
    failures: list[str] = []
    count = 0
    for route in urlwalk.routes("config.urls_public"):
        for path in urlwalk.paths(route, [alpha.tenant.pk, beta.tenant.pk], "config.urls_public"):
            for method in METHODS:
                response = request(client, method, path)
                count += 1
                if leaks(response, markers):
                    failures.append(f"{method.upper()} {path}: {leaks(response, markers)}")
                if path.startswith("/console/") and "login" not in path and response.status_code < 300:
                    failures.append(f"{method.upper()} {path}: console answered {response.status_code}")
    assert failures == []
    assert count > 10
    assert is_login_redirect(request(client, "get", "/console/"))


def _view(request: Any, **kwargs: Any) -> Any:  # pragma: no cover - never called
    raise AssertionError


def test_the_walker_fails_loudly_on_a_route_it_cannot_exercise():
    import types

    from django.urls import path, re_path

    urlconf = types.ModuleType("probe_urls")
    urlconf.urlpatterns = [  # type: ignore[attr-defined]
        path("items/<int:pk>/", _view, name="item"),
        re_path(r"^odd/(a|b)+/$", _view, name="odd"),
        re_path(r"^code/(?P<code>[A-Z]{3}-\d{4})/$", _view, name="code"),
    ]
    item, odd, code = urlwalk.routes(urlconf)  # type: ignore[arg-type]
    assert list(urlwalk.paths(item, [7, 8], urlconf)) == ["/items/7/", "/items/8/"]  # type: ignore[arg-type]
    with pytest.raises(urlwalk.UnexercisablePattern):
        list(urlwalk.paths(odd, [1], urlconf))  # type: ignore[arg-type]
    with pytest.raises(urlwalk.UnexercisablePattern):
        list(urlwalk.paths(code, [1], urlconf))  # type: ignore[arg-type]
