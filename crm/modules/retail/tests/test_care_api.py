"""REST API of member care (关怀): templates and notice windows, same rules and permission as the care
page."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from crm.modules.messaging.models import CareSettings, MessageTemplate
from crm.tenants.services import module_set_enabled

from .factories import to_public

API = "/api/v1/retail/care"


def send(client, method, url, data):
    return getattr(client, method)(url, data, content_type="application/json")


def test_list_every_template_in_constant_queries(alpha):
    client = alpha.client("manager")
    first = client.get(f"{API}/templates/")  # creates the defaults on first use, like the care page
    assert first.status_code == 200, first.content
    rows = first.json()
    assert len(rows) == 8 and {(r["kind"], r["channel"]) for r in rows} >= {("birthday", "sms")}
    assert "name" in rows[0]["placeholders"]
    with CaptureQueriesContext(connection) as before:
        assert client.get(f"{API}/templates/").status_code == 200
    with schema_context(alpha.schema):  # more text changes nothing: the list is one query
        MessageTemplate.objects.update(body="{{ name }}" * 50)
    to_public()
    with CaptureQueriesContext(connection) as after:
        assert client.get(f"{API}/templates/").status_code == 200
    assert len(before) == len(after) <= 12, [q["sql"][:80] for q in after]


def test_retrieve_and_update_a_template(alpha):
    client = alpha.client("owner")
    url = f"{API}/templates/birthday/email/"
    got = client.get(url)
    assert got.status_code == 200 and got.json()["subject"]
    changed = send(client, "patch", url, {"body": "{{ name }}，生日快乐", "is_active": False})
    assert changed.status_code == 200, changed.content
    body = changed.json()
    assert (body["body"], body["is_active"], body["subject"]) == (
        "{{ name }}，生日快乐",
        False,
        got.json()["subject"],
    )
    put = send(client, "put", url, {"subject": "祝福", "body": "{{ name }} 好", "is_active": True})
    assert put.status_code == 200 and put.json()["subject"] == "祝福"
    with schema_context(alpha.schema):
        template = MessageTemplate.objects.get(kind="birthday", channel="email")
        assert (template.subject, template.body, template.is_active) == ("祝福", "{{ name }} 好", True)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"body": "{% if name %}亲爱的"}, "body"),  # syntax error
        ({"body": "{% debug %}"}, "body"),  # a tag the sandbox forbids
        ({"body": "  "}, "body"),
        ({"subject": ""}, "subject"),  # an email needs a subject
        ({"subject": "{{ name|nosuchfilter }}"}, "subject"),
    ],
)
def test_invalid_templates_answer_400_in_the_error_shape(alpha, data, field):
    client = alpha.client("owner")
    response = send(client, "patch", f"{API}/templates/tier_upgrade/email/", data)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["message"] and field in error["fields"]
    with schema_context(alpha.schema):
        assert MessageTemplate.objects.get(kind="tier_upgrade", channel="email").body.startswith("亲爱的")


def test_unknown_event_or_channel_is_404(alpha):
    client = alpha.client("owner")
    assert client.get(f"{API}/templates/anniversary/sms/").status_code == 404
    assert client.get(f"{API}/templates/birthday/fax/").status_code == 404


def test_notice_windows(alpha):
    client = alpha.client("manager")
    assert client.get(f"{API}/settings/").json() == {"points_notice_days": 30, "membership_notice_days": 30}
    ok = send(client, "put", f"{API}/settings/", {"points_notice_days": 14, "membership_notice_days": 60})
    assert ok.status_code == 200 and ok.json()["points_notice_days"] == 14
    bad = send(client, "put", f"{API}/settings/", {"points_notice_days": 0, "membership_notice_days": 400})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"points_notice_days", "membership_notice_days"}
    with schema_context(alpha.schema):
        assert CareSettings.objects.get().points_notice_days == 14


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/templates/", None),
        ("get", "/templates/birthday/sms/", None),
        ("patch", "/templates/birthday/sms/", {"body": "x"}),
        ("get", "/settings/", None),
        ("put", "/settings/", {"points_notice_days": 5, "membership_notice_days": 5}),
    ],
)
def test_clerks_and_sales_get_403(alpha, method, path, data):
    for role in ("clerk", "sales"):
        client = alpha.client(role)
        response = client.get(f"{API}{path}") if data is None else send(client, method, f"{API}{path}", data)
        assert response.status_code == 403, (role, response.content)


def test_404_when_retail_is_off(alpha):
    module_set_enabled(tenant=alpha.tenant, module="retail", enabled=False, actor_email="t@test")
    try:
        for path in ("/templates/", "/templates/birthday/sms/", "/settings/"):
            response = alpha.client("owner").get(f"{API}{path}")
            assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    finally:
        to_public()
        module_set_enabled(tenant=alpha.tenant, module="retail", enabled=True, actor_email="t@test")
