"""The API never answers 500 to bad input (issue 13 section 1, issue 9 section 2.8): every API route of the
tenant urlconf (platform and every module, enabled), as the owner, gets bodies that are not JSON objects
(``[1]``, ``"x"``), NUL bytes in text, and GETs with NUL bytes and non-numbers in the query parameters;
answers are below 500 and errors keep the one shape ``{"error": {code, message, fields}}``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from crm.platform.registry import registry
from tests import urlwalk
from tests.fixtures import TenantFixture
from tests.test_module_contract import URLCONF, set_module
from tests.test_module_suite import MODULES, call, list_factories, view_methods

BAD_BODIES = {
    "list": "[1]",
    "string": '"x"',
    "nul": json.dumps({"a": "\u0000", "name": "\u0000", "q": "\u0000"}),
}
BAD_QUERY = "?q=%00&customer=abc&owner=x%00&days=x&page=x&type=%00&all=%00&user=x&confirm=%00"


def _api_routes() -> list[urlwalk.Route]:
    return [r for r in urlwalk.routes(URLCONF) if "".join(r.regexes).startswith("^api/")]


def _error_shape_ok(response: Any) -> bool:
    if response.status_code < 400:
        return True
    try:
        error = json.loads(response.content_bytes)["error"]
    except (ValueError, KeyError, TypeError):
        return False
    return {"code", "message", "fields"} <= set(error)


def _planted_ids(tenant: TenantFixture) -> list[int]:
    """Ids of rows that exist, so that views which load their object before reading the body read it too:
    a customer, a contact and a member (every module's suite rows are made)."""
    from crm.modules.core.models import Contact, Customer
    from crm.modules.retail.models import Member

    with schema_context(tenant.schema):
        for manifest in MODULES:
            for make_rows in list_factories(manifest).values():
                make_rows(n=1, owner=tenant.users["owner"])
        ids = {
            model.objects.order_by("pk").values_list("pk", flat=True).first()
            for model in (Customer, Contact, Member)
        }
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return sorted(i for i in ids if i is not None)


def test_no_api_route_answers_500_to_bad_bodies_ids_or_query_parameters(alpha):
    for manifest in registry.sellable():
        if manifest.available:
            set_module(alpha.tenant, manifest.slug, True)
    set_module(alpha.tenant, "dummy", True)
    ids = _planted_ids(alpha)
    client = alpha.client("owner")
    failures: list[str] = []
    tried = 0
    for route in _api_routes():
        methods = view_methods(route)
        for path in urlwalk.paths(route, ids, URLCONF):
            for method in [m for m in methods if m in ("post", "put", "patch")]:
                for label, raw in BAD_BODIES.items():
                    response = call(client, method, path, raw=raw)
                    tried += 1
                    if response.status_code >= 500 or not _error_shape_ok(response):
                        failures.append(f"{method.upper()} {path} body {label}: {response.status_code}")
            if "get" in methods:
                response = call(client, "get", path + BAD_QUERY)
                tried += 1
                if response.status_code >= 500 or not _error_shape_ok(response):
                    failures.append(f"GET {path}{BAD_QUERY}: {response.status_code}")
    assert failures == []
    assert tried > 100


@pytest.mark.parametrize(
    "path",
    ["/api/v1/core/customers/abc/", "/api/v1/core/customers/%00/", "/api/v1/core/tasks/x/complete/"],
)
def test_non_numeric_ids_are_json_404s(alpha, path):
    response = call(alpha.client("owner"), "get", path)
    assert response.status_code == 404
    assert json.loads(response.content_bytes)["error"]["code"] == "not_found"


def test_a_rep_gets_403_on_defining_custom_fields_whatever_the_body(alpha):
    rep = alpha.client("sales")
    for raw in BAD_BODIES.values():
        assert call(rep, "post", "/api/v1/core/custom-fields/", raw=raw).status_code == 403
    admin = alpha.client("admin")
    response = call(admin, "post", "/api/v1/core/custom-fields/", raw="[1]")
    assert response.status_code == 400
    assert json.loads(response.content_bytes)["error"]["fields"]["non_field_errors"]


def test_nested_field_errors_are_text_under_dotted_keys(alpha):
    with schema_context(alpha.schema):
        from crm.modules.retail.models import Store

        store = Store.objects.create(name="套件店", code="SUITE-N")
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    body = {"member": 1, "store": store.pk, "lines": [{"quantity": "many"}]}
    response = call(alpha.client("owner"), "post", "/api/v1/retail/sales/", body=body)
    assert response.status_code == 400
    fields = json.loads(response.content_bytes)["error"]["fields"]
    assert list(fields) == ["lines.0.quantity"]
    assert all(isinstance(m, str) and "ErrorDetail" not in m for m in fields["lines.0.quantity"])


def test_validation_errors_carry_a_code_per_field(alpha):
    owner = alpha.client("owner")
    response = call(owner, "post", "/api/v1/core/customers/", body={"name": "", "email": "not-an-email"})
    assert response.status_code == 400
    error = json.loads(response.content_bytes)["error"]
    assert error["code"] == "invalid"
    assert set(error["field_codes"]) == set(error["fields"]) >= {"name", "email"}
    assert error["field_codes"]["name"] == ["blank"]
    assert error["field_codes"]["email"] == ["invalid"]
    response = call(owner, "post", "/api/v1/core/customers/", body={"name": "x" * 300})
    error = json.loads(response.content_bytes)["error"]
    assert error["field_codes"]["name"] == ["max_length"]
    # other errors keep the plain shape: one code, no field codes
    error = json.loads(call(owner, "get", "/api/v1/core/customers/999999999/").content_bytes)["error"]
    assert error["code"] == "not_found" and "field_codes" not in error


def _customer_id(tenant: TenantFixture) -> int:
    from crm.modules.core.suite import customers

    with schema_context(tenant.schema):
        customers(n=1, owner=tenant.users["owner"])
        from crm.modules.core.models import Customer

        pk = Customer.objects.order_by("-pk").values_list("pk", flat=True)[0]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return int(pk)


@pytest.mark.parametrize(
    "method,path,body,field",
    [
        ("post", "/api/v1/core/customers/", {"name": "甲", "custom_fields": [1]}, "custom_fields"),
        ("post", "/api/v1/core/customers/{pk}/share/", {"user": "abc"}, "user"),
        ("post", "/api/v1/core/customers/{pk}/merge/", {"source": "x"}, "source"),
        (
            "post",
            "/api/v1/core/custom-fields/",
            {"key": "k", "label": "长" * 101, "field_type": "text"},
            "label",
        ),
        ("post", "/api/v1/core/tasks/1/complete/", {"undo": "perhaps"}, "undo"),
        ("post", "/api/v1/core/weekly-reports/", {"week_start": "not a date"}, "week_start"),
        ("post", "/api/v1/core/activities/1/comments/", {"body": "a\u0000b"}, "body"),
    ],
)
def test_each_defect_class_is_a_400_with_the_field(alpha, method, path, body, field):
    path = path.format(pk=_customer_id(alpha))
    response = call(alpha.client("owner"), method, path, body=body)
    assert response.status_code == 400, response.content_bytes
    assert field in json.loads(response.content_bytes)["error"]["fields"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/core/customers/?q=%00",
        "/api/v1/core/customers/?owner=abc",
        "/api/v1/core/contacts/?customer=x",
        "/api/v1/core/products/?q=a%00b",
        "/api/v1/core/search/?q=%00",
        "/api/v1/retail/results/?days=soon",
        "/api/v1/retail/members/?q=%00",
    ],
)
def test_bad_query_parameters_are_400s(alpha, path):
    response = call(alpha.client("owner"), "get", path)
    assert response.status_code == 400, (path, response.status_code)
    error = json.loads(response.content_bytes)["error"]
    assert set(error) == {"code", "message", "fields", "field_codes"}
    assert set(error["field_codes"]) == set(error["fields"])


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/core/customers/", "/api/v2/x"])
def test_the_api_on_the_public_host_is_a_json_404(world, public_client, path):
    response = public_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert json.loads(response.content)["error"]["code"] == "not_found"


