"""Import (UTF-8 CSV, GBK CSV, .xlsx; bad rows write nothing; upsert by key) and export of visible lists."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context
from openpyxl import Workbook, load_workbook

from crm.modules.core import imports
from crm.modules.core.models import Customer, ImportJob, Product
from crm.platform.errors import PermissionDenied, ServiceError

from .factories import customer

HEADER = "客户名称,手机,邮箱,城市,阶段,来源,联系人,标签\n"
ROWS = (
    "上海明达科技有限公司,138 0013 8000,info@mingda.cn,上海,意向客户,展会,王经理,重点;华东\n"
    "杭州远大贸易,13900000000,,杭州,线索,转介绍,,\n"
)


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def run(
    actor, data: bytes, filename="客户.csv", kind="customers", key="phone", mapping=None, all_or_nothing=False
):
    job = imports.import_upload(actor=actor, kind=kind, filename=filename, data=data)
    imports.import_start(
        actor=actor, job=job, mapping=mapping or job.mapping, key=key, all_or_nothing=all_or_nothing
    )
    return imports.import_run(job.pk)


def test_utf8_csv_import_with_guessed_mapping(alpha, media):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        job = imports.import_upload(
            actor=rep, kind="customers", filename="客户.csv", data=("\ufeff" + HEADER + ROWS).encode("utf-8")
        )
        assert job.encoding == "utf-8-sig"
        assert job.mapping == {
            "0": "name",
            "1": "phone",
            "2": "email",
            "3": "city",
            "4": "stage",
            "5": "source",
            "6": "contact_name",
            "7": "tags",
        }
        assert str(media) in job.stored_path and alpha.schema in job.stored_path  # stored per tenant
        assert imports.import_preview(job)[1][0] == "杭州远大贸易"
        imports.import_start(actor=rep, job=job, mapping=job.mapping, key="phone")
        job = imports.import_run(job.pk)
        assert (job.status, job.created_count, job.error_count) == ("done", 2, 0)
        c = Customer.objects.get(phone="13800138000")
        assert (c.stage, c.source, c.tags, c.owner_id) == ("prospect", "exhibition", ["重点", "华东"], rep.pk)
        assert c.contacts.get().name == "王经理" and c.name_initials.startswith("shmd")
        assert imports.import_run(job.pk).created_count == 2  # re-delivered task: nothing runs twice
        assert Customer.objects.count() == 2


def test_gbk_csv_import(alpha):
    with schema_context(alpha.schema):
        job = run(alpha.users["sales"], (HEADER + ROWS).encode("gbk"))
        assert job.encoding == "gb18030" and job.created_count == 2
        assert Customer.objects.filter(name="杭州远大贸易").exists()


def test_xlsx_import_and_upsert_by_phone(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        existing = customer(rep, "旧名字", phone="13800138000")
        wb = Workbook()
        ws = wb.active
        ws.append(["名称", "电话", "城市"])
        ws.append(["新名字", 13800138000, "苏州"])  # typed as a number in Excel
        ws.append(["全新客户", "13700000000", "无锡"])
        buf = io.BytesIO()
        wb.save(buf)
        job = run(rep, buf.getvalue(), filename="customers.xlsx")
        assert (job.encoding, job.created_count, job.updated_count) == ("xlsx", 1, 1)
        existing.refresh_from_db()
        assert (existing.name, existing.city) == ("新名字", "苏州")


def test_bad_rows_write_nothing_and_are_reported(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        bad = (
            HEADER
            + ROWS
            + ",13600000000,,,,,,\n某公司,13600000001,not-an-email,,火星,,,\n某公司2,13900000000,,,,,,\n"
        )
        job = run(rep, bad.encode("utf-8"), all_or_nothing=True)
        assert job.status == "failed" and job.created_count == 0
        assert Customer.objects.count() == 0  # all or nothing
        problems = {(e["row"], e["field"]) for e in job.errors}
        # Row 4 has no name, row 5 an unknown stage (its bad email alone would be a warning); row 6 repeats
        # row 3's phone: merged into it, not an error.
        assert problems == {(4, "name"), (5, "stage")}
        report = list(csv.reader(io.StringIO(imports.import_error_report(job).lstrip("\ufeff"))))
        assert len(report) == 1 + job.error_count


def test_upsert_refuses_customers_of_other_reps(alpha):
    with schema_context(alpha.schema):
        customer(alpha.users["sales2"], "别人的", phone="13900000000")
        job = run(alpha.users["sales"], (HEADER + ROWS).encode("utf-8"), all_or_nothing=True)
        assert job.status == "failed" and [e["row"] for e in job.errors] == [3]
        assert Customer.objects.count() == 1
        # By default the other rows are imported and this one skipped.
        job = run(alpha.users["sales"], (HEADER + ROWS).encode("utf-8"))
        assert (job.status, job.created_count, job.skipped_count) == ("done", 1, 1)
        assert Customer.objects.count() == 2
        Customer.objects.filter(phone="13800138000").delete()
        # An admin may update everyone's customers.
        job = run(alpha.users["admin"], (HEADER + ROWS).encode("utf-8"))
        assert (job.status, job.created_count, job.updated_count) == ("done", 1, 1)


def test_product_import_and_bad_input(alpha):
    with schema_context(alpha.schema):
        data = (
            '商品编码,商品名称,规格,单位,含税单价\nA1,螺纹钢,Φ12,吨,"4,150.00"\n'.encode()
            + "A1,螺纹钢,Φ16,吨,4120\n".encode()
        )
        job = run(alpha.users["manager"], data, filename="p.csv", kind="products")
        assert job.created_count == 2 and str(Product.objects.get(specification="Φ12").price) == "4150.00"
        job = run(alpha.users["manager"], data.replace(b"4120", b"4000"), filename="p.csv", kind="products")
        assert (job.created_count, job.updated_count) == (0, 1)  # the unchanged one is not rewritten
        with pytest.raises(PermissionDenied):
            imports.import_upload(actor=alpha.users["sales"], kind="products", filename="p.csv", data=data)
        with pytest.raises(ServiceError):
            imports.import_upload(actor=alpha.users["sales"], kind="customers", filename="x.txt", data=b"a")
        with pytest.raises(ServiceError):
            imports.import_upload(
                actor=alpha.users["sales"], kind="customers", filename="x.xlsx", data=b"garbage"
            )
        assert ImportJob.objects.filter(created_by=alpha.users["sales"]).count() == 0


def test_import_pages_flow(alpha, django_capture_on_commit_callbacks):
    client = alpha.client("sales")
    upload = SimpleUploadedFile("客户.csv", (HEADER + ROWS).encode("gbk"), content_type="text/csv")
    response = client.post("/import/", {"kind": "customers", "file": upload})
    assert response.status_code == 302
    url = response["Location"]
    page = client.get(url).content.decode()
    assert 'data-testid="import-mapping"' in page and "上海明达科技有限公司" in page
    form = {
        f"col_{i}": f
        for i, f in enumerate(["name", "phone", "email", "city", "stage", "source", "contact_name", "tags"])
    }
    with django_capture_on_commit_callbacks(execute=True):  # the task is queued on commit, eager in tests
        assert client.post(url, {**form, "key": "phone"}).status_code == 302
    assert 'data-testid="import-done"' in client.get(url).content.decode()
    with schema_context(alpha.schema):
        assert Customer.objects.count() == 2
    assert alpha.client("sales2").get(url).status_code == 404


def test_export_only_visible_customers_csv_and_xlsx(alpha):
    with schema_context(alpha.schema):
        customer(alpha.users["sales"], "我的客户")
        customer(alpha.users["sales2"], "别人的客户")
        customer(alpha.users["sales"], '=HYPERLINK("http://evil")')
    client = alpha.client("sales")
    response = client.get("/customers/export/?format=csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert "我的客户" in text and "别人的客户" not in text
    assert "'=HYPERLINK" in text  # a name never runs as a spreadsheet formula
    response = client.get("/customers/export/?format=xlsx")
    ws = load_workbook(io.BytesIO(response.content)).worksheets[0]
    names = sorted(r[0] for r in ws.iter_rows(min_row=2, values_only=True))
    assert names == sorted(["我的客户", '\'=HYPERLINK("http://evil")'])
    owner_csv = b"".join(alpha.client("owner").get("/customers/export/").streaming_content).decode(
        "utf-8-sig"
    )
    assert "别人的客户" in owner_csv
    assert alpha.client("clerk").get("/customers/export/").status_code == 403


def test_documents_stored_per_tenant_and_downloadable_only_by_viewers(alpha, media):
    with schema_context(alpha.schema):
        c = customer(alpha.users["sales"], "甲公司")
    rep = alpha.client("sales")
    upload = SimpleUploadedFile("合同.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    assert rep.post(f"/customers/{c.pk}/documents/", {"file": upload}).status_code == 302
    with schema_context(alpha.schema):
        doc = c.documents.get()
        assert doc.file.name.startswith(f"{alpha.schema}/documents/{c.pk}/") and doc.name == "合同.pdf"
        assert (media / doc.file.name).read_bytes() == b"%PDF-1.4 test"
    response = rep.get(f"/documents/{doc.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF-1.4 test"
    assert alpha.client("manager").get(f"/documents/{doc.pk}/").status_code == 200
    assert alpha.client("sales2").get(f"/documents/{doc.pk}/").status_code == 404
    assert alpha.client("clerk").get(f"/documents/{doc.pk}/").status_code == 403
    api = rep.get(f"/api/v1/core/documents/?customer={c.pk}").json()
    assert [d["name"] for d in api["results"]] == ["合同.pdf"]
    # The file follows the customer in a handover; the former owner loses access.
    with schema_context(alpha.schema):
        from crm.modules.core import services

        plan = services.customer_handover(
            actor=alpha.users["admin"], from_user=alpha.users["sales"], to_users=[alpha.users["sales2"]]
        )
        assert plan.documents == 1
    assert rep.get(f"/documents/{doc.pk}/").status_code == 404
    assert alpha.client("sales2").get(f"/documents/{doc.pk}/").status_code == 200


def test_import_and_export_through_the_api(alpha, django_capture_on_commit_callbacks):
    client = alpha.client("sales")
    upload = SimpleUploadedFile("客户.csv", (HEADER + ROWS).encode("gbk"), content_type="text/csv")
    response = client.post("/api/v1/core/imports/", {"kind": "customers", "file": upload})
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["encoding"] == "gb18030" and job["preview"][0][0] == "上海明达科技有限公司"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/api/v1/core/imports/{job['id']}/", {"key": "phone"}, content_type="application/json"
        )
    assert response.status_code == 202
    done = client.get(f"/api/v1/core/imports/{job['id']}/").json()
    assert (done["status"], done["created_count"], done["progress"]["done"]) == ("done", 2, 2)
    assert alpha.client("sales2").get(f"/api/v1/core/imports/{job['id']}/").status_code == 404
    response = client.get("/api/v1/core/customers/export/?type=xlsx&stage=prospect")
    ws = load_workbook(io.BytesIO(response.content)).worksheets[0]
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == ["上海明达科技有限公司"]


def test_import_lists_new_rows_that_look_like_existing_customers(alpha):
    with schema_context(alpha.schema):
        existing = customer(alpha.users["sales2"], "上海明达科技", phone="02100000000")
        job = run(alpha.users["sales"], (HEADER + ROWS).encode("utf-8"))
        assert (job.status, job.created_count, job.warning_count) == ("done", 2, 1)
        w = job.warnings[0]
        new = Customer.objects.get(phone="13800138000")
        assert (w["row"], w["field"], w["existing_id"], w["new_id"]) == (2, "name", existing.pk, new.pk)
    page = alpha.client("sales").get(f"/import/{job.pk}/").content.decode()
    assert 'data-testid="import-duplicates"' in page and f"/customers/{new.pk}/" in page


def test_import_files_cleaned_up_a_week_after(alpha):
    from datetime import timedelta

    from django.utils import timezone

    from crm.platform.tasks import module_run

    with schema_context(alpha.schema):
        job = run(alpha.users["sales"], (HEADER + ROWS).encode("utf-8"))
        path = job.stored_path
        assert module_run("core", "crm.modules.core.tasks.import_cleanup")
        job.refresh_from_db()
        assert job.stored_path == path  # too recent
        ImportJob.objects.filter(pk=job.pk).update(finished_at=timezone.now() - timedelta(days=8))
        assert module_run("core", "crm.modules.core.tasks.import_cleanup")
        job.refresh_from_db()
        assert job.stored_path == "" and not Path(path).exists()
