"""The import that forgives (issue 10 section 3) for customers, contacts and products: files as other tools
export them (GBK, title rows, blank and totals lines, phones stored as numbers, Excel dates, many header
wordings), unknown choice values mapped on the preview and remembered, valid rows imported and bad ones
skipped (a file of them in the uploaded layout), rows of the same key merged, invalid phones and emails as
warnings, the preview's counts before anything is written, re-running the same file changes nothing."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone, translation
from django_tenants.utils import schema_context
from openpyxl import Workbook, load_workbook

from crm.modules.core import import_kinds, imports
from crm.modules.core.models import Contact, Customer, ImportJob, ImportValueMap, Product

from .factories import customer

N = 1200  # rows of the big messy file
HEADER = [
    "序号",
    "公司名称",
    "联系人",
    "手机号",
    "电子邮件",
    "省份",
    "城市",
    "详细地址",
    "客户等级",
    "客户来源",
    "创建时间",
    "负责人",
]
SOURCES = ["展会", "老客户介绍", "电话开发", "官网"]


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def phone_of(i: int) -> str:
    return f"138{i:08d}"


def messy_rows(n: int = N) -> list[list[str]]:
    """A CRM export: a title row and a blank row above the header; phones with +86, spaces and dashes; a
    few bad phones and emails; rows without a name; unknown source words; a blank row inside; duplicates of
    earlier companies (another legal-form spelling, another contact, a new city); a totals line."""
    rows: list[list[str]] = [["客户信息导出 2025-06-01"], [], HEADER]
    for i in range(n):
        p = phone_of(i)
        phone = (f"+86 {p[:3]}-{p[3:7]}-{p[7:]}", f"{p[:3]} {p[3:7]} {p[7:]}", p)[i % 3]
        if i % 50 == 9:
            phone = "12345"  # invalid: left out with a warning
        email = "not-an-email" if i % 50 == 7 else f"c{i}@example.cn"
        name = "" if i % 100 == 11 else f"测试{i}贸易有限公司"
        rows.append(
            [
                str(i + 1),
                name,
                f"联系人{i}",
                phone,
                email,
                "江苏",
                "苏州",
                f"工业园区{i}号",
                "A级",
                SOURCES[i % 4],
                "2024/3/5",
                "张三",
            ]
        )
        if i == n // 2:
            rows.append([""] * len(HEADER))
    for i in range(10):  # the same companies again: merged, the later non-empty values win
        rows.append(
            ["", f"测试{i}贸易有限责任公司", f"第二联系人{i}", "", "", "", "无锡", "", "", "", "", ""]
        )
    rows.append(["合计", "", "", "", "", "", "", "", "", "", "", str(n + 10)])
    return rows


def gbk_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("gbk")


def xlsx(rows: Sequence[Sequence[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def upload(actor, data: bytes, filename: str, kind: str = "customers") -> ImportJob:
    return imports.import_upload(actor=actor, kind=kind, filename=filename, data=data)


def start_and_run(actor, job: ImportJob, **kw) -> ImportJob:
    imports.import_start(
        actor=actor, job=job, mapping=kw.pop("mapping", job.mapping), key=kw.pop("key", job.key), **kw
    )
    return imports.import_run(job.pk)


SOURCE_MAP = {"source": {"老客户介绍": "referral", "电话开发": "cold_call"}}


def test_messy_gbk_export_of_customers(alpha, media):
    """The whole story on >= 1,000 rows: nothing mapped by hand but the two source words."""
    with schema_context(alpha.schema), translation.override("zh-hans"):
        rep = alpha.users["sales"]
        job = upload(rep, gbk_csv(messy_rows()), "客户导出.csv")
        assert (job.encoding, job.header_row) == ("gb18030", 3)  # title and blank rows skipped
        assert job.mapping == {
            "1": "name",
            "2": "contact_name",
            "3": "phone",
            "4": "email",
            "5": "province",
            "6": "city",
            "7": "address",
            "8": "level",
            "9": "source",
            "10": "created",
            "11": "owner",  # 负责人: 张三 is nobody here, so the rep owns every row (a warning each)
        }
        job.key = "name"
        job.save()
        a = imports.import_analyse(actor=rep, job=job)
        no_name = len([i for i in range(N) if i % 100 == 11])
        unknown_rows = len([i for i in range(N) if i % 4 in (1, 2) and i % 100 != 11])
        # Blank + totals lines ignored; rows 1, 2, 5, 6, 9 have an unknown source (skipped until mapped), so
        # their duplicates further down are new records for now and only 5 duplicates merge.
        assert (a["rows"], a["ignored"], a["merge"]) == (N + 10, 2, 5)
        assert a["skip"] == no_name + unknown_rows
        assert a["update"] == 0 and a["create"] == N - no_name - unknown_rows + 5
        (unknown,) = a["unknown"]
        assert unknown["field"] == "source"
        assert {v["value"]: v["rows"] for v in unknown["values"]} == {"老客户介绍": 300, "电话开发": 300}
        assert ("other", "其他") in [tuple(o) for o in unknown["options"]]
        assert Customer.objects.count() == 0  # the preview writes nothing

        a = imports.import_analyse(actor=rep, job=job, mapping=job.mapping, key="name", value_map=SOURCE_MAP)
        assert (a["skip"], a["create"], a["merge"]) == (no_name, N - no_name, 10)
        # Bad phones and emails, and once (not on each of its 1,188 rows) the owner 张三, who is nobody here.
        warned = len([i for i in range(N) if i % 50 in (7, 9) and i % 100 != 11]) + 1
        assert a["warn"] == warned
        assert sum(1 for w in a["warnings"] if w["field"] == "owner") == 1

        job = start_and_run(rep, job, key="name", value_map=SOURCE_MAP)
        assert (job.status, job.created_count, job.updated_count) == ("done", N - no_name, 0)
        assert (job.skipped_count, job.merged_count, len(job.row_warnings)) == (no_name, 10, warned)
        assert Customer.objects.count() == N - no_name
        assert not Customer.objects.exclude(owner=rep).exists()

        c0 = Customer.objects.get(phone="13800000000")  # "+86 138-0000-0000"
        # Merged with its duplicate row "测试0贸易有限责任公司": the later row's non-empty values win.
        assert (c0.name, c0.source, c0.city, c0.province) == (
            "测试0贸易有限责任公司",
            "exhibition",
            "无锡",
            "江苏",
        )
        assert "A级" in c0.tags and timezone.localtime(c0.created_at).date() == dt.date(2024, 3, 5)
        assert set(c0.contacts.values_list("name", "is_primary")) == {
            ("联系人0", True),
            ("第二联系人0", False),
        }
        assert Customer.objects.get(name="测试21贸易有限公司").source == "referral"
        assert Customer.objects.get(name="测试22贸易有限公司").source == "cold_call"
        assert Customer.objects.get(name="测试13贸易有限公司").phone == "13800000013"  # "138 0000 0013"
        bad_phone = Customer.objects.get(name="测试59贸易有限公司")
        assert bad_phone.phone == "" and bad_phone.email == "c59@example.cn"  # imported without the phone
        assert Customer.objects.get(name="测试57贸易有限公司").email == ""
        assert {(w["row"], w["field"]) for w in job.row_warnings} >= {(4 + 57, "email"), (4 + 59, "phone")}

        # The skipped rows come back as a GBK CSV in the file's layout, with an error column.
        skipped = imports.skipped_path(job).read_bytes().decode("gb18030")
        lines = list(csv.reader(io.StringIO(skipped)))
        assert lines[0] == [*HEADER, "错误"] and len(lines) == 1 + no_name
        assert lines[1][0] == "12" and lines[1][1] == "" and "名称为空" in lines[1][-1]

        # The two words are remembered for the next import of customers here.
        assert dict(ImportValueMap.objects.filter(kind="customers").values_list("value", "target")) == {
            "老客户介绍": "referral",
            "电话开发": "cold_call",
        }

        # Re-running the same file changes nothing (idempotent by key): no new customer, no new contact.
        contacts = Contact.objects.count()
        again = upload(rep, gbk_csv(messy_rows()), "客户导出.csv")
        a = imports.import_analyse(actor=rep, job=again, mapping=again.mapping, key="name")
        assert (a["create"], a["update"], a["skip"]) == (0, N - no_name, no_name)  # remembered words
        assert a["unknown"][0]["values"][0]["target"] in ("referral", "cold_call")
        again = start_and_run(rep, again, key="name")
        assert (again.created_count, again.updated_count) == (0, 0)  # found again, nothing to change
        assert Customer.objects.count() == N - no_name and Contact.objects.count() == contacts
        assert Customer.objects.get(name="测试21贸易有限公司").source == "referral"


def test_skipped_rows_file_fixed_and_imported_again(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        rows = [
            ["公司名称", "手机", "客户来源"],
            ["甲公司", "13900000001", "展会"],
            ["", "13900000002", "展会"],
            ["乙公司", "13900000003", "地推"],
        ]
        job = start_and_run(rep, upload(rep, xlsx(rows), "c.xlsx"))
        assert (job.created_count, job.skipped_count) == (1, 2)
        ws = load_workbook(imports.skipped_path(job)).active
        got = [[c or "" for c in r] for r in ws.iter_rows(values_only=True)]
        assert got[0][:3] == rows[0] and got[1][:3] == rows[2] and got[2][:3] == rows[3]
        assert len(got) == 3 and got[2][3]  # the error column says why
        got[1][0], got[2][2] = "丙公司", "展会"  # fixed
        job = start_and_run(rep, upload(rep, xlsx(got), "fixed.xlsx"))
        assert job.mapping == {"0": "name", "1": "phone", "2": "source"}  # the error column is not mapped
        assert (job.created_count, job.skipped_count) == (2, 0)
        assert Customer.objects.count() == 3


def test_all_or_nothing_is_an_option(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        data = gbk_csv([["客户名称", "电话"], ["甲", "13900000001"], ["", "13900000002"]])
        job = start_and_run(rep, upload(rep, data, "c.csv"), all_or_nothing=True)
        assert (job.status, job.created_count, job.error_count) == ("failed", 0, 1)
        assert Customer.objects.count() == 0
        job = start_and_run(rep, upload(rep, data, "c.csv"))
        assert (job.status, job.created_count, job.skipped_count) == ("done", 1, 1)


def test_xlsx_numbers_and_dates_and_header_words(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        rows: list[list[object]] = [
            ["2025年客户台账"],
            [None],
            ["单位名称", "移动电话", "E-mail", "省", "市", "联系地址", "客户级别", "线索来源", "录入时间"],
            [
                "甲公司",
                13800138000,
                "A@Example.cn",
                "浙江",
                "杭州",
                "西湖区 1 号",
                "VIP",
                "网站",
                dt.datetime(2023, 7, 1),
            ],
            ["乙公司", 13800138001.0, None, None, None, None, None, "展会", dt.date(2022, 1, 2)],
            ["小计", None, None, None, None, None, None, None, None],
        ]
        job = upload(rep, xlsx(rows), "台账.xlsx")
        assert job.header_row == 3
        assert set(job.mapping.values()) == {
            "name",
            "phone",
            "email",
            "province",
            "city",
            "address",
            "level",
            "source",
            "created",
        }
        job = start_and_run(rep, job)
        assert (job.created_count, job.skipped_count, job.total_rows) == (2, 0, 2)  # 小计 ignored
        a = Customer.objects.get(name="甲公司")
        assert (a.phone, a.email, a.city, a.source, a.tags) == (
            "13800138000",
            "a@example.cn",
            "杭州",
            "web",
            ["VIP"],
        )
        assert timezone.localtime(a.created_at).date() == dt.date(2023, 7, 1)
        assert Customer.objects.get(name="乙公司").phone == "13800138001"  # no 1.38e10, no trailing .0


def test_possible_duplicates_by_normalised_company_name(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        old = customer(rep, "苏州 ＡＢＣ 机械有限公司", phone="13900000009")
        data = gbk_csv(
            [["客户名称", "手机"], ["苏州abc机械有限责任公司", "13900000001"], ["别家", "13900000002"]]
        )
        job = upload(rep, data, "c.csv")
        assert imports.import_analyse(actor=rep, job=job)["alike"] == 1  # reported before the run
        job = start_and_run(rep, job)  # key: phone, so a new customer, listed as a possible duplicate
        assert job.created_count == 2
        assert [(w["row"], w["existing_id"]) for w in job.warnings] == [(2, old.pk)]


def test_choice_mapping_to_empty_and_validation(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        data = gbk_csv(
            [["客户名称", "手机", "客户类型", "客户阶段"], ["甲", "13900000001", "单位", "谈判中"]]
        )
        job = upload(rep, data, "c.csv")
        a = imports.import_analyse(actor=rep, job=job)
        assert {u["field"] for u in a["unknown"]} == {"kind", "stage"} and a["skip"] == 1
        with pytest.raises(imports.ServiceError):
            imports.import_analyse(
                actor=rep,
                job=job,
                mapping=job.mapping,
                key="phone",
                value_map={"stage": {"谈判中": "nonsense"}},
            )
        vm = {"kind": {"单位": "company"}, "stage": {"谈判中": ""}}  # "" = leave empty (the default stage)
        job = start_and_run(rep, job, value_map=vm)
        c = Customer.objects.get()
        assert (job.created_count, c.kind, c.stage) == (1, "company", "lead")
        assert ImportValueMap.objects.get(field="stage", value="谈判中").target == ""


def test_contacts_messy_gbk(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        for i in range(20):
            customer(rep, f"客户{i}有限公司", phone=f"1390000{i:04d}")
        rows: list[list[str]] = [["联系人清单"], ["所属公司", "联系人姓名", "岗位", "手机号码", "电子邮箱"]]
        for i in range(1000):
            phone = f"+86 137-{i:04d}-0000" if i % 97 != 5 else "abc"  # bad phone: the key is empty -> skip
            email = f"p{i}@x.cn" if i % 89 != 3 else "bad@"
            rows.append([f"客户{i % 20}有限公司", f"联系人{i}", "经理", phone, email])
        rows.append(["客户0有限公司", "联系人0改名", "总监", "13700000000", ""])  # same key as row 3: merged
        rows.append(["不存在公司", "某人", "", "13600000000", ""])
        rows.append(["", "", "", "", ""])
        rows.append(["总计", "1002", "", "", ""])
        job = upload(rep, gbk_csv(rows), "联系人.csv", kind="contacts")
        assert job.header_row == 2
        assert job.mapping == {"0": "customer", "1": "name", "2": "title", "3": "phone", "4": "email"}
        a = imports.import_analyse(actor=rep, job=job)
        bad_phones = len([i for i in range(1000) if i % 97 == 5])
        assert (a["merge"], a["ignored"], a["skip"]) == (1, 2, bad_phones + 1)
        job = start_and_run(rep, job)
        assert (job.created_count, job.skipped_count, job.merged_count) == (
            1000 - bad_phones,
            bad_phones + 1,
            1,
        )
        c = Contact.objects.get(phone="13700000000")
        assert (c.name, c.title, c.email) == ("联系人0改名", "总监", "p0@x.cn")  # later non-empty values win
        assert Contact.objects.get(phone="13700030000").email == ""  # bad email left out, with a warning
        assert any(w["field"] == "email" for w in job.row_warnings)
        n = Contact.objects.count()
        job = start_and_run(rep, upload(rep, gbk_csv(rows), "联系人.csv", kind="contacts"))
        assert (job.created_count, job.updated_count, Contact.objects.count()) == (0, 0, n)  # idempotent


def test_products_messy_xlsx(alpha):
    with schema_context(alpha.schema):
        owner = alpha.users["owner"]
        rows: list[list[object]] = [
            ["商品资料导出"],
            ["货号", "品名", "规格型号", "计量单位", "销售价", "进价", "品类"],
        ]
        for i in range(1000):
            rows.append([f"P{i:04d}", f"螺栓{i}", "M8", "盒", 45.5 + i if i % 101 else "面议", 30, "紧固件"])
        rows.append(["P0001", "螺栓1", "M8", "", 99, None, None])  # same key: merged, price from this row
        rows.append([None] * 7)
        rows.append(["合计", None, None, None, None, None, None])
        job = upload(owner, xlsx(rows), "商品.xlsx", kind="products")
        assert job.header_row == 2 and set(job.mapping.values()) == {
            "code",
            "name",
            "specification",
            "unit",
            "price",
            "cost",
            "category",
        }
        bad = len([i for i in range(1000) if i % 101 == 0])
        job = start_and_run(owner, job)
        assert (job.created_count, job.skipped_count, job.merged_count) == (1000 - bad, bad, 1)
        p = Product.objects.get(code="P0001")
        assert (str(p.price), p.unit, p.category) == ("99.00", "盒", "紧固件")
        job = start_and_run(owner, upload(owner, xlsx(rows), "商品.xlsx", kind="products"))
        assert (job.created_count, job.updated_count, Product.objects.count()) == (0, 0, 1000 - bad)


def test_templates_for_every_kind_are_recognised(alpha):
    with schema_context(alpha.schema):
        owner = alpha.users["owner"]
        for kind in import_kinds.kinds_offered(owner):
            data = imports.import_template(kind)
            ws = load_workbook(io.BytesIO(data)).active
            headers = [c.value for c in ws[1]]
            assert all(any("\u4e00" <= ch <= "\u9fff" for ch in h) for h in headers)  # Chinese headers
            assert any(c.value for c in ws[2])  # one example row
            job = upload(owner, data, f"{kind.name}.xlsx", kind=kind.name)
            assert set(job.mapping.values()) == kind.field_names()  # nothing to map by hand
    client = alpha.client("sales")
    page = client.get("/import/").content.decode()
    assert "/import/template/customers/" in page and "/import/template/members/" not in page
    response = client.get("/import/template/customers/")
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert client.get("/import/template/members/").status_code == 404  # not offered to a rep


def test_preview_page_maps_unknown_values_and_downloads_skipped(alpha, django_capture_on_commit_callbacks):
    client = alpha.client("sales")
    data = gbk_csv(
        [["客户名称", "手机", "客户来源"], ["甲", "13900000001", "老客户介绍"], ["", "13900000002", "展会"]]
    )
    response = client.post("/import/", {"kind": "customers", "file": SimpleUploadedFile("c.csv", data)})
    url = response["Location"]
    page = client.get(url).content.decode()
    assert 'data-testid="import-unknown-source"' in page and "老客户介绍" in page
    assert 'data-testid="import-counts"' in page
    form = {
        "col_0": "name",
        "col_1": "phone",
        "col_2": "source",
        "key": "phone",
        "vmv_source_1": "老客户介绍",
        "vm_source_1": "referral",
        "all_or_nothing": "0",
        "action": "run",
    }
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, form).status_code == 302
    page = client.get(url).content.decode()
    assert 'data-testid="import-skipped"' in page
    with schema_context(alpha.schema):
        assert Customer.objects.get().source == "referral"
        job = ImportJob.objects.get()
    response = client.get(f"/import/{job.pk}/skipped/")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("gb18030")
    assert body.splitlines()[0].endswith("错误") and "13900000002" in body
    assert alpha.client("admin").get(f"/import/{job.pk}/skipped/").status_code == 404  # someone else's


def test_phone_and_date_helpers():
    assert imports.clean_phone("+86 138-0013-8000") == "13800138000"
    assert imports.clean_phone("0086 13800138000") == "13800138000"
    assert imports.clean_phone("021-6288 1234") == "02162881234"
    assert imports.clean_phone("") == ""
    for bad in ("12345", "1.38E+10", "13800138000.5", "电话未知", "138001380001"):
        assert imports.clean_phone(bad) is None, bad
    assert imports.parse_date("2025年3月1日") == dt.date(2025, 3, 1)
    assert imports.parse_date("2025/3/1 10:00") == dt.date(2025, 3, 1)
    assert imports.parse_date("20250301") == dt.date(2025, 3, 1)
    assert imports.parse_date("2025-13-01") is None and imports.parse_date("明天") is None
    assert imports.is_ignored_row(["合 计", "", "100"]) and imports.is_ignored_row(["", "总计："])
    assert imports.is_ignored_row(["", ""]) and not imports.is_ignored_row(["1", "上海合计贸易"])


def test_contacts_on_rows_of_an_existing_customer_are_added_once(alpha):
    with schema_context(alpha.schema):
        rep = alpha.users["sales"]
        old = customer(rep, "明达科技有限公司", phone="13900000001")
        Contact.objects.create(customer=old, name="王经理", is_primary=True)
        data = gbk_csv(
            [
                ["客户名称", "手机", "联系人"],
                ["明达科技", "13900000001", "王经理"],
                ["明达科技", "13900000001", "李工"],
            ]
        )
        job = start_and_run(rep, upload(rep, data, "c.csv"))
        assert (job.created_count, job.merged_count) == (0, 1)
        assert set(old.contacts.values_list("name", "is_primary")) == {("王经理", True), ("李工", False)}
        start_and_run(rep, upload(rep, data, "c.csv"))
        assert old.contacts.count() == 2  # not added twice


def test_a_bad_phone_or_email_in_the_key_column_is_named_as_the_reason(alpha):
    # Given a file whose key column (phone, then email) holds a bad value on one row and nothing on another
    rows = [
        ["客户名称", "手机", "邮箱"],
        ["甲", "12345", "x@"],
        ["乙", "", ""],
        ["丙", "13900000003", "c@d.cn"],
    ]
    with schema_context(alpha.schema), translation.override("en"):
        owner = alpha.users["owner"]
        job = upload(owner, gbk_csv(rows), "c.csv")
        # When the preview is analysed with the phone as the key
        a = imports.import_analyse(actor=owner, job=job)
        # Then the bad phone is the reason given, not "empty"; the empty key stays "empty"
        assert [(e["row"], e["field"], e["message"]) for e in a["errors"]] == [
            (2, "phone", "“12345” is not a phone number (the key of this import)."),
            (3, "phone", "The key column is empty."),
        ]
        # ... and with the email as the key, the bad email is
        a = imports.import_analyse(actor=owner, job=job, mapping=job.mapping, key="email")
        assert [(e["row"], e["message"]) for e in a["errors"]] == [
            (2, "“x@” is not an email address (the key of this import)."),
            (3, "The key column is empty."),
        ]
        assert a["create"] == 1


def test_preview_page_names_fields_by_label_and_folds_the_rows_to_skip(
    alpha, django_capture_on_commit_callbacks
):
    # Given an upload with a row without a name and a row with a bad phone (the key)
    client = alpha.client("sales", language="en")
    data = gbk_csv([["客户名称", "手机"], ["", "13900000001"], ["乙", "12345"], ["丙", "13900000003"]])
    url = client.post("/import/", {"kind": "customers", "file": SimpleUploadedFile("c.csv", data)})[
        "Location"
    ]
    # When the preview is shown
    page = client.get(url).content.decode()
    # Then the rows to skip are folded under their count, each with the field's label, not its key
    assert (
        '<details data-testid="import-skip-rows"><summary>Rows to skip (2), with the reason</summary>' in page
    )
    assert '<td class="nowrap">Name</td>' in page and '<td class="nowrap">Phone</td>' in page
    assert '<td class="nowrap">phone</td>' not in page and '<td class="nowrap">name</td>' not in page
    # ... each column shows its header with its samples next to a field select
    assert 'data-testid="import-columns"' in page and 'class="map-field"' in page
    # When it is imported, the outcome's table of skipped rows names the fields the same way
    form = {"col_0": "name", "col_1": "phone", "key": "phone", "all_or_nothing": "0", "action": "run"}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, form).status_code == 302
    page = client.get(url).content.decode()
    assert '<td class="nowrap">Phone</td>' in page and '<td class="nowrap">phone</td>' not in page


def test_the_owner_column_gives_customers_to_colleagues_by_name_or_email(alpha):
    # Given an export whose 负责人 column names two colleagues (by name and by email) and a stranger
    owner, manager, sales = (alpha.users[r] for r in ("owner", "manager", "sales"))
    rows = [
        ["客户名称", "手机", "负责人"],
        ["甲公司", "13900000001", manager.name],
        ["乙公司", "13900000002", sales.email.upper()],
        ["丙公司", "13900000003", "离职的老王"],
        ["丁公司", "13900000004", ""],
    ]
    with schema_context(alpha.schema), translation.override("en"):
        job = upload(owner, gbk_csv(rows), "c.csv")
        # Then the header word is mapped to the owner with nothing to do by hand
        assert "owner" in job.mapping.values()
        # When the owner imports it
        a = imports.import_analyse(actor=owner, job=job)
        assert [(w["row"], w["field"]) for w in a["warnings"]] == [(4, "owner")]
        assert "离职的老王" in a["warnings"][0]["message"]
        done = start_and_run(owner, job)
        assert done.status == ImportJob.Status.DONE
        by_name = dict(Customer.objects.filter(name__endswith="公司").values_list("name", "owner_id"))
        # Then each colleague owns theirs; the stranger's and the empty one are the importer's
        assert by_name == {"甲公司": manager.pk, "乙公司": sales.pk, "丙公司": owner.pk, "丁公司": owner.pk}

        # When a sales rep (who may not give customers to others) imports such a file, all are the rep's
        rows2 = [["客户名称", "手机", "负责人"], ["戊公司", "13900000005", manager.name]]
        job2 = upload(sales, gbk_csv(rows2), "d.csv")
        a2 = imports.import_analyse(actor=sales, job=job2)
        assert [(w["row"], w["field"]) for w in a2["warnings"]] == [(2, "owner")]
        start_and_run(sales, job2)
        assert Customer.objects.get(name="戊公司").owner_id == sales.pk

        # And re-importing the first file does not move existing customers: a handover is audited elsewhere
        job3 = upload(owner, gbk_csv([rows[0], ["甲公司", "13900000001", sales.name]]), "e.csv")
        start_and_run(owner, job3)
        assert Customer.objects.get(name="甲公司").owner_id == manager.pk
