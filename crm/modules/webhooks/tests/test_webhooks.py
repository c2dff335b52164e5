"""Outbound webhooks against a real HTTP receiver on loopback: signed deliveries of core events, retries
with backoff, giving up and switching a failing endpoint off, never a delivery to another workspace, bad
input refused with nothing written, and the pages and API only for owners and admins."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context

from crm.modules.core import services as core
from crm.modules.webhooks import services, signing
from crm.modules.webhooks.models import Delivery, DeliveryStatus, Endpoint
from crm.platform.errors import PermissionDenied, ServiceError


class Receiver:
    """A real HTTP server that records each POST and answers with the next queued status (default 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                # Header names are case-insensitive (urllib sends X-crm-signature): keep them lower-cased.
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append({"path": self.path, "headers": headers, "body": body})
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if code < 300 else b"broken")

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def endpoint_for(tenant: Any, url: str, events: list[str]) -> Endpoint:
    with schema_context(tenant.schema):
        return services.endpoint_create(actor=tenant.users["owner"], url=url, events=events)


def test_a_new_customer_is_delivered_signed_to_the_workspace_endpoint(
    alpha: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = endpoint_for(alpha, receiver.url, ["customer.created", "customer.updated"])
    with schema_context(alpha.schema), django_capture_on_commit_callbacks(execute=True):
        customer = core.customer_create(
            actor=alpha.users["sales"], name="杭州明达贸易有限公司", phone="13900001111"
        )

    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert signing.verify(endpoint.secret, request["body"], request["headers"][signing.HEADER.lower()])
    assert not signing.verify("whsec_other", request["body"], request["headers"][signing.HEADER.lower()])
    event = json.loads(request["body"])
    assert event["type"] == "customer.created" and event["workspace"] == "alpha"
    assert event["data"]["id"] == customer.pk and event["data"]["name"] == "杭州明达贸易有限公司"
    assert request["headers"]["x-crm-event"] == "customer.created"
    with schema_context(alpha.schema):
        delivery = Delivery.objects.get(endpoint=endpoint)
        assert (delivery.status, delivery.attempts, delivery.response_status) == (
            DeliveryStatus.SUCCEEDED,
            1,
            200,
        )
        # Attempting a delivered one again sends nothing (a retried task is harmless).
        assert services.attempt(delivery_id=delivery.pk) is None
    assert len(receiver.requests) == 1


def test_updates_carry_the_changed_fields_and_unsubscribed_events_are_not_sent(
    alpha: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint_for(alpha, receiver.url, ["customer.updated"])
    with schema_context(alpha.schema), django_capture_on_commit_callbacks(execute=True):
        customer = core.customer_create(actor=alpha.users["owner"], name="宁波海运")
        core.customer_update(actor=alpha.users["owner"], customer=customer, city="宁波")
    assert [e["type"] for e in receiver.events()] == ["customer.updated"]
    assert receiver.events()[0]["data"]["changed"] == ["city"]


def test_failures_retry_with_backoff_then_give_up_and_switch_the_endpoint_off(
    alpha: Any, receiver: Receiver, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOK_MAX_ATTEMPTS, settings.WEBHOOK_DISABLE_AFTER = 3, 3
    receiver.statuses = [500, 503, 500]
    endpoint = endpoint_for(alpha, receiver.url, ["customer.created"])
    with schema_context(alpha.schema):
        with django_capture_on_commit_callbacks(execute=True):
            core.customer_create(actor=alpha.users["owner"], name="失败测试")
        delivery = Delivery.objects.get(endpoint=endpoint)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 1)
        assert delivery.next_attempt_at is not None
        wait = delivery.next_attempt_at - timezone.now()
        assert timedelta(seconds=25) < wait <= timedelta(seconds=30)
        assert services.sweep() == 0  # not due yet: nothing sent
        for expected_attempts in (2, 3):
            Delivery.objects.filter(pk=delivery.pk).update(
                next_attempt_at=timezone.now() - timedelta(seconds=1)
            )
            assert services.sweep() == 1
            delivery.refresh_from_db()
            assert delivery.attempts == expected_attempts
        assert delivery.status == DeliveryStatus.FAILED and delivery.response_status == 500
        endpoint.refresh_from_db()
        assert not endpoint.is_active and endpoint.consecutive_failures == 3 and endpoint.disabled_reason
        # Switched off: new events are not even recorded for it.
        with django_capture_on_commit_callbacks(execute=True):
            core.customer_create(actor=alpha.users["owner"], name="关掉以后")
        assert Delivery.objects.filter(endpoint=endpoint).count() == 1
    assert len(receiver.requests) == 3


def test_an_unreachable_endpoint_is_a_failed_attempt_not_an_error(
    alpha: Any, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint = endpoint_for(alpha, "http://127.0.0.1:9/nothing-listens", ["customer.created"])
    with schema_context(alpha.schema):
        with django_capture_on_commit_callbacks(execute=True):
            core.customer_create(actor=alpha.users["owner"], name="无人接听")
        delivery = Delivery.objects.get(endpoint=endpoint)
        assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
        assert delivery.response_status is None and "Connection refused" in delivery.error


def test_no_delivery_ever_reaches_another_workspace(
    alpha: Any, beta: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    other = Receiver()
    try:
        endpoint_for(alpha, receiver.url, ["customer.created"])
        endpoint_for(beta, other.url, ["customer.created"])
        with schema_context(alpha.schema), django_capture_on_commit_callbacks(execute=True):
            core.customer_create(actor=alpha.users["owner"], name="只属于阿尔法")
        assert [e["workspace"] for e in receiver.events()] == ["alpha"]
        assert other.requests == []
        with schema_context(beta.schema):
            assert Delivery.objects.count() == 0
    finally:
        other.close()


def test_handover_is_one_event_listing_every_moved_customer(
    alpha: Any, receiver: Receiver, django_capture_on_commit_callbacks: Any
) -> None:
    endpoint_for(alpha, receiver.url, ["customer.handed_over"])
    with schema_context(alpha.schema):
        a = core.customer_create(actor=alpha.users["sales"], name="交接一")
        b = core.customer_create(actor=alpha.users["sales"], name="交接二")
        with django_capture_on_commit_callbacks(execute=True):
            core.customer_handover(
                actor=alpha.users["owner"], from_user=alpha.users["sales"], to_users=[alpha.users["sales2"]]
            )
    events = receiver.events()
    assert [e["type"] for e in events] == ["customer.handed_over"]
    moved = {c["id"]: c["owner"] for c in events[0]["data"]["customers"]}
    assert moved[a.pk] == moved[b.pk] == alpha.users["sales2"].pk


@pytest.mark.parametrize(
    ("url", "events", "field"),
    [
        ("ftp://example.com/x", ["customer.created"], "url"),
        ("not a url", ["customer.created"], "url"),
        ("http://127.0.0.1:8000/x\x00", ["customer.created"], "url"),
        ("https://example.com/x", [], "events"),
        ("https://example.com/x", ["customer.deleted_forever"], "events"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    alpha: Any, url: str, events: list[str], field: str
) -> None:
    with schema_context(alpha.schema):
        with pytest.raises(ServiceError) as refused:
            services.endpoint_create(actor=alpha.users["owner"], url=url, events=events)
        assert field in refused.value.fields
        assert Endpoint.objects.count() == 0


def test_private_addresses_and_plain_http_are_refused_in_production(alpha: Any, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS = False
    settings.WEBHOOKS_ALLOW_HTTP = False
    with schema_context(alpha.schema):
        for url in (
            "https://127.0.0.1/x",
            "https://10.1.2.3/x",
            "https://localhost/x",
            "http://example.com/x",
        ):
            with pytest.raises(ServiceError):
                services.endpoint_create(actor=alpha.users["owner"], url=url, events=["customer.created"])
        assert Endpoint.objects.count() == 0


def test_only_owners_and_admins_manage_webhooks(alpha: Any) -> None:
    with schema_context(alpha.schema):
        for role in ("manager", "sales", "finance", "clerk"):
            with pytest.raises(PermissionDenied):
                services.endpoint_create(
                    actor=alpha.users[role], url="https://example.com/x", events=["customer.created"]
                )
    for role, expected in (("owner", 200), ("admin", 200), ("manager", 403), ("sales", 403)):
        client = alpha.client(role)
        assert client.get("/webhooks/").status_code == expected, role
        assert client.get("/api/v1/webhooks/endpoints/").status_code == expected, role


def test_the_pages_register_an_endpoint_and_send_a_test_event(alpha: Any, receiver: Receiver) -> None:
    client = alpha.client("owner", language="en")
    response = client.post(
        "/webhooks/", {"url": receiver.url, "description": "ERP", "events": ["customer.created", "ping"]}
    )
    assert response.status_code == 302
    detail = response["Location"]
    page = client.get(detail)
    assert page.status_code == 200
    with schema_context(alpha.schema):
        endpoint = Endpoint.objects.get()
    assert endpoint.secret in page.content.decode()
    response = client.post(f"/webhooks/{endpoint.pk}/test/", follow=True)
    assert "Test event delivered (HTTP 200)" in response.content.decode()
    assert [e["type"] for e in receiver.events()] == ["ping"]
    # A failed test says why, in the user's language.
    receiver.statuses = [500]
    response = alpha.client("owner", language="zh-hans").post(f"/webhooks/{endpoint.pk}/test/", follow=True)
    assert "HTTP 500" in response.content.decode()
    connection.set_schema_to_public()  # type: ignore[attr-defined]


def test_the_api_creates_lists_and_refuses_bad_bodies(alpha: Any, receiver: Receiver) -> None:
    client = alpha.client("owner")
    created = client.post(
        "/api/v1/webhooks/endpoints/",
        {"url": receiver.url, "events": ["customer.created"]},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["events"] == ["customer.created"]
    listed = client.get("/api/v1/webhooks/endpoints/").json()
    assert [e["id"] for e in listed["results"]] == [body["id"]]
    for bad in (
        [1],
        "x",
        {"url": receiver.url, "events": "customer.created"},
        {"url": "ftp://x", "events": ["ping"]},
    ):
        response = client.post("/api/v1/webhooks/endpoints/", bad, content_type="application/json")
        assert response.status_code == 400, (bad, response.content)
        assert "error" in response.json()
    tested = client.post(f"/api/v1/webhooks/endpoints/{body['id']}/test/")
    assert tested.status_code == 200 and tested.json()["status"] == "succeeded"
    deliveries = client.get(f"/api/v1/webhooks/deliveries/?endpoint={body['id']}").json()
    assert [d["event"] for d in deliveries["results"]] == ["ping"]
    assert client.get("/api/v1/webhooks/deliveries/?endpoint=abc").status_code == 400
    with schema_context(alpha.schema):
        assert Endpoint.objects.count() == 1
