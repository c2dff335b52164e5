"""Members through the core's shared import (CSV in GB18030 as Chinese Excel saves it, and .xlsx): all or
nothing, key = member number (update or create), points balance == ledger sum, no double points."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation
from django_tenants.utils import schema_context

from crm.modules.core import import_kinds, imports
from crm.modules.core.models import ImportJob
from crm.modules.retail import services
from crm.modules.retail.models import Member, PointsEntry
from crm.platform.errors import PermissionDenied, ServiceError
from crm.tenants.services import module_set_enabled

from .factories import make_shop, to_public

GOOD = (
    "姓名,会员号,手机,积分,累计消费,有效期,会员等级\n"
    "王芳,vip 9001,13900000001,1200,5600.5,2027-06-30,金卡\n"
    "赵磊,VIP9002,,0,0,,\n"
)


@pytest.fixture(autouse=True)
def media(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path)


def run(actor, data: bytes, filename="会员.csv", mapping=None, all_or_nothing=False) -> ImportJob:
    """Upload, confirm with the guessed mapping (or `mapping`), run the task body here."""
    job = imports.import_upload(actor=actor, kind="members", filename=filename, data=data)
    imports.import_start(
        actor=actor, job=job, mapping=mapping or job.mapping, key="", all_or_nothing=all_or_nothing
    )
    return imports.import_run(job.pk)


def test_members_kind_is_offered_to_managers_with_retail_on(alpha, shop):
    offered = {k.name for k in import_kinds.kinds_offered(alpha.users["manager"])}
    assert {"customers", "contacts", "products", "members"} <= offered
    assert "members" not in {k.name for k in import_kinds.kinds_offered(alpha.users["clerk"])}
    assert "members" not in {k.name for k in import_kinds.kinds_offered(alpha.users["sales"])}


def test_csv_import_creates_members_with_ledger_entries(alpha, shop):
    job = run(alpha.users["manager"], GOOD.encode("gb18030"))
    assert (job.status, job.created_count, job.updated_count, job.errors) == ("done", 2, 0, [])
    assert job.mapping == {
        str(i): f
        for i, f in enumerate(("name", "member_no", "phone", "points", "total_spend", "valid_until", "tier"))
    }
    fang = Member.objects.select_related("tier").get(member_no="VIP9001")
    assert fang.tier is not None
    assert (fang.name, fang.points_balance, str(fang.total_spend), str(fang.valid_until), fang.tier.name) == (
        "王芳",
        1200,
        "5600.50",
        "2027-06-30",
        "金卡",
    )
    assert fang.points_balance == services.ledger_sum(fang)
    entry = PointsEntry.objects.get(member=fang)
    assert entry.kind == "import" and entry.expires_at is not None
    lei = Member.objects.select_related("tier").get(member_no="VIP9002")
    assert lei.tier == shop.tiers["base"]  # no tier given: the lowest
    assert not PointsEntry.objects.filter(member=lei).exists()  # zero points: no entry
    # Imported members are found by the clerk's exact lookup like any other.
    assert services.member_lookup(actor=alpha.users["clerk"], name="王芳", member_no="VIP9001") == fang


def test_existing_members_are_updated_by_number_and_points_never_doubled(alpha, shop):
    # Given a member with 300 points from a sale
    services.sale_record(actor=alpha.users["manager"], member=shop.member, store=shop.store, amount="300")
    data = "会员号,姓名,积分\nvip0001,张三,500\nVIP9100,新会员,40\n".encode()
    # When a file sets the balance to 500
    job = run(alpha.users["owner"], data)
    assert (job.status, job.created_count, job.updated_count) == ("done", 1, 1)
    member = Member.objects.get(pk=shop.member.pk)
    # Then one import entry of +200 brings the balance to 500; spend and tier are untouched (empty columns)
    assert member.points_balance == 500 == services.ledger_sum(member)
    assert str(member.total_spend) == "300.00" and member.tier_id == shop.tiers["base"].pk
    assert list(
        PointsEntry.objects.filter(member=member, kind="import").values_list("points", flat=True)
    ) == [200]
    # The same task delivered again does nothing; the same file imported again adds nothing either.
    assert imports.import_run(job.pk).created_count == 1
    again = run(alpha.users["owner"], data)
    assert (again.status, again.created_count, again.updated_count) == ("done", 0, 2)
    assert PointsEntry.objects.filter(kind="import").count() == 2
    assert Member.objects.get(pk=member.pk).points_balance == 500 == services.ledger_sum(member)
    # A lower balance is a negative import entry: the ledger still sums to the balance.
    run(alpha.users["owner"], "会员号,姓名,积分\nVIP0001,张三,120\n".encode())
    member.refresh_from_db()
    assert member.points_balance == 120 == services.ledger_sum(member)


def test_one_bad_row_imports_nothing_and_names_the_rows(alpha, shop):
    bad = (
        GOOD
        + "孙八,,,,,,\n周九,VIP9003,,-5,,,\n吴十,VIP9004,,,,2027-13-01,\n"
        + "郑一,VIP9005,,,abc,,\n冯二,VIP9006,,,,,钻石卡\n"
    )
    with translation.override("en"):  # row messages are translated; read them in English here
        job = run(alpha.users["owner"], bad.encode("utf-8"), all_or_nothing=True)
    assert job.status == "failed" and job.created_count == 0
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (4, "member_no"),
        (5, "points"),
        (6, "valid_until"),
        (7, "total_spend"),
        (8, "tier"),
    ]
    assert "member number is empty" in job.errors[0]["message"]
    assert "Unknown value “钻石卡”" in job.errors[-1]["message"]
    assert not Member.objects.filter(member_no__startswith="VIP900").exists()
    assert "8,tier," in imports.import_error_report(job)


def test_xlsx_import_reads_numbers_typed_as_digits_and_excel_dates(alpha, shop):
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["会员姓名", "卡号", "积分余额", "到期日"])
    ws.append(["陈静", 100001.0, 88, datetime(2028, 1, 31)])
    buf = io.BytesIO()
    wb.save(buf)
    job = run(alpha.users["owner"], buf.getvalue(), filename="m.xlsx")
    assert job.errors == [] and job.status == "done"
    member = Member.objects.get(member_no="100001")
    assert member.points_balance == 88 and str(member.valid_until) == "2028-01-31"


def test_import_is_for_managers_only(alpha, shop):
    with pytest.raises(PermissionDenied):
        imports.import_upload(
            actor=alpha.users["clerk"], kind="members", filename="m.csv", data=GOOD.encode()
        )
    with pytest.raises(PermissionDenied):
        imports.import_upload(
            actor=alpha.users["sales"], kind="members", filename="m.csv", data=GOOD.encode()
        )


def test_member_number_and_name_must_be_mapped(alpha, shop):
    job = imports.import_upload(
        actor=alpha.users["owner"], kind="members", filename="m.csv", data=GOOD.encode()
    )
    mapping = {k: v for k, v in job.mapping.items() if v != "member_no"}
    with translation.override("en"), pytest.raises(ServiceError, match="member number"):
        imports.import_start(actor=alpha.users["owner"], job=job, mapping=mapping, key="")


def test_writes_are_batched_not_per_row(alpha, shop):
    rows = "".join(f"会员{i},VIP{i:05d},139{i:08d},{i},{i}.5,2027-01-01,银卡\n" for i in range(300))
    job = imports.import_upload(
        actor=alpha.users["owner"],
        kind="members",
        filename="m.csv",
        data=("姓名,会员号,手机,积分,累计消费,有效期,等级\n" + rows).encode(),
    )
    imports.import_start(actor=alpha.users["owner"], job=job, mapping=job.mapping, key="")
    with CaptureQueriesContext(connection) as created:
        assert imports.import_run(job.pk).created_count == 300
    # Same file again: 300 updates (balances equal: no ledger entries).
    job2 = imports.import_upload(
        actor=alpha.users["owner"],
        kind="members",
        filename="m.csv",
        data=("姓名,会员号,手机,积分,累计消费,有效期,等级\n" + rows).encode(),
    )
    imports.import_start(actor=alpha.users["owner"], job=job2, mapping=job2.mapping, key="")
    with CaptureQueriesContext(connection) as updated:
        assert imports.import_run(job2.pk).updated_count == 300
    assert len(created) < 30 and len(updated) < 30, (len(created), len(updated))
    assert Member.objects.filter(tier__name="银卡", member_no__startswith="VIP").count() == 300
    assert PointsEntry.objects.filter(kind="import").count() == 299  # member 0 has 0 points
    assert Member.objects.get(member_no="VIP00299").total_spend == Decimal("299.50")


def test_module_switched_off_between_upload_and_run_fails_the_job_cleanly(alpha, shop):
    owner = alpha.users["owner"]
    job = imports.import_upload(actor=owner, kind="members", filename="m.csv", data=GOOD.encode())
    imports.import_start(actor=owner, job=job, mapping=job.mapping, key="")
    to_public()
    module_set_enabled(tenant=alpha.tenant, module="retail", enabled=False, actor_email="t@test")
    try:
        with schema_context(alpha.schema):
            # Upload and confirmation refuse it too, and the page no longer offers it.
            with pytest.raises(ServiceError):
                imports.import_upload(actor=owner, kind="members", filename="m.csv", data=GOOD.encode())
            assert "members" not in {k.name for k in import_kinds.kinds_offered(owner)}
            with translation.override("en"):
                done = imports.import_run(job.pk)
            assert (done.status, done.error_count, done.created_count) == ("failed", 1, 0)
            assert done.errors[0]["row"] == 0 and "switched off" in done.errors[0]["message"]
            assert not Member.objects.filter(member_no="VIP9001").exists()
        to_public()
        page = alpha.client("owner").get(f"/import/{job.pk}/")
        assert page.status_code == 200 and b"import-refused" in page.content
    finally:
        to_public()
        module_set_enabled(tenant=alpha.tenant, module="retail", enabled=True, actor_email="t@test")


def test_import_pages_flow(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema):
        make_shop(alpha.users)
    to_public()
    # The members page links into the shared import with the kind preselected.
    page = alpha.client("manager").get("/retail/members/").content.decode()
    assert "/import/?kind=members" in page
    start = alpha.client("manager").get("/import/?kind=members").content.decode()
    assert 'value="members" selected' in start
    assert 'value="members"' not in alpha.client("sales").get("/import/").content.decode()
    # Clerks have no import at all.
    assert alpha.client("clerk").get("/import/").status_code == 403
    upload = SimpleUploadedFile("m.csv", GOOD.encode("gb18030"), content_type="text/csv")
    assert alpha.client("clerk").post("/import/", {"kind": "members", "file": upload}).status_code == 403
    client = alpha.client("manager")
    upload = SimpleUploadedFile("m.csv", GOOD.encode("gb18030"), content_type="text/csv")
    response = client.post("/import/", {"kind": "members", "file": upload})
    assert response.status_code == 302, response.content[:300]
    detail = response["Location"]
    mapping_page = client.get(detail).content.decode()
    assert 'data-testid="import-mapping"' in mapping_page and 'name="key"' not in mapping_page
    post = {f"col_{i}": f for i, f in enumerate(("name", "member_no", "phone", "points", "", "", "tier"))}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(detail, post).status_code == 302
    assert 'data-testid="import-done"' in client.get(detail).content.decode()
    with schema_context(alpha.schema):
        assert Member.objects.filter(member_no__in=["VIP9001", "VIP9002"]).count() == 2
        assert Member.objects.get(member_no="VIP9001").total_spend == 0  # column left unmapped
    assert client.get("/retail/members/import/").status_code == 404  # the old in-request importer is gone


def _messy_members(n: int) -> bytes:
    """A member export from another POS as GBK CSV: a title row, other header words, phones with +86 and
    dashes, a few bad phones, an unknown tier word, a blank row, rows without a number, a duplicate card,
    a totals line."""
    rows = ["会员资料导出（门店：春熙路）", "会员卡号,会员姓名,手机号码,可用积分,会员等级,到期日期"]
    for i in range(n):
        phone = "138-abc" if i % 100 == 3 else f"+86 139-{i:04d}-0001"
        tier = ("金卡", "钻石会员", "普通", "银卡")[i % 4]
        number = "" if i % 250 == 7 else f"M{i:05d}"
        rows.append(f"{number},会员{i},{phone},{i % 500},{tier},2027年6月30日")
        if i == n // 2:
            rows.append(",,,,,")
    rows.append("M00000,会员0新名字,,,,")  # same card as the first row: merged (the name changes)
    rows.append("合计,,,,,")
    return ("\n".join(rows) + "\n").encode("gbk")


def test_messy_member_export_with_unknown_tier_mapped_and_remembered(alpha, shop):
    owner = alpha.users["owner"]
    n = 1000
    data = _messy_members(n)
    job = imports.import_upload(actor=owner, kind="members", filename="会员.csv", data=data)
    assert (job.encoding, job.header_row) == ("gb18030", 2)
    assert set(job.mapping.values()) == {"member_no", "name", "phone", "points", "tier", "valid_until"}
    a = imports.import_analyse(actor=owner, job=job)
    no_number = len([i for i in range(n) if i % 250 == 7])
    diamond = len([i for i in range(n) if i % 4 == 1])
    (unknown,) = a["unknown"]
    assert unknown["field"] == "tier" and unknown["values"] == [
        {"value": "钻石会员", "rows": diamond, "target": None}
    ]
    assert [o[0] for o in unknown["options"]] == ["普通", "银卡", "金卡"]
    skipped_now = len([i for i in range(n) if i % 250 == 7 or i % 4 == 1])
    assert (a["ignored"], a["merge"], a["skip"]) == (2, 1, skipped_now)
    bad_phones = len([i for i in range(n) if i % 100 == 3])
    assert a["warn"] == bad_phones
    a = imports.import_analyse(
        actor=owner, job=job, mapping=job.mapping, key="", value_map={"tier": {"钻石会员": "金卡"}}
    )
    assert a["skip"] == no_number and a["create"] == n - no_number
    imports.import_start(
        actor=owner, job=job, mapping=job.mapping, key="", value_map={"tier": {"钻石会员": "金卡"}}
    )
    job = imports.import_run(job.pk)
    assert (job.status, job.created_count, job.skipped_count, job.merged_count) == (
        "done",
        n - no_number,
        no_number,
        1,
    )
    m0 = Member.objects.get(member_no="M00000")
    assert (m0.name, m0.phone, m0.tier, str(m0.valid_until)) == (
        "会员0新名字",
        "13900000001",
        shop.tiers["gold"],
        "2027-06-30",
    )
    assert Member.objects.get(member_no="M00001").tier == shop.tiers["gold"]  # 钻石会员 -> 金卡
    assert Member.objects.get(member_no="M00003").phone == ""  # bad phone left out, the member imported
    assert services.ledger_sum(Member.objects.get(member_no="M00002")) == 2
    skipped = imports.skipped_path(job).read_bytes().decode("gb18030").splitlines()
    assert (
        skipped[0] == "会员卡号,会员姓名,手机号码,可用积分,会员等级,到期日期,错误"
        and len(skipped) == 1 + no_number
    )

    # The next import proposes 金卡 for 钻石会员, and the same file again changes nothing.
    entries = PointsEntry.objects.count()
    again = imports.import_upload(actor=owner, kind="members", filename="会员.csv", data=data)
    a = imports.import_analyse(actor=owner, job=again)
    assert a["unknown"][0]["values"][0]["target"] == "金卡" and a["skip"] == no_number
    assert (a["create"], a["update"]) == (0, n - no_number)
    imports.import_start(actor=owner, job=again, mapping=again.mapping, key="")
    again = imports.import_run(again.pk)
    assert (again.created_count, again.updated_count) == (0, n - no_number)
    assert PointsEntry.objects.count() == entries  # no points added twice


def test_member_xlsx_with_title_row_numbers_and_totals(alpha, shop):
    from datetime import datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["2025 年会员"])
    ws.append(["会员编号", "顾客姓名", "联系电话", "剩余积分", "累计消费金额", "到期时间", "卡类型"])
    ws.append([9001, "陈静", 13900000009, 88, 1200.5, datetime(2028, 1, 31), "gold tier"])
    ws.append([9002, "周雨", "139 0000 0010", None, None, None, "银卡"])
    ws.append(["小计", None, None, None, None, None, None])
    buf = io.BytesIO()
    wb.save(buf)
    job = imports.import_upload(
        actor=alpha.users["owner"], kind="members", filename="m.xlsx", data=buf.getvalue()
    )
    assert job.header_row == 2
    imports.import_start(
        actor=alpha.users["owner"],
        job=job,
        mapping=job.mapping,
        key="",
        value_map={"tier": {"gold tier": "金卡"}},
    )
    job = imports.import_run(job.pk)
    assert (job.created_count, job.skipped_count, job.total_rows) == (2, 0, 2)
    m = Member.objects.get(member_no="9001")
    assert (m.phone, m.points_balance, str(m.total_spend), str(m.valid_until), m.tier) == (
        "13900000009",
        88,
        "1200.50",
        "2028-01-31",
        shop.tiers["gold"],
    )
    assert Member.objects.get(member_no="9002").phone == "13900000010"
