"""The owner can always take the workspace's data out (issue 13, section 3): a full export from the billing
pages, made by a worker, also while an operator has suspended the workspace; nobody else can, and no
other workspace's file is ever served."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from django_tenants.utils import schema_context

from crm.billing import services
from crm.modules.core import services as core
from crm.tenants.models import Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Any:
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def test_the_owner_exports_while_suspended_and_gets_every_table(
    alpha: Any, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with schema_context(alpha.schema):
        core.customer_create(actor=alpha.users["owner"], name="导出测试有限公司")
    Tenant.objects.filter(pk=alpha.tenant.pk).update(status="suspended", suspended_by_billing=False)
    owner = alpha.client("owner", language="en")

    suspended = owner.get("/customers/")
    assert suspended.status_code == 403
    assert "/billing/export/" in suspended.content.decode()  # the page says how to get the data out
    assert owner.get("/billing/export/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post("/billing/export/", follow=True)
    assert "being prepared" in response.content.decode()

    page = owner.get("/billing/export/").content.decode()
    names = [p.name for p in services.tenant_exports(tenant=alpha.tenant)]
    assert len(names) == 1 and names[0] in page
    download = owner.get(f"/billing/export/{names[0]}")
    assert download.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content)))  # type: ignore[attr-defined]
    assert "core_customer.csv" in archive.namelist()
    assert "导出测试有限公司" in archive.read("core_customer.csv").decode()


def test_a_second_request_while_one_is_pending_is_refused(alpha: Any, media: Any) -> None:
    owner = alpha.users["owner"]
    services.tenant_export_request(actor=owner, tenant=alpha.tenant)  # queued (eager: on commit)
    with pytest.raises(services.ServiceError):
        services.tenant_export_request(actor=owner, tenant=alpha.tenant)


def test_only_the_owner_exports_and_never_another_workspaces_file(
    alpha: Any, beta: Any, media: Any, django_capture_on_commit_callbacks: Any
) -> None:
    for role in ("admin", "manager", "sales", "finance"):
        assert alpha.client(role).get("/billing/export/").status_code == 403, role
    with django_capture_on_commit_callbacks(execute=True):
        beta.client("owner").post("/billing/export/")
    beta_file = services.tenant_exports(tenant=beta.tenant)[0].name
    assert alpha.client("owner").get(f"/billing/export/{beta_file}").status_code == 404
    assert alpha.client("owner").get("/billing/export/..%2F..%2Fetc%2Fpasswd").status_code == 404
