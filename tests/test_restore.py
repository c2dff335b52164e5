"""One workspace restored from its export (issue 14, section 5): a round trip with data in every module on
main and a file, in place and into a new schema, compared table by table (row counts and checksums) and
file bytes; refusals (another workspace, a newer migration, a tampered CSV) change nothing; beta is never
touched; only operators restore."""

from __future__ import annotations

import importlib
import json
import shutil
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models import ProtectedError
from django_tenants.utils import schema_context

from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.models import OperatorAudit
from crm.tenants import backup
from crm.tenants.models import RestoreJob, Tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings: Any, tmp_path: Any) -> Path:
    settings.MEDIA_ROOT = str(tmp_path)
    return Path(tmp_path)


def _suite_factories() -> list[Any]:
    found = []
    for package in ("crm.modules.core", "crm.modules.retail", "crm.modules.sales", "crm.modules.webhooks"):
        try:
            suite = importlib.import_module(f"{package}.suite")
        except ModuleNotFoundError:
            continue
        for make in dict.fromkeys(suite.LIST_FACTORIES.values()):
            found.append(make)
    return found


def _fill(ws: Any, media: Path) -> Path:
    """A little data in every module there is, and one stored document file. Returns the file's path."""
    from crm.modules.core.models import Customer, Document
    from crm.modules.messaging.models import MessageTemplate, OutboundMessage
    from crm.modules.retail import services as retail
    from crm.modules.retail.tests.factories import make_shop
    from tests.dummy_module.factories import order

    owner = ws.users["owner"]
    with schema_context(ws.schema):
        for make in _suite_factories():
            make(n=2, owner=owner)
        shop = make_shop(ws.users)
        retail.sale_record(actor=ws.users["clerk"], member=shop.member, store=shop.store, amount="188.50")
        MessageTemplate.objects.create(kind="birthday", channel="sms", body="生日快乐 {{ name }}")
        OutboundMessage.objects.create(
            channel="sms",
            recipient="13800138000",
            body="您好",
            kind="birthday",
            idempotency_key=f"restore-{ws.schema}",
        )
        order(owner, Decimal("1200"))
        customer = Customer.objects.create(name="恢复测试有限公司", owner=owner)
        rel = f"{ws.schema}/documents/{customer.pk}/contract.pdf"
        path = media / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"%PDF-1.4 \x00\xff contract bytes")
        Document.objects.create(customer=customer, file=rel, name="合同", size=path.stat().st_size)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    return path


def _mutate(ws: Any, file: Path) -> None:
    from crm.modules.core.models import Customer
    from crm.modules.retail.models import Member

    with schema_context(ws.schema):
        Member.objects.update(name="改过的")
        # Customers that no module holds records on are deleted; the others are renamed.
        suite = Customer.objects.filter(name__startswith="套件客户")
        for customer in suite:
            try:
                with transaction.atomic():
                    customer.delete()
            except ProtectedError:
                Customer.objects.filter(pk=customer.pk).update(name="改名的客户")
        Customer.objects.create(name="导出之后新建", owner=ws.users["owner"])
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    file.write_bytes(b"overwritten")


def _rewrite(src: Path, dst: Path, *, member: str, change: Any) -> Path:
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for item in old.infolist():
            data = old.read(item.filename)
            new.writestr(item.filename, change(data) if item.filename == member else data)
    return dst


def _expected(export: Path) -> dict[str, dict[str, Any]]:
    with zipfile.ZipFile(export) as archive:
        manifest = json.loads(archive.read("manifest.json"))
    return {t: {"rows": v["rows"], "md5": v["md5"]} for t, v in manifest["tables"].items()}


