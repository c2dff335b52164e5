"""Errors and log lines name the tenant they happened in.

Sentry is tested end to end: the real sentry-sdk sends its envelope over HTTP to a tiny local ingestion
endpoint (the DSN points at 127.0.0.1), so the transport, compression and envelope format are the SDK's own.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from crm.platform.logging import TenantLogFilter, sentry_init

logger = logging.getLogger("crm.tests.observability")


class BoomError(RuntimeError):
    pass


def boom_view(request: HttpRequest) -> HttpResponse:
    raise BoomError("kaboom-from-view")


def log_view(request: HttpRequest) -> HttpResponse:
    logger.warning("hello-from-view")
    return HttpResponse("ok")


# This module doubles as the tenant URLconf of the tests below (override_settings(ROOT_URLCONF=...)).
urlpatterns = [path("boom/", boom_view), path("log/", log_view)]


class FakeSentry:
    """Receives what sentry-sdk posts to <dsn>/api/<project>/envelope/ and decodes the envelope items."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "br":
                    import brotli  # type: ignore[import-not-found]

                    body = brotli.decompress(body)
                outer.paths.append(self.path)
                outer.events.extend(parse_envelope(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def dsn(self) -> str:
        return f"http://public0123456789abcdef@127.0.0.1:{self.server.server_address[1]}/42"

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.events if predicate(e)]
            if found:
                return found
            time.sleep(0.05)
        return []


def parse_envelope(body: bytes) -> list[dict[str, Any]]:
    """Sentry envelope: a header line, then (item header line, payload) pairs; payloads of type "event"
    are JSON. Lengths are optional in the item header; without one the payload ends at the newline."""
    events = []
    stream = io.BytesIO(body)
    stream.readline()  # envelope header (event_id, dsn, sent_at)
    while True:
        header_line = stream.readline()
        if not header_line.strip():
            break
        header = json.loads(header_line)
        if "length" in header:
            payload = stream.read(header["length"])
            stream.readline()
        else:
            payload = stream.readline()
        if header.get("type") == "event":
            events.append(json.loads(payload))
    return events


@pytest.fixture
def fake_sentry() -> Iterator[FakeSentry]:
    import sentry_sdk

    fake = FakeSentry()
    fake.thread.start()
    try:
        yield fake
    finally:
        # Back to "no DSN" so that no other test reports anywhere.
        sentry_sdk.get_client().close(timeout=2)
        sentry_sdk.init(dsn=None)
        fake.server.shutdown()
        fake.server.server_close()


def test_sentry_init_is_a_noop_without_dsn() -> None:
    assert sentry_init("", "test") is False


@override_settings(ROOT_URLCONF=__name__)
def test_exception_in_a_tenant_view_reaches_sentry_tagged_with_the_tenant(alpha, fake_sentry) -> None:
    import sentry_sdk

    # Given Sentry pointed at the local ingestion endpoint (the middleware tags scopes when a DSN is set)
    with override_settings(SENTRY_DSN=fake_sentry.dsn):
        assert sentry_init(fake_sentry.dsn, "test") is True
        client = Client(HTTP_HOST=alpha.host, raise_request_exception=False)

        # When a view on alpha's host raises
        response = client.get("/boom/")
        sentry_sdk.flush(timeout=5)

    # Then the 500 reaches Sentry as an event tagged with alpha's schema
    assert response.status_code == 500
    events = fake_sentry.wait_for(
        lambda e: any(v.get("value") == "kaboom-from-view" for v in e.get("exception", {}).get("values", []))
    )
    assert events, f"no event received; posts: {fake_sentry.paths}"
    event = events[0]
    assert event["tags"]["tenant"] == alpha.schema
    assert event["environment"] == "test"
    assert fake_sentry.paths[0] == "/api/42/envelope/"
    # No personal data by default: no cookies or user e-mail are sent along.
    assert "cookies" not in event.get("request", {})
    assert "email" not in event.get("user", {})


def test_event_outside_a_request_is_tagged_with_the_connection_schema(alpha, fake_sentry) -> None:
    """Celery tasks run with the connection switched to the tenant's schema (tenant-schemas-celery)."""
    import sentry_sdk
    from django_tenants.utils import schema_context

    sentry_init(fake_sentry.dsn, "test")
    with schema_context(alpha.schema):
        sentry_sdk.capture_message("task-side-message")
    sentry_sdk.flush(timeout=5)

    events = fake_sentry.wait_for(lambda e: e.get("message") == "task-side-message")
    assert events and events[0]["tags"]["tenant"] == alpha.schema


@pytest.fixture
def console_output() -> Iterator[io.StringIO]:
    """The stream of the console handler configured by settings.LOGGING (its filter and formatter)."""
    handlers = [
        h for h in logging.getLogger().handlers if any(isinstance(f, TenantLogFilter) for f in h.filters)
    ]
    assert handlers, "LOGGING must install TenantLogFilter on the root console handler"
    handler = handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(previous)


@override_settings(ROOT_URLCONF=__name__)
def test_log_lines_of_a_request_carry_the_tenant(alpha, beta, console_output) -> None:
    # When the same view logs on two tenants' hosts
    assert Client(HTTP_HOST=alpha.host).get("/log/").status_code == 200
    assert Client(HTTP_HOST=beta.host).get("/log/").status_code == 200

    # Then each line names the tenant it was served for
    lines = [line for line in console_output.getvalue().splitlines() if "hello-from-view" in line]
    assert len(lines) == 2
    assert f"[tenant={alpha.schema}]" in lines[0]
    assert f"[tenant={beta.schema}]" in lines[1]


def test_log_lines_outside_a_request_carry_the_connection_schema(alpha, console_output) -> None:
    from django_tenants.utils import schema_context

    with schema_context(alpha.schema):
        logger.warning("inside-task")
    logger.warning("on-public")

    text = console_output.getvalue()
    assert f"[tenant={alpha.schema}] crm.tests.observability: inside-task" in text
    assert "[tenant=public] crm.tests.observability: on-public" in text


@pytest.mark.parametrize(("dsn", "active"), [("http://key@127.0.0.1:9/1", "True"), ("", "False")])
def test_every_process_starts_sentry_from_the_environment(dsn: str, active: str) -> None:
    """Django start-up (web, Celery, commands all go through it) turns Sentry on exactly when SENTRY_DSN
    is set, whatever the settings module."""
    env = {**os.environ, "SENTRY_DSN": dsn, "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    script = "import django, sentry_sdk; django.setup(); print(sentry_sdk.get_client().is_active())"
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == active
