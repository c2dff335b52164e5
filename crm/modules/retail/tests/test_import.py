"""Member import from CSV (GB18030 as Chinese Excel saves it) and .xlsx: all or nothing, ledger = balance."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from django_tenants.utils import schema_context

from crm.modules.retail import imports, services
from crm.modules.retail.models import Member, PointsEntry
from crm.platform.errors import PermissionDenied

from .factories import make_shop, to_public

GOOD = (
    "姓名,会员号,手机,积分,累计消费,有效期\n"
    "王芳,vip 9001,13900000001,1200,5600.5,2027-06-30\n"
    "赵磊,VIP9002,,0,0,\n"
)


def test_csv_import_creates_members_with_ledger_entries(alpha, shop):
    result = imports.members_import(
        actor=alpha.users["manager"], filename="m.csv", data=GOOD.encode("gb18030")
    )
    assert (result.created, result.errors) == (2, [])
    fang = Member.objects.get(member_no="VIP9001")
    assert (fang.name, fang.points_balance, str(fang.total_spend), str(fang.valid_until)) == (
        "王芳",
        1200,
        "5600.50",
        "2027-06-30",
    )
    assert fang.points_balance == services.ledger_sum(fang)
    assert PointsEntry.objects.get(member=fang).kind == "import"
    assert not PointsEntry.objects.filter(member__member_no="VIP9002").exists()  # zero points: no entry
    # Imported members are found by the clerk's exact lookup like any other.
    assert services.member_lookup(actor=alpha.users["clerk"], name="王芳", member_no="VIP9001") == fang


def test_one_bad_row_imports_nothing_and_names_the_rows(alpha, shop):
    bad = (
        GOOD
        + "钱七,VIP9001,,10,,\n孙八,,,,,\n周九,VIP9003,,-5,,\n吴十,VIP9004,,,,2027-13-01\n张三,vip0001,,,,\n"
    )
    with translation.override("en"):  # row messages are translated; read them in English here
        result = imports.members_import(
            actor=alpha.users["owner"], filename="m.csv", data=bad.encode("utf-8")
        )
    assert result.created == 0 and [e.split(":")[0] for e in result.errors] == [
        "Row 4",
        "Row 5",
        "Row 6",
        "Row 7",
        "Row 8",
    ]
    assert not Member.objects.filter(member_no__startswith="VIP900").exists()


def test_xlsx_import_reads_numbers_typed_as_digits(alpha, shop):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["会员姓名", "卡号", "积分余额"])
    ws.append(["陈静", 100001.0, 88])
    buf = io.BytesIO()
    wb.save(buf)
    result = imports.members_import(actor=alpha.users["owner"], filename="m.xlsx", data=buf.getvalue())
    assert result.errors == [] and Member.objects.get(member_no="100001").points_balance == 88


def test_import_is_for_managers_only(alpha, shop):
    with pytest.raises(PermissionDenied):
        imports.members_import(actor=alpha.users["clerk"], filename="m.csv", data=GOOD.encode())


def test_import_page(alpha):
    with schema_context(alpha.schema):
        make_shop(alpha.users)
    to_public()
    upload = SimpleUploadedFile("m.csv", GOOD.encode("gb18030"), content_type="text/csv")
    assert alpha.client("clerk").post("/retail/members/import/", {"file": upload}).status_code == 403
    upload = SimpleUploadedFile("m.csv", GOOD.encode("gb18030"), content_type="text/csv")
    response = alpha.client("manager").post("/retail/members/import/", {"file": upload})
    assert response.status_code == 302
    with schema_context(alpha.schema):
        assert Member.objects.filter(member_no__in=["VIP9001", "VIP9002"]).count() == 2
