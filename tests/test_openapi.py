"""OpenAPI schema of the tenant API: generated without a single warning, valid, and true to the answers.

drf-spectacular cannot introspect a plain APIView that reads request.data by hand: it logs an error and
leaves the view out of the schema. Failing on any warning or error here means a new view without a
documented request and response fails the build instead of silently vanishing from /api/v1/docs/.
The last test compares real answers of the hand-documented views with their documented schemas.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import schema_context
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

from crm.modules.core.exports import XLSX
from crm.modules.core.models import Activity, Contact, Task
from crm.modules.core.tests.factories import customer

API = "/api/v1"


@pytest.fixture(scope="module")
def generated() -> tuple[dict[str, Any], list[str]]:
    """The schema as /api/v1/schema/ serves it, and every warning and error logged while generating it."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator(urlconf="config.urls_tenant").get_schema(request=None, public=True)
    problems = [*GENERATOR_STATS._warn_cache, *GENERATOR_STATS._error_cache]
    GENERATOR_STATS.reset()
    return schema, problems


@pytest.fixture
def openapi(generated: tuple[dict[str, Any], list[str]]) -> dict[str, Any]:
    return generated[0]


def test_schema_generates_without_any_warning_or_error(generated):
    _schema, problems = generated
    assert problems == [], "\n".join(problems)


def test_schema_is_valid_openapi(openapi):
    validate_schema(openapi)


def test_every_route_is_documented_with_its_answer(openapi):
    from crm.billing.api import urlpatterns as billing_urls
    from crm.modules.core.api_urls import urlpatterns as core_urls

    # Each route of the core and billing APIs is in the schema (an ignored view would be missing).
    for prefix, patterns in (("core", core_urls), ("billing", billing_urls)):
        for pattern in patterns:
            route = str(pattern.pattern).replace("<int:pk>", "{id}")
            assert f"{API}/{prefix}/{route}" in openapi["paths"], route
    # Every operation documents a success answer, with a body unless it is 204 No Content.
    ids = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            ids.append(operation["operationId"])
            success = {code: r for code, r in operation["responses"].items() if code.startswith("2")}
            assert success, (method, path)
            for code, response in success.items():
                assert code == "204" or response.get("content"), (method, path, code)
    assert len(ids) == len(set(ids))
    assert openapi["paths"][f"{API}/core/imports/{{id}}/"]["post"]["operationId"] == "core_imports_start"
    # Retail's care API, with the path parameters limited to the real events and channels.
    care = openapi["paths"][f"{API}/retail/care/templates/{{kind}}/{{channel}}/"]
    assert {"get", "put", "patch"} <= set(care)
    params = {p["name"]: p["schema"].get("enum") for p in care["get"]["parameters"]}
    assert "birthday" in params["kind"] and sorted(params["channel"]) == ["email", "sms"]
    assert {"get"} <= set(openapi["paths"][f"{API}/retail/care/templates/"])
    assert {"get", "put"} <= set(openapi["paths"][f"{API}/retail/care/settings/"])


def test_exports_are_documented_as_files(openapi):
    export = openapi["paths"][f"{API}/core/customers/export/"]["get"]
    content = export["responses"]["200"]["content"]
    assert set(content) == {"text/csv", XLSX}
    assert all(c["schema"] == {"type": "string", "format": "binary"} for c in content.values())
    params = {p["name"]: p for p in export["parameters"]}
    assert params["type"]["schema"]["enum"] == ["csv", "xlsx"]
    assert {"q", "stage", "owner", "tag"} <= set(params)


def _json_schema(node: Any, components: dict[str, Any]) -> Any:
    """OpenAPI 3.0 schema -> plain JSON Schema: $refs inlined, `nullable` as a null alternative, oneOf as
    anyOf, and no properties beyond the documented ones (so an undocumented field in an answer fails too)."""
    if isinstance(node, list):
        return [_json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[-1]], components)
    out = {k: _json_schema(v, components) for k, v in node.items() if k != "nullable"}
    if "oneOf" in out:
        # Formats are not checked, so a blank e-mail matches both "email" and "blank" alternatives.
        out["anyOf"] = out.pop("oneOf")
    if node.get("type") == "object" and "properties" in node:
        out.setdefault("additionalProperties", False)
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


def _conforms(openapi: dict[str, Any], response: Any, method: str, path: str, status: int) -> Any:
    """Assert the answer has the status and matches the schema documented for it; returns its JSON."""
    assert response.status_code == status, (method, path, response.content[:500])
    documented = openapi["paths"][f"{API}{path}"][method]["responses"][str(status)]
    if status == 204:
        assert "content" not in documented and not response.content
        return None
    schema = _json_schema(
        documented["content"]["application/json"]["schema"], openapi["components"]["schemas"]
    )
    data = response.json()
    jsonschema.validate(data, schema)
    return data