def test_a_user_without_a_team_and_language_conforms_and_language_is_a_choice(alpha):
    # Given a rep without a team (team_name null) and without a language (the workspace default)
    client = alpha.client("owner")
    me = alpha.client("sales")
    assert (
        me.patch("/api/v1/me/", {"language": "klingon"}, content_type="application/json").status_code == 400
    )
    assert me.patch("/api/v1/me/", {"language": ""}, content_type="application/json").status_code == 200
    rows = client.get("/api/v1/users/").json()["results"]
    assert any(r["team_name"] is None for r in rows)
    assert {r["language"] for r in rows} <= {"", "zh-hans", "en"}


def test_api_messages_follow_accept_language(alpha):
    from tests.test_api import make_key

    key = make_key(alpha)
    body = json.dumps({"name": ""})
    headers = {"HTTP_AUTHORIZATION": f"Api-Key {key}", "content_type": "application/json"}
    client = alpha.client(None)

    def message(lang: str) -> str:
        response = client.post("/api/v1/core/customers/", body, HTTP_ACCEPT_LANGUAGE=lang, **headers)
        assert response.status_code == 400
        return str(json.loads(response.content)["error"]["message"])

    english, chinese, unknown = message("en-US,en;q=0.9"), message("zh-CN,zh;q=0.9"), message("fr-FR")
    assert english.isascii() and not chinese.isascii()
    assert unknown == chinese  # an unsupported language: the workspace default (Chinese)
