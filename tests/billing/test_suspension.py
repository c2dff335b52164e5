"""A workspace suspended by billing is read-only: every write route (HTML and API) refuses with a clear
error and changes nothing; reads, exports and the billing page keep working. The routes are discovered
from the tenant URLconf, so routes added later are covered without editing this test."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from crm.platform.middleware import ALWAYS_ALLOWED_PREFIXES, READ_ONLY_ALLOWED_WRITES
from crm.tenants.models import ModuleChange, TenantStatus
from crm.tenants.services import tenant_suspend

# Signing in is a POST that writes nothing of the tenant's; see test_login_works_while_read_only.
# Signing in, resetting a password and switching language stay open (they change no business data).
SIGN_IN = READ_ONLY_ALLOWED_WRITES
CONVERTERS = {"int": "1", "str": "x", "slug": "x", "uuid": str(uuid.UUID(int=1)), "path": "x"}


def tenant_routes() -> list[str]:
    """Every concrete path of the tenant URLconf, with sample values for its parameters."""
    found: list[str] = []

    def walk(patterns: Any, prefix: str) -> None:
        for p in patterns:
            raw = str(p.pattern)
            if raw.startswith("^"):  # regex routes (catch-alls): one sample path
                raw = re.sub(r"\(\?P<\w+>[^)]*\)", "1", raw)
                raw = re.sub(r"[\^\$]|\.\*", "", raw).replace("\\", "")
            part = re.sub(r"<(?:(\w+):)?\w+>", lambda m: CONVERTERS.get(m.group(1) or "str", "x"), raw)
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + part)
            elif isinstance(p, URLPattern):
                found.append("/" + prefix + part)

    walk(get_resolver("config.urls_tenant").url_patterns, "")
    return sorted(set(found))


@pytest.fixture
def read_only(alpha):
    tenant_suspend(tenant=alpha.tenant, reason="overdue invoice", by_billing=True)
    alpha.tenant.refresh_from_db()
    return alpha


def test_every_write_route_refuses_and_changes_nothing(read_only):
    routes = tenant_routes()
    assert len(routes) > 5 and "/billing/checkout/" in routes
    owner = read_only.client("owner", language="en")
    api = read_only.client("owner")
    changes_before = ModuleChange.objects.filter(tenant=read_only.tenant).count()
    checked = 0
    for path in routes:
        if path.startswith(ALWAYS_ALLOWED_PREFIXES) or path.startswith(SIGN_IN):
            continue
        for method in ("post", "put", "patch", "delete"):
            client = api if path.startswith("/api/") else owner
            response = getattr(client, method)(path, data={}, content_type="application/json")
            assert response.status_code == 423, (method, path, response.status_code)
            if path.startswith("/api/"):
                assert response.json()["error"]["code"] == "tenant_read_only"
            else:
                assert "read-only" in response.content.decode()
            checked += 1
    assert checked >= 4 * 5
    assert ModuleChange.objects.filter(tenant=read_only.tenant).count() == changes_before
    read_only.tenant.refresh_from_db()
    assert read_only.tenant.status == TenantStatus.SUSPENDED


def test_reads_and_billing_work_while_read_only(read_only):
    # Other modules' pages may fail on sample ids; only the read-only gate matters here.
    owner = read_only.client("owner", raise_request_exception=False)
    assert owner.get("/").status_code == 200
    assert owner.get("/billing/").status_code == 200
    assert owner.get("/api/v1/billing/invoices/").status_code == 200
    for path in tenant_routes():
        if "<" in path:
            continue
        # No read is refused for being read-only (some need parameters and answer 404 or 405 instead).
        assert owner.get(path).status_code != 423, path


def test_operator_suspension_is_not_read_only_but_closed(alpha):
    tenant_suspend(tenant=alpha.tenant, reason="abuse", by_billing=False)
    assert alpha.client("owner").get("/").status_code == 403


def test_login_works_while_read_only(read_only):
    from django.test import Client

    from tests.fixtures import PASSWORD

    client = Client(HTTP_HOST=read_only.host)
    response = client.post("/auth/login/", {"username": "owner@alpha.example.com", "password": PASSWORD})
    assert response.status_code == 302