def test_answers_match_the_documented_schemas(alpha, openapi):
    # Given customers, a contact, an activity, a task and a pool customer in alpha
    u = alpha.users
    with schema_context(alpha.schema):
        target = customer(u["sales"], "明达科技有限公司", phone="13900000001")
        source = customer(u["sales"], "明达科技分公司")
        contact = Contact.objects.create(customer=target, name="王经理", phone="13900000002")
        activity = Activity.objects.create(
            customer=target, author=u["sales"], result="谈妥", occurred_at=timezone.now()
        )
        task = Task.objects.create(title="回访", due_at=timezone.now(), owner=u["owner"], customer=target)
        pooled = customer(None, "公海客户", in_pool=True)
    owner, sales = alpha.client("owner"), alpha.client("sales")
    t, colleague = target.pk, u["sales2"].pk

    def call(
        client: Any, method: str, path: str, status: int, data: Any = None, pk: Any = "", query: str = ""
    ) -> Any:
        """`path` is the documented template; {id} is filled with `pk` for the request."""
        url = f"{API}{path.replace('{id}', str(pk))}{query}"
        args = (url,) if data is None else (url, data)
        kw = {"content_type": "application/json"} if data is not None else {}
        return _conforms(openapi, getattr(client, method)(*args, **kw), method, path, status)

    # When the hand-documented views answer, then each answer matches its documented schema.
    found = call(owner, "get", "/core/search/", 200, query="?q=1390000000")  # both phones
    assert [x["id"] for x in found["customers"]] == [t]
    assert found["contacts"][0]["id"] == contact.pk
    call(owner, "get", "/core/contacts/{id}/", 200, pk=contact.pk)
    assert call(owner, "patch", "/core/contacts/{id}/", 200, {"title": "经理"}, contact.pk)["title"] == "经理"
    call(owner, "post", "/core/activities/{id}/comments/", 201, {"body": "好"}, activity.pk)
    assert call(owner, "post", "/core/tasks/{id}/complete/", 200, {}, task.pk)["done_at"] is not None
    call(owner, "post", "/core/customers/{id}/share/", 201, {"user": colleague, "can_edit": True}, t)
    call(owner, "delete", "/core/customers/{id}/share/", 204, pk=t, query=f"?user={colleague}")
    assert call(owner, "post", "/core/customers/{id}/merge/", 200, {"source": source.pk}, t)["id"] == t
    assert call(owner, "get", "/core/customers/{id}/history/", 200, pk=t), "the share and merge are audited"
    field = {
        "key": "industry",
        "label": "行业",
        "field_type": "choice",
        "choices": ["制造"],
        "required": False,
    }
    assert call(owner, "post", "/core/custom-fields/", 201, field) == field
    assert call(owner, "get", "/core/custom-fields/", 200) == [field]
    plan = call(owner, "post", "/core/handover/", 200, {"from_user": u["sales"].pk, "to_users": [colleague]})
    assert plan["confirmed"] is False and plan["customers"] == {str(t): colleague}
    assert call(sales, "post", "/core/pool/{id}/claim/", 200, pk=pooled.pk)["owner"] == u["sales"].pk
    report = call(sales, "post", "/core/weekly-reports/", 201, {})
    call(sales, "patch", "/core/weekly-reports/{id}/", 200, {"summary": "本周拜访三家"}, report["id"])
    assert call(sales, "get", "/core/weekly-reports/{id}/", 200, pk=report["id"])["summary"] == "本周拜访三家"
    duplicate = call(owner, "post", "/core/customers/", 409, {"name": "明达科技有限公司"})
    assert [d["id"] for d in duplicate["error"]["duplicates"]] == [t]

    csv = SimpleUploadedFile("客户.csv", "名称,电话\n甲公司,13800000000\n".encode(), content_type="text/csv")
    response = owner.post(f"{API}/core/imports/", {"kind": "customers", "file": csv})
    job = _conforms(openapi, response, "post", "/core/imports/", 201)
    assert job["preview"] == [["甲公司", "13800000000"]]
    call(owner, "get", "/core/imports/{id}/", 200, pk=job["id"])
    assert call(owner, "post", "/core/imports/{id}/", 202, {}, job["id"])["status"] != job["status"]

    # Retail care: templates and notice windows answer as documented (errors in the shared shape).
    assert len(call(owner, "get", "/retail/care/templates/", 200)) == 8
    path = "/retail/care/templates/{kind}/{channel}/"
    url = path.replace("{kind}", "birthday").replace("{channel}", "sms")
    response = owner.patch(f"{API}{url}", {"body": "{{ name }} 生日快乐"}, content_type="application/json")
    assert _conforms(openapi, response, "patch", path, 200)["body"] == "{{ name }} 生日快乐"
    response = owner.get(f"{API}{url}")
    assert _conforms(openapi, response, "get", path, 200)["channel"] == "sms"
    settings = {"points_notice_days": 10, "membership_notice_days": 20}
    assert call(owner, "put", "/retail/care/settings/", 200, settings) == settings
    assert call(owner, "get", "/retail/care/settings/", 200) == settings

    # The export answers with the documented content types.
    for kind, content_type in (("csv", "text/csv"), ("xlsx", XLSX)):
        response = owner.get(f"{API}/core/customers/export/", {"type": kind})
        assert response.status_code == 200 and response["Content-Type"].startswith(content_type)

    # Billing: the change preview builds its answer by hand.
    call(owner, "get", "/billing/preview/", 200, query="?module=dummy&action=enable")
    call(owner, "get", "/billing/invoices/", 200)


def test_read_only_and_upload_limit_answers_are_documented_on_writes_only(openapi):
    customers = openapi["paths"][f"{API}/core/customers/"]
    assert {"413", "423"} <= set(customers["post"]["responses"])
    assert "423" not in customers["get"]["responses"]
    assert customers["post"]["responses"]["423"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