def test_round_trip_in_place_is_identical_table_by_table_and_files(
    alpha: Any, beta: Any, operator: Any, media: Path
) -> None:
    file = _fill(alpha, media)
    original = file.read_bytes()
    beta_before = backup.schema_stats(beta.schema)
    export = backup.workspace_export_write(tenant=alpha.tenant)
    expected = _expected(export)
    assert expected == backup.schema_stats(alpha.schema)
    for table in (
        "core_customer",
        "core_contact",
        "core_activity",
        "core_task",
        "core_product",
        "retail_member",
        "retail_sale",
        "retail_pointsentry",
        "messaging_outboundmessage",
        "dummy_dummyorder",
        "core_document",
    ):
        assert expected[table]["rows"] > 0, table
    with zipfile.ZipFile(export) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert manifest["tenant"] == {
            "id": alpha.tenant.pk,
            "slug": "alpha",
            "schema": alpha.schema,
            "name": alpha.tenant.name,
        }
        assert ["core", "0001_initial"] in manifest["migrations"]
        (entry,) = manifest["files"]
        assert archive.read("files/" + entry["path"]) == original

    _mutate(alpha, file)
    assert backup.schema_stats(alpha.schema) != expected

    from django.core.cache import cache

    for ws in (alpha, beta):
        with schema_context(ws.schema):
            cache.set("restore-probe", ws.schema)
    result = backup.workspace_restore(
        actor=operator, archive_path=export, tenant=alpha.tenant, mode="in_place"
    )
    assert result.schema == alpha.schema and result.files == 1
    with schema_context(alpha.schema):
        assert cache.get("restore-probe") is None  # the restored workspace's cached values are dropped
    with schema_context(beta.schema):
        assert cache.get("restore-probe") == beta.schema
    assert backup.schema_stats(alpha.schema) == expected
    assert file.read_bytes() == original
    assert backup.schema_stats(beta.schema) == beta_before
    with schema_context(alpha.schema):  # sequences follow the restored ids: a new row gets a fresh one
        from crm.modules.core.models import Customer

        Customer.objects.create(name="恢复后新建", owner=alpha.users["owner"])


def test_round_trip_into_a_new_schema_switches_and_keeps_the_old_one(
    alpha: Any, beta: Any, operator: Any, media: Path
) -> None:
    file = _fill(alpha, media)
    original = file.read_bytes()
    beta_before = backup.schema_stats(beta.schema)
    export = backup.workspace_export_write(tenant=alpha.tenant)
    expected = _expected(export)
    _mutate(alpha, file)
    mutated = backup.schema_stats(alpha.schema)

    result = backup.workspace_restore(
        actor=operator, archive_path=export, tenant=alpha.tenant, mode="new_schema"
    )
    tenant = Tenant.objects.get(pk=alpha.tenant.pk)
    assert tenant.schema_name == result.schema != alpha.schema and result.old_schema == alpha.schema
    assert backup.schema_stats(result.schema) == expected
    assert backup.schema_stats(alpha.schema) == mutated  # the old schema is kept as it was
    assert file.read_bytes() == original
    assert backup.schema_stats(beta.schema) == beta_before
    # The exports follow the workspace to its new schema folder.
    assert [p.name for p in backup.exports_list(tenant)] == [export.name]
    # The workspace answers from the new schema.
    with schema_context(result.schema):
        from crm.modules.core.models import Customer

        assert not Customer.objects.filter(name="导出之后新建").exists()
        assert Customer.objects.filter(name="恢复测试有限公司").exists()
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    Tenant.objects.filter(pk=alpha.tenant.pk).update(schema_name=alpha.schema)


def test_refuses_another_workspaces_export(alpha: Any, beta: Any, operator: Any, media: Path) -> None:
    export = backup.workspace_export_write(tenant=beta.tenant)
    before = backup.schema_stats(alpha.schema)
    with pytest.raises(ServiceError) as caught:
        backup.workspace_restore(actor=operator, archive_path=export, tenant=alpha.tenant, mode="in_place")
    assert caught.value.code == "other_workspace" and "beta" in str(caught.value.message)
    assert backup.schema_stats(alpha.schema) == before


