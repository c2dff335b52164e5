"""Retention and closing: a cancelled or suspended workspace keeps its data for BILLING_RETENTION_DAYS;
then an operator closes it from the console billing page, which first writes a full export of its schema
(one CSV per table, zipped, under MEDIA_ROOT/exports/<schema>/, downloadable by operators only)."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from crm.billing import services
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.models import DomainEvent, OperatorAudit
from crm.tenants.models import Tenant, TenantStatus
from crm.tenants.services import tenant_suspend

LOGIN = "crm.tenants.accounts.backends.EmailBackend"


def suspend(tenant: Tenant, *, days_ago: int) -> None:
    """Suspended by billing (e.g. the subscription ended) `days_ago` days ago."""
    tenant_suspend(tenant=tenant, reason="subscription ended", by_billing=True)
    DomainEvent.objects.filter(tenant=tenant, name="tenant.suspended").update(
        created_at=timezone.now() - timedelta(days=days_ago)
    )
    tenant.refresh_from_db()


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    settings.BILLING_RETENTION_DAYS = 90
    return tmp_path


@pytest.fixture
def console(operator: Any, public_client: Client) -> Client:
    public_client.force_login(operator, backend=LOGIN)
    return public_client


def test_close_after_retention_exports_the_schema_then_the_host_answers_404(alpha, beta, media, console):
    suspend(alpha.tenant, days_ago=91)
    page = console.get("/console/billing/").content.decode()
    row = page[page.index(f'data-tenant="{alpha.tenant.pk}"') :]
    assert 'data-testid="close"' in row[: row.index("</tr>")]

    response = console.post(f"/console/billing/tenants/{alpha.tenant.pk}/close/")
    assert response.status_code == 302
    alpha.tenant.refresh_from_db()
    assert alpha.tenant.status == TenantStatus.CLOSED
    assert Tenant.objects.get(pk=beta.tenant.pk).status != TenantStatus.CLOSED

    # The export: keyed by the tenant's schema, one CSV per table of that schema only.
    exports = list((media / "exports" / alpha.tenant.schema_name).glob("*.zip"))
    assert len(exports) == 1 and not list((media / "exports").glob("*.part"))
    with zipfile.ZipFile(exports[0]) as archive:
        names = set(archive.namelist())
        assert "accounts_user.csv" in names and "django_migrations.csv" in names
        assert "tenants_tenant.csv" not in names  # public tables are not the tenant's data
        users = list(csv.DictReader(io.TextIOWrapper(archive.open("accounts_user.csv"), "utf-8")))
        everything = b"".join(archive.read(n) for n in names).decode()
    emails = {u["email"] for u in users}
    assert {u.email for u in alpha.users.values()} <= emails
    assert not any("beta" in e for e in emails)
    assert "beta.example.com" not in everything

    # Closed: the workspace's host answers 404 (the schema is kept, not dropped).
    assert Client(HTTP_HOST=alpha.host).get("/auth/login/").status_code == 404
    assert alpha.client("owner", raise_request_exception=False).get("/").status_code == 404
    audit = OperatorAudit.objects.get(tenant=alpha.tenant, action="tenant.close")
    assert audit.detail["export"] == exports[0].name

    # Operators download it from the tenant's billing page; nobody else can.
    page = console.get(f"/console/billing/tenants/{alpha.tenant.pk}/").content.decode()
    assert exports[0].name in page
    download = console.get(f"/console/billing/tenants/{alpha.tenant.pk}/exports/{exports[0].name}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == exports[0].read_bytes()
    assert (
        console.get(f"/console/billing/tenants/{alpha.tenant.pk}/exports/..%2F..%2Fx.zip").status_code == 404
    )
    assert (
        console.get(f"/console/billing/tenants/{beta.tenant.pk}/exports/{exports[0].name}").status_code == 404
    )
    anonymous = Client(HTTP_HOST="localhost")
    response = anonymous.get(f"/console/billing/tenants/{alpha.tenant.pk}/exports/{exports[0].name}")
    assert response.status_code == 302 and "login" in response["Location"]


def test_close_is_refused_during_retention_and_for_live_tenants(alpha, beta, media, console, operator):
    suspend(alpha.tenant, days_ago=89)
    with pytest.raises(ServiceError) as err:
        services.tenant_close(actor=operator, tenant=alpha.tenant)
    assert err.value.code == "in_retention"
    response = console.post(f"/console/billing/tenants/{alpha.tenant.pk}/close/", follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    row = page[page.index(f'data-tenant="{alpha.tenant.pk}"') :]
    assert 'data-testid="close"' not in row[: row.index("</tr>")]  # still in retention: no button
    with pytest.raises(ServiceError) as err:
        services.tenant_close(actor=operator, tenant=beta.tenant)  # live, never suspended
    assert err.value.code == "not_suspended"
    with pytest.raises(PermissionDenied):
        services.tenant_close(actor=alpha.users["owner"], tenant=alpha.tenant)
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == TenantStatus.SUSPENDED
    assert Tenant.objects.get(pk=beta.tenant.pk).status != TenantStatus.CLOSED
    assert not (media / "exports").exists()  # nothing was exported either
    assert not OperatorAudit.objects.filter(action="tenant.close").exists()

    # The retention period counts from the latest suspension and follows the setting.
    assert services.tenant_close(
        actor=operator, tenant=alpha.tenant, now=timezone.now() + timedelta(days=1, minutes=1)
    ).exists()


def test_retention_list_costs_constant_queries(alpha, beta, media, console):
    """The console billing page costs the same number of queries for one or two workspaces in retention."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as ctx:
            page = console.get("/console/billing/")
        assert page.status_code == 200
        return len(ctx.captured_queries), page.content.decode().count('data-testid="retention-row"')

    suspend(alpha.tenant, days_ago=100)
    console.get("/console/billing/")  # warm caches
    small, rows = count()
    assert rows == 1
    suspend(beta.tenant, days_ago=3)
    assert count() == (small, 2)


def test_closing_in_stripe_mode_ends_the_subscription_now(
    alpha, fake_stripe, public_client, operator, media, django_capture_on_commit_callbacks
):
    from crm.billing.models import BillingAccount
    from tests.billing.test_stripe import checkout_completed

    checkout_completed(alpha, fake_stripe, public_client, django_capture_on_commit_callbacks)
    sub_id = BillingAccount.objects.get(tenant=alpha.tenant).stripe_subscription_id
    suspend(alpha.tenant, days_ago=120)  # e.g. an operator suspension that lasted
    services.tenant_close(actor=operator, tenant=alpha.tenant)
    assert fake_stripe.get(sub_id)["status"] == "canceled"
    assert ("DELETE", f"/subscriptions/{sub_id}") in [(m, p) for m, p, _params in fake_stripe.requests]
    assert Tenant.objects.get(pk=alpha.tenant.pk).status == TenantStatus.CLOSED
