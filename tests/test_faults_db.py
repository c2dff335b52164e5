"""PostgreSQL restarted and down (issue 14 section 4), on the real embedded server of this run.

The server is really restarted (`pg_ctl restart -m fast`, every connection dropped) and really stopped
between requests, so the test runs only where this run started the embedded server itself (CI, `make
test`); with an external DATABASE_URL it is skipped. No test transaction: the data are the session's
committed tenants and a customer written and removed here.

What must hold: after a restart the next page and API request answer 200 (persistent connections are
health-checked before reuse: CONN_HEALTH_CHECKS); while the server is down a page answers the translated
503 "try again" page and the API the error shape, with Retry-After, never a wrong answer; when it is back the
next request works without restarting anything.
"""

from __future__ import annotations

import importlib.util
import subprocess
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from django.test import Client
from django_tenants.utils import schema_context

# Exclusive: the other xdist worker waits while this module restarts and stops the shared server.
pytestmark = [pytest.mark.faults, pytest.mark.exclusive]
ROOT = Path(__file__).resolve().parent.parent


def _embedded() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crm_embedded", ROOT / "deploy" / "embedded.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pg_ctl(embedded: ModuleType, *args: str) -> None:
    subprocess.run(
        [str(embedded._pg_install() / "bin" / "pg_ctl"), "-D", str(embedded._pgdata()), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        **embedded._run_kwargs(),
    )


@pytest.fixture
def server(django_db_setup: dict[str, Any], django_db_blocker: Any) -> Any:
    embedded = _embedded()
    port = int(settings.DATABASES["default"]["PORT"] or 5432)
    if port != embedded.PG_PORT or not (embedded._pgdata() / "postmaster.pid").exists():
        pytest.skip("the database is not this checkout's embedded server: it is not ours to restart")
    with django_db_blocker.unblock():
        yield embedded
        # Whatever happened, the server is up again for the rest of the run.
        if not embedded._port_open(embedded.PG_PORT):
            _pg_ctl(
                embedded,
                "-l",
                str(embedded._pgdata() / "server.log"),
                "-o",
                f"-p {embedded.PG_PORT}",
                "-w",
                "start",
            )
        connection.close()


def test_persistent_connections_are_checked_before_reuse(world):
    # (Also makes pytest-django create the test database before the restart test, which runs without `db`.)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    assert connection.settings_dict["CONN_MAX_AGE"] > 0


def _get(client: Client, path: str) -> Any:
    # What Django's WSGI handler does at every request start (the test client leaves it out to keep a test
    # transaction open; there is none here): connections past CONN_MAX_AGE or marked unusable are closed,
    # and the health check runs again on the next use.
    close_old_connections()
    response = client.get(path)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return response


def test_restart_between_requests_and_requests_while_down(server, django_db_setup):
    from crm.modules.core.models import Customer

    alpha = django_db_setup["alpha"]
    with schema_context(alpha.schema):
        customer = Customer.objects.create(name="重启测试客户", owner=alpha.users["owner"])
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    client = alpha.client("owner")
    client.raise_request_exception = False  # an error is the answer a user would see
    try:
        assert _get(client, "/customers/").status_code == 200
        # When PostgreSQL restarts between two requests (every server connection dropped)
        started = time.monotonic()
        _pg_ctl(server, "-m", "fast", "-w", "restart")
        restart_seconds = time.monotonic() - started
        # Then the next page and API call work, with the same data (the persistent connection was checked)
        page = _get(client, "/customers/")
        assert page.status_code == 200 and "重启测试客户" in page.content.decode()
        api = _get(client, "/api/v1/core/customers/?q=重启测试")
        assert api.status_code == 200 and [r["name"] for r in api.json()["results"]] == ["重启测试客户"]

        # When it is down during requests
        _pg_ctl(server, "-m", "fast", "-w", "stop")
        down_page = _get(client, "/customers/")
        down_api = _get(client, "/api/v1/core/customers/")
        # Then the page is the translated "try again" page and the API its error shape, both 503 + Retry-After
        assert down_page.status_code == 503 and down_page["Retry-After"]
        text = down_page.content.decode()
        assert 'data-status="503"' in text and "重启测试客户" not in text
        assert (
            "暂时" in text
        )  # Chinese first: the workspace's language could not be read, the default is used
        assert down_api.status_code == 503 and down_api["Retry-After"]
        assert down_api.json()["error"]["code"] == "unavailable"

        # When it is back, the next request works without restarting anything
        _pg_ctl(
            server, "-l", str(server._pgdata() / "server.log"), "-o", f"-p {server.PG_PORT}", "-w", "start"
        )
        back = _get(client, "/customers/")
        assert back.status_code == 200 and "重启测试客户" in back.content.decode()
        assert restart_seconds < 30
    finally:
        if server._port_open(server.PG_PORT):
            with schema_context(alpha.schema):
                Customer.objects.filter(pk=customer.pk).delete()
            connection.set_schema_to_public()  # type: ignore[attr-defined]