def test_refuses_an_export_with_a_migration_unknown_here(alpha: Any, operator: Any, media: Path) -> None:
    export = backup.workspace_export_write(tenant=alpha.tenant)

    def newer(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["migrations"].append(["core", "9999_from_the_future"])
        return json.dumps(manifest).encode()

    copy = _rewrite(export, media / "newer.zip", member="manifest.json", change=newer)
    with pytest.raises(ServiceError) as caught:
        backup.workspace_restore(actor=operator, archive_path=copy, tenant=alpha.tenant, mode="in_place")
    assert caught.value.code == "newer_schema" and "core.9999_from_the_future" in str(caught.value.message)

    def older(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["migrations"].remove(["core", "0001_initial"])
        return json.dumps(manifest).encode()

    copy = _rewrite(export, media / "older.zip", member="manifest.json", change=older)
    with pytest.raises(ServiceError) as caught:
        backup.workspace_restore(actor=operator, archive_path=copy, tenant=alpha.tenant, mode="in_place")
    assert caught.value.code == "older_schema"
    before = backup.schema_stats(alpha.schema)
    with pytest.raises(ServiceError) as caught:  # the list no longer matches the migration records it carries
        backup.workspace_restore(actor=operator, archive_path=copy, tenant=alpha.tenant, mode="new_schema")
    assert caught.value.code == "bad_manifest"
    assert Tenant.objects.get(pk=alpha.tenant.pk).schema_name == alpha.schema
    assert backup.schema_stats(alpha.schema) == before


def test_a_tampered_csv_changes_nothing_and_names_the_table(alpha: Any, operator: Any, media: Path) -> None:
    file = _fill(alpha, media)
    export = backup.workspace_export_write(tenant=alpha.tenant)
    _mutate(alpha, file)
    before = backup.schema_stats(alpha.schema)
    copy = _rewrite(
        export,
        media / "tampered.zip",
        member="core_customer.csv",
        change=lambda data: data.replace("恢复测试".encode(), "篡改测试".encode()),
    )
    for mode in ("in_place", "new_schema"):
        with pytest.raises(ServiceError) as caught:
            backup.workspace_restore(actor=operator, archive_path=copy, tenant=alpha.tenant, mode=mode)
        assert caught.value.code == "checksum" and "core_customer" in str(caught.value.message)
        assert backup.schema_stats(alpha.schema) == before
        assert Tenant.objects.get(pk=alpha.tenant.pk).schema_name == alpha.schema
    assert file.read_bytes() == b"overwritten"  # files are placed only after the load succeeded

    copy = _rewrite(
        export,
        media / "badfile.zip",
        member=next(n for n in zipfile.ZipFile(export).namelist() if n.startswith("files/")),
        change=lambda d: d + b"x",
    )
    with pytest.raises(ServiceError) as caught:
        backup.workspace_restore(actor=operator, archive_path=copy, tenant=alpha.tenant, mode="in_place")
    assert caught.value.code == "checksum"
    assert backup.schema_stats(alpha.schema) == before


def test_only_operators_restore(alpha: Any, media: Path) -> None:
    export = backup.workspace_export_write(tenant=alpha.tenant)
    for role in ("owner", "admin"):
        with pytest.raises(PermissionDenied):
            backup.workspace_restore(
                actor=alpha.users[role], archive_path=export, tenant=alpha.tenant, mode="in_place"
            )
    assert alpha.client("owner").get(f"/console/tenants/{alpha.tenant.pk}/restore/").status_code in (403, 404)


def test_the_console_restores_as_a_job_with_progress_and_audit(
    alpha: Any, operator: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from django.test import Client

    export = backup.workspace_export_write(tenant=alpha.tenant)
    expected = _expected(export)
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator, backend="crm.tenants.accounts.backends.EmailBackend")
    url = f"/console/tenants/{alpha.tenant.pk}/restore/"
    page = client.get(url)
    assert page.status_code == 200 and export.name in page.content.decode()

    wrong = client.post(url, {"archive": export.name, "mode": "in_place", "confirm": "beta"})
    assert wrong.status_code == 400 and not RestoreJob.objects.exists()
    outside = client.post(url, {"archive": "../../etc/passwd", "mode": "in_place", "confirm": "alpha"})
    assert outside.status_code == 400 and not RestoreJob.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"archive": export.name, "mode": "in_place", "confirm": "alpha"})
    assert response.status_code == 302
    job = RestoreJob.objects.get()
    assert job.status == "done", job.error
    assert job.done == job.total == len(expected) and job.heartbeat_at is not None
    assert backup.schema_stats(alpha.schema) == expected
    status = client.get(f"{url}{job.pk}/")
    assert status.status_code == 200
    actions = set(OperatorAudit.objects.filter(tenant=alpha.tenant).values_list("action", flat=True))
    assert {"tenant.restore.request", "tenant.restore"} <= actions


def test_the_management_command_restores(alpha: Any, operator: Any, media: Path) -> None:
    from io import StringIO

    from django.core.management import call_command

    export = backup.workspace_export_write(tenant=alpha.tenant)
    expected = _expected(export)
    copy = media / "offsite.zip"
    shutil.copy(export, copy)
    out = StringIO()
    call_command(
        "workspace_restore",
        "alpha",
        str(copy),
        "--mode",
        "in_place",
        "--operator",
        operator.email,
        stdout=out,
    )
    assert "restored" in out.getvalue()
    assert backup.schema_stats(alpha.schema) == expected


