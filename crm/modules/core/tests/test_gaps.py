"""Core gaps closed later: contacts import, files on activities, handover with a per-customer choice."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context
from openpyxl import Workbook

from crm.modules.core import imports, services
from crm.modules.core.models import Contact, Customer, Document
from crm.tenants.accounts.models import AuditEntry

from .factories import customer, many_customers


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def run(actor, data: bytes, filename="联系人.csv", key="phone", mapping=None, all_or_nothing=False):
    job = imports.import_upload(actor=actor, kind="contacts", filename=filename, data=data)
    imports.import_start(
        actor=actor, job=job, mapping=mapping or job.mapping, key=key, all_or_nothing=all_or_nothing
    )
    return imports.import_run(job.pk)


CONTACTS = (
    "客户名称,联系人,职务,角色,手机,邮箱\n"
    "上海明达科技有限公司,王经理,采购经理,决策人,138 0013 8001,wang@mingda.cn\n"
    "021-55550000,李工,工程师,使用者,13900000002,\n"  # the customer named by its phone
    "上海明达科技有限公司,赵会计,会计,,13900000003,zhao@mingda.cn\n"
)


def arrange_customers(rep):
    a = customer(rep, "上海明达科技有限公司", phone="13800138000")
    b = customer(rep, "杭州远大贸易", phone="021-55550000")
    return a, b


# --- 1. contacts import --------------------------------------------------------------------------------


def test_contacts_csv_import_matches_customers_by_name_or_phone(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        a, b = arrange_customers(rep)
        job = imports.import_upload(
            actor=rep, kind="contacts", filename="c.csv", data=CONTACTS.encode("utf-8")
        )
        assert job.mapping == {
            "0": "customer",
            "1": "name",
            "2": "title",
            "3": "role",
            "4": "phone",
            "5": "email",
        }
        assert job.key == "phone"
        imports.import_start(actor=rep, job=job, mapping=job.mapping, key="phone")
        job = imports.import_run(job.pk)
        assert (job.status, job.created_count, job.updated_count, job.error_count) == ("done", 3, 0, 0)
        wang = Contact.objects.get(phone="13800138001")
        assert (wang.customer_id, wang.title, wang.role, wang.email) == (
            a.pk,
            "采购经理",
            "决策人",
            "wang@mingda.cn",
        )
        assert wang.is_primary and not Contact.objects.get(name="赵会计").is_primary  # first one is primary
        assert Contact.objects.get(name="李工").customer_id == b.pk
        assert AuditEntry.objects.filter(action="import.contacts", target_id=str(job.pk)).exists()


def test_contacts_gbk_csv_and_xlsx(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        arrange_customers(rep)
        job = run(rep, CONTACTS.encode("gbk"))
        assert (job.encoding, job.status, job.created_count) == ("gb18030", "done", 3)
        assert Contact.objects.filter(name="李工", title="工程师").exists()
        wb = Workbook()
        ws = wb.active
        ws.append(["客户", "姓名", "手机"])
        ws.append(["杭州远大贸易", "孙总", 13700000004])  # Excel keeps the number as a float
        buf = io.BytesIO()
        wb.save(buf)
        job = run(rep, buf.getvalue(), filename="contacts.xlsx")
        assert (job.encoding, job.created_count) == ("xlsx", 1)
        assert Contact.objects.get(phone="13700000004").name == "孙总"


def test_contacts_file_with_bad_rows_writes_nothing(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        arrange_customers(rep)
        hidden = customer(alpha.users["sales2"], "别人的客户", phone="13500000000")  # not visible to rep
        bad = (
            CONTACTS
            + "不存在的公司,周经理,,,13600000001,\n"  # row 5: unknown customer
            + "别人的客户,吴经理,,,13600000002,\n"  # row 6: invisible = unknown, existence not revealed
            + "杭州远大贸易,,,,13600000003,\n"  # row 7: no name
            + "杭州远大贸易,郑工,,,13600000004,bad-email\n"  # row 8: bad email (a warning: left out)
            + "杭州远大贸易,钱工,,,13900000002,\n"  # row 9: same customer and phone as row 3
        )
        job = run(rep, bad.encode("utf-8"), all_or_nothing=True)
        assert job.status == "failed" and job.created_count == 0
        assert Contact.objects.count() == 0  # all or nothing: the good rows were not written either
        assert {(e["row"], e["field"]) for e in job.errors} == {
            (5, "customer"),
            (6, "customer"),
            (7, "name"),
            (9, "phone"),
        }
        assert "别人的客户" in next(e["message"] for e in job.errors if e["row"] == 6)
        assert not hidden.contacts.exists()
        # The owner of that customer may import the same row.
        ok = run(alpha.users["sales2"], "客户,联系人,手机\n别人的客户,吴经理,13600000002\n".encode())
        assert (ok.status, ok.created_count) == ("done", 1)


def test_contacts_upsert_updates_instead_of_duplicating(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        a, b = arrange_customers(rep)
        services.contact_create(actor=rep, customer=a, name="王经理", phone="13800138001", title="采购")
        # The same phone at ANOTHER customer is another person: key is per customer.
        services.contact_create(actor=rep, customer=b, name="王先生", phone="13800138001")
        job = run(rep, CONTACTS.encode("utf-8"))
        assert (job.status, job.created_count, job.updated_count) == ("done", 2, 1)
        assert a.contacts.count() == 2 and b.contacts.count() == 2
        wang = a.contacts.get(phone="13800138001")
        assert (wang.title, wang.email) == ("采购经理", "wang@mingda.cn")
        assert b.contacts.get(phone="13800138001").name == "王先生"  # untouched
        # By email: a changed phone updates the contact found by its email.
        job = run(
            rep, "客户,联系人,手机,邮箱\n13800138000,王总,13811112222,WANG@mingda.cn\n".encode(), key="email"
        )
        assert (job.status, job.created_count, job.updated_count) == ("done", 0, 1)
        wang.refresh_from_db()
        assert (wang.name, wang.phone) == ("王总", "13811112222")


def test_contacts_import_needs_customer_column_and_valid_key(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        job = imports.import_upload(
            actor=rep, kind="contacts", filename="c.csv", data=CONTACTS.encode("utf-8")
        )
        from crm.platform.errors import ServiceError

        with pytest.raises(ServiceError):
            imports.import_start(actor=rep, job=job, mapping={"1": "name", "4": "phone"}, key="phone")
        with pytest.raises(ServiceError):
            imports.import_start(actor=rep, job=job, mapping=job.mapping, key="name")  # not a contact key


def test_contacts_import_from_page_and_api(alpha):
    client = alpha.client("sales")
    page = client.get("/import/").content.decode()
    assert 'value="contacts"' in page
    response = client.post(
        "/import/", {"kind": "contacts", "file": SimpleUploadedFile("c.csv", CONTACTS.encode("gbk"))}
    )
    assert response.status_code == 302
    detail = client.get(response["Location"]).content.decode()
    key_select = detail.split('name="key"')[1].split("</select>")[0]
    assert 'value="email"' in key_select and 'value="name"' not in key_select
    api = client.post(
        "/api/v1/core/imports/", {"kind": "contacts", "file": SimpleUploadedFile("c.csv", CONTACTS.encode())}
    )
    assert api.status_code == 201, api.content
    assert api.json()["kind"] == "contacts" and api.json()["mapping"]["0"] == "customer"


# --- 2. files on activities ----------------------------------------------------------------------------


def test_attach_file_to_activity_and_download_only_where_visible(alpha, beta):
    rep = alpha.users["sales"]
    with schema_context(alpha.schema):
        c = customer(rep, "附件客户")
        activity = services.activity_create(actor=rep, customer=c, purpose="现场拜访")
    client = alpha.client("sales")
    photo = SimpleUploadedFile("现场照片.jpg", b"\xff\xd8jpeg-bytes", content_type="image/jpeg")
    response = client.post(f"/activities/{activity.pk}/documents/", {"file": photo})
    assert response.status_code == 302 and response["Location"].endswith(f"/customers/{c.pk}/#a{activity.pk}")
    with schema_context(alpha.schema):
        doc = Document.objects.get()
        assert (doc.activity_id, doc.customer_id, doc.uploaded_by_id) == (activity.pk, c.pk, rep.pk)
    # Shown on the timeline under the activity, and downloadable by the owner rep.
    assert 'data-testid="activity-document"' in client.get(f"/customers/{c.pk}/").content.decode()
    download = client.get(f"/documents/{doc.pk}/")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"\xff\xd8jpeg-bytes"
    # A rep who cannot see the customer: neither download nor attach.
    other = alpha.client("sales2")
    assert other.get(f"/documents/{doc.pk}/").status_code == 404
    assert other.post(f"/activities/{activity.pk}/documents/", {"file": photo}).status_code == 404
    # Another tenant's user, on their own host.
    assert beta.client("owner").get(f"/documents/{doc.pk}/").status_code == 404
    with schema_context(alpha.schema):
        assert Document.objects.count() == 1


def test_timeline_queries_do_not_grow_with_files(alpha):
    rep = alpha.users["sales"]
    client = alpha.client("sales")

    def measure(n: int) -> int:
        with schema_context(alpha.schema):
            c = customer(rep, f"客户{n}")
            for i in range(n):
                a = services.activity_create(actor=rep, customer=c, purpose=f"拜访{i}")
                services.document_upload(
                    actor=rep, customer=c, activity=a, upload=SimpleUploadedFile(f"f{i}.pdf", b"%PDF")
                )
        client.get(f"/customers/{c.pk}/")
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(f"/customers/{c.pk}/")
        assert page.content.decode().count('data-testid="activity-document"') == n
        return len(ctx)

    small, large = measure(2), measure(12)
    print("customer page queries with 2 and 12 activity files:", small, large)
    assert small == large


# --- 3. handover with an explicit mapping --------------------------------------------------------------


def test_handover_page_honours_per_customer_choice(alpha):
    u = alpha.users
    with schema_context(alpha.schema):
        ids = [customer(u["sales"], f"交接客户{i}").pk for i in range(4)]
    client = alpha.client("admin")
    form = {"from_user": u["sales"].pk, "to_users": [u["sales2"].pk, u["manager"].pk]}
    preview = client.post("/handover/", form).content.decode()
    # Round robin proposed: customers alternate between the two colleagues in id order.
    order = sorted([u["sales2"].pk, u["manager"].pk])
    for i, cid in enumerate(ids):
        assert f'name="map_{cid}"' in preview
        proposed = preview.split(f'name="map_{cid}"')[1].split("</select>")[0]
        assert f'value="{order[i % 2]}" selected' in proposed
    with schema_context(alpha.schema):
        assert Customer.objects.filter(owner=u["sales"]).count() == 4  # the preview changed nothing
        assert not AuditEntry.objects.filter(action="customer.handover").exists()
    # All four to the manager except the first, which goes to sales2.
    chosen = {f"map_{cid}": u["manager"].pk for cid in ids} | {f"map_{ids[0]}": u["sales2"].pk}
    response = client.post("/handover/", {**form, **chosen, "planned_from": u["sales"].pk, "confirm": "1"})
    assert response.status_code == 302
    with schema_context(alpha.schema):
        owners = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "owner_id"))
        assert owners == {ids[0]: u["sales2"].pk} | {cid: u["manager"].pk for cid in ids[1:]}
        entry = AuditEntry.objects.get(action="customer.handover")
        assert entry.actor_id == u["admin"].pk
        assert entry.detail["customers"] == {str(k): v for k, v in owners.items()}


def test_handover_choices_for_another_colleague_are_ignored_or_refused(alpha):
    u = alpha.users
    with schema_context(alpha.schema):
        ids = [customer(u["sales"], f"交接客户{i}").pk for i in range(2)]
    client = alpha.client("admin")
    form = {"from_user": u["sales"].pk, "to_users": [u["sales2"].pk]}
    stale = {f"map_{cid}": u["manager"].pk for cid in ids}  # manager no longer ticked
    # Re-preview: stale choices fall back to the proposal.
    preview = client.post("/handover/", {**form, **stale, "planned_from": u["sales"].pk}).content.decode()
    assert f'value="{u["sales2"].pk}" selected' in preview
    # Confirm with a choice outside the handover: refused, nothing moves.
    response = client.post("/handover/", {**form, **stale, "planned_from": u["sales"].pk, "confirm": "1"})
    page = response.content.decode()
    assert (
        response.status_code == 200 and "errorlist" in page and 'data-testid="handover-preview"' not in page
    )
    with schema_context(alpha.schema):
        assert Customer.objects.filter(owner=u["sales"]).count() == 2


def test_handover_preview_queries_constant(alpha):
    u = alpha.users
    client = alpha.client("admin")
    form = {"from_user": u["sales"].pk, "to_users": [u["sales2"].pk, u["manager"].pk]}

    def measure(n: int, total: int) -> int:
        with schema_context(alpha.schema):
            many_customers(u["sales"], n, prefix=f"批量{n}-")
        client.post("/handover/", form)
        with CaptureQueriesContext(connection) as ctx:
            page = client.post("/handover/", form)
        assert page.content.decode().count('name="map_') == total
        return len(ctx)

    small = measure(10, 10)
    large = measure(490, 500)
    print("handover preview queries for 10 and 500 customers:", small, large)
    assert small == large, (small, large)
