"""Scoped API keys (issue 13, section 2): a key acts as a chosen colleague with that colleague's data
scope, may be read-only or limited to modules, and failed key checks are limited per address and per
workspace (429, the key not even looked up)."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django_tenants.utils import schema_context

from crm.modules.core import services as core
from crm.modules.core.models import Customer
from crm.tenants.accounts import services as accounts


def key_for(tenant: Any, **options: Any) -> str:
    with schema_context(tenant.schema):
        _key, raw = accounts.api_key_create(actor=tenant.users["owner"], name="集成", **options)
    return raw


def api(tenant: Any, raw: str, ip: str = "10.0.0.1") -> Client:
    return Client(HTTP_HOST=tenant.host, HTTP_AUTHORIZATION=f"Api-Key {raw}", REMOTE_ADDR=ip)


def test_a_key_acting_as_a_rep_sees_what_the_rep_sees(alpha: Any) -> None:
    with schema_context(alpha.schema):
        core.customer_create(actor=alpha.users["sales"], name="代表自己的客户")
        core.customer_create(actor=alpha.users["sales2"], name="别人的客户")
        everyone = Customer.objects.count()
    owner_key = key_for(alpha)
    rep_key = key_for(alpha, user=alpha.users["sales"])
    seen_by_owner = api(alpha, owner_key).get("/api/v1/core/customers/").json()["count"]
    seen_by_rep = [c["name"] for c in api(alpha, rep_key).get("/api/v1/core/customers/").json()["results"]]
    assert seen_by_owner == everyone
    assert "代表自己的客户" in seen_by_rep and "别人的客户" not in seen_by_rep


def test_a_read_only_key_reads_and_never_writes(alpha: Any) -> None:
    raw = key_for(alpha, read_only=True)
    client = api(alpha, raw)
    assert client.get("/api/v1/core/customers/").status_code == 200
    refused = client.post("/api/v1/core/customers/", {"name": "只读写入"}, content_type="application/json")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    with schema_context(alpha.schema):
        assert not Customer.objects.filter(name="只读写入").exists()


def test_a_module_limited_key_reaches_only_its_modules(alpha: Any) -> None:
    raw = key_for(alpha, modules=["retail"])
    client = api(alpha, raw)
    assert client.get("/api/v1/retail/members/").status_code == 200
    assert client.get("/api/v1/me/").status_code == 200
    assert client.get("/api/v1/core/customers/").status_code == 403
    assert client.get("/api/v1/users/").status_code == 403


def test_bad_key_options_are_refused(alpha: Any) -> None:
    client = alpha.client("owner")
    for body in (
        {"name": "x", "modules": ["no-such-module"]},
        {"name": "x", "user": 999999},
        {"name": "x", "modules": "retail"},
        {"name": ""},
        [1],
    ):
        response = client.post("/api/v1/api-keys/", body, content_type="application/json")
        assert response.status_code == 400, (body, response.content)
    created = client.post(
        "/api/v1/api-keys/",
        {"name": "零售只读", "read_only": True, "modules": ["retail"], "user": alpha.users["manager"].pk},
        content_type="application/json",
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["read_only"], body["modules"], body["user"]) == (True, ["retail"], alpha.users["manager"].pk)


def test_failed_key_checks_are_limited_per_address_then_per_workspace(alpha: Any, settings: Any) -> None:
    settings.API_AUTH_FAILURES_PER_IP, settings.API_AUTH_FAILURES_PER_TENANT = 3, 5
    good = key_for(alpha)
    for _attempt in range(3):
        assert api(alpha, "crm_wrong", ip="10.0.0.7").get("/api/v1/me/").status_code == 401
    # Past the limit even the right key is not looked up from that address ...
    blocked = api(alpha, good, ip="10.0.0.7").get("/api/v1/me/")
    assert blocked.status_code == 429 and blocked.json()["error"]["code"] == "throttled"
    # ... while another address still works, until the workspace as a whole has seen too many failures.
    assert api(alpha, good, ip="10.0.0.8").get("/api/v1/me/").status_code == 200
    for ip in ("10.0.0.8", "10.0.0.9"):
        assert api(alpha, "crm_wrong", ip=ip).get("/api/v1/me/").status_code == 401
    assert api(alpha, good, ip="10.0.0.10").get("/api/v1/me/").status_code == 429


def test_the_settings_page_creates_a_scoped_key(alpha: Any) -> None:
    client = alpha.client("owner", language="en")
    page = client.post(
        "/settings/api-keys/",
        {"name": "门店系统", "user": alpha.users["clerk"].pk, "read_only": "on", "modules": ["retail"]},
    )
    assert page.status_code == 200
    assert "Copy this key now" in page.content.decode()
    with schema_context(alpha.schema):
        from crm.tenants.accounts.models import ApiKey

        key = ApiKey.objects.get(name="门店系统")
    assert (key.user_id, key.read_only, key.modules) == (alpha.users["clerk"].pk, True, ["retail"])
    assert "Read-only" in client.get("/settings/api-keys/").content.decode()