def test_a_restore_whose_worker_died_is_requeued_then_failed(
    alpha: Any, operator: Any, media: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from crm.platform.jobs import jobs_sweep

    settings.CRM_JOB_MAX_ATTEMPTS = 1
    export = backup.workspace_export_write(tenant=alpha.tenant)
    old = timezone.now() - timedelta(hours=1)
    job = RestoreJob.objects.create(
        tenant=alpha.tenant,
        created_by=operator,
        archive=export.name,
        mode="in_place",
        status="running",
        started_at=old,
        heartbeat_at=old,
    )
    with django_capture_on_commit_callbacks(execute=True):
        jobs_sweep()  # requeued: the eager task runs the restore again from the start
    job.refresh_from_db()
    assert job.attempts == 1 and job.recovery == "resumed" and job.status == "done", job.error
    RestoreJob.objects.filter(pk=job.pk).update(status="running", heartbeat_at=old)
    jobs_sweep()
    job.refresh_from_db()
    assert job.status == "failed" and job.recovery == "gave_up"


def _an_older_version() -> tuple[list[tuple[str, str]], tuple[str, str]]:
    """Targets for this code minus one migration of a tenant app that nothing else depends on (as if the
    export was made before that migration was shipped), and that migration."""
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(None, ignore_no_migrations=True).graph
    depended = {p.key for node in graph.nodes for p in graph.node_map[node].parents}
    for app in ("retail", "messaging", "core"):
        leaves = [n for n in graph.leaf_nodes() if n[0] == app]
        if len(leaves) != 1 or leaves[0] in depended:
            continue
        (leaf,) = leaves
        parents = [p.key for p in graph.node_map[leaf].parents if p.key[0] == app]
        if len(parents) == 1:
            return [n for n in graph.leaf_nodes() if n != leaf] + parents, leaf
    pytest.skip("no tenant-app migration to leave out")


def test_an_older_export_is_migrated_forward_in_a_new_schema(alpha: Any, operator: Any, media: Path) -> None:
    from crm.tenants.migrator import schema_is_current

    targets, left_out = _an_older_version()
    scratch = "old_version_scratch"
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{scratch}"')
    backup.schema_migrate_to(scratch, targets)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with schema_context(scratch):  # the left-out migration is not core's: products are as today
        from crm.modules.core.models import Product

        Product.objects.create(code="OLD1", name="旧版本产品")
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    # An export of alpha made by that older version (alpha's id and slug, the older schema).
    old = Tenant(pk=alpha.tenant.pk, slug="alpha", name=alpha.tenant.name, schema_name=scratch)
    export = backup.workspace_export_write(tenant=old)
    with zipfile.ZipFile(export) as archive:
        assert list(left_out) not in json.loads(archive.read("manifest.json"))["migrations"]

    with pytest.raises(ServiceError) as caught:
        backup.workspace_restore(actor=operator, archive_path=export, tenant=alpha.tenant, mode="in_place")
    assert caught.value.code == "older_schema" and ".".join(left_out) in str(caught.value.message)

    result = backup.workspace_restore(
        actor=operator, archive_path=export, tenant=alpha.tenant, mode="new_schema"
    )
    assert result.migrated_forward and schema_is_current(result.schema)
    with schema_context(result.schema):
        from crm.modules.core.models import Product

        assert list(Product.objects.values_list("code", flat=True)) == ["OLD1"]
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    Tenant.objects.filter(pk=alpha.tenant.pk).update(schema_name=alpha.schema)


def test_a_refused_restore_job_says_why_and_changes_nothing(
    alpha: Any, beta: Any, operator: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    from django.test import Client

    # beta's export copied into alpha's folder: listed there, refused by the worker as another workspace's.
    theirs = backup.workspace_export_write(tenant=beta.tenant)
    folder = backup.export_dir(alpha.tenant)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(theirs, folder / "alpha-20990101-000000.zip")
    before = backup.schema_stats(alpha.schema)
    client = Client(HTTP_HOST="localhost")
    client.force_login(operator, backend="crm.tenants.accounts.backends.EmailBackend")
    url = f"/console/tenants/{alpha.tenant.pk}/restore/"
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"archive": "alpha-20990101-000000.zip", "mode": "new_schema", "confirm": "alpha"})
    job = RestoreJob.objects.get()
    assert job.status == "failed" and "beta" in job.error
    fragment = client.get(f"{url}{job.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="failed"' in fragment and "beta" in fragment and "<html" not in fragment
    assert backup.schema_stats(alpha.schema) == before
    assert OperatorAudit.objects.filter(tenant=alpha.tenant, action="tenant.restore.failed").exists()
