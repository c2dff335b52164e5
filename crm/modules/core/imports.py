"""Import of customers and products from CSV (UTF-8 or GBK/GB18030, as saved by Chinese Excel) and .xlsx.

Flow: upload -> preview with a guessed column mapping, what would be created/updated/merged/skipped and the
choice values not known (the user maps them; remembered per workspace) -> confirm -> a background task
validates every row, then upserts the valid ones by the chosen key in one transaction; the bad rows are
skipped and come back as a file in the uploaded layout with an error column (or, with "all or nothing",
any bad row writes nothing). Rows of the file with the same key are merged into one record (the later row's
non-empty values win). The file may come as other tools export it: title or blank rows above the header,
blank and totals lines (合计/总计/小计) among the rows, phones stored as numbers, real Excel dates.
Progress goes to the cache (schema-prefixed), because rows written inside the transaction are invisible to
the progress page until commit.

What can be imported is a registry of `ImportKind`s (import_kinds.py), declared in the modules' manifests:
the core's customers, contacts and products are defined below; other modules build theirs with the names in
`crm.modules.core.public`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from psycopg import sql
from psycopg.types.json import Jsonb

from crm.kernel.money import parse_amount
from crm.kernel.vat import validate_rate
from crm.platform.errors import PermissionDenied, ServiceError
from crm.platform.jobs import job_heartbeat
from crm.tenants.accounts.models import User
from crm.tenants.accounts.services import audit

from . import selectors
from .import_kinds import (
    WARNINGS,
    Choice,
    ImportKind,
    Records,
    RowError,
    import_kinds,
    kind_check,
)
from .models import Contact, Customer, ImportJob, ImportValueMap, Product
from .services import initials, normalize_name, normalize_phone

MAX_BYTES = 50 * 1024 * 1024
MAX_ERRORS_KEPT = 1000
HEARTBEAT_ROWS = 2000  # rows read between two heartbeats of a running import (crm.platform.jobs)
BATCH = 2000

PHONE_WORDS = (
    "phone",
    "mobile",
    "tel",
    "手机",
    "手机号",
    "手机号码",
    "移动电话",
    "联系手机",
    "联系电话",
    "电话",
    "电话号码",
    "联系方式",
)
EMAIL_WORDS = ("email", "e-mail", "mail", "邮箱", "电子邮件", "电子邮箱", "邮件", "邮箱地址")
# Target fields per kind: (field, label, header synonyms as found in Chinese and English spreadsheets).
FIELDS: dict[str, list[tuple[str, Any, tuple[str, ...]]]] = {
    "customers": [
        (
            "name",
            gettext_lazy("Name"),
            (
                "name",
                "customer",
                "company",
                "客户名称",
                "公司名称",
                "客户",
                "单位名称",
                "企业名称",
                "名称",
                "客户全称",
                "公司全称",
                "公司",
                "单位",
                "姓名",
            ),
        ),
        ("kind", gettext_lazy("Type"), ("kind", "type", "客户类型", "类型", "客户性质")),
        ("phone", gettext_lazy("Phone"), PHONE_WORDS),
        ("email", gettext_lazy("Email"), EMAIL_WORDS),
        ("province", gettext_lazy("Province"), ("province", "省份", "省", "所在省份", "所在省", "省/直辖市")),
        ("city", gettext_lazy("City"), ("city", "城市", "市", "所在城市", "所在地区", "地区")),
        (
            "address",
            gettext_lazy("Address"),
            ("address", "地址", "详细地址", "联系地址", "公司地址", "办公地址"),
        ),
        ("level", gettext_lazy("Level (kept as a tag)"), ("level", "客户等级", "等级", "客户级别", "级别")),
        ("tags", gettext_lazy("Tags"), ("tags", "tag", "标签", "客户标签")),
        ("source", gettext_lazy("Source"), ("source", "客户来源", "来源", "线索来源", "来源渠道", "渠道")),
        ("stage", gettext_lazy("Stage"), ("stage", "客户阶段", "阶段", "客户状态", "状态", "跟进状态")),
        (
            "created",
            gettext_lazy("Created date"),
            ("created", "created at", "创建时间", "创建日期", "录入时间", "建档时间", "录入日期", "添加时间"),
        ),
        ("notes", gettext_lazy("Notes"), ("notes", "note", "备注", "说明")),
        (
            "owner",
            gettext_lazy("Owner (a colleague's name or email)"),
            (
                "owner",
                "负责人",
                "客户负责人",
                "归属人",
                "所属销售",
                "销售负责人",
                "业务员",
                "跟进人",
                "客户经理",
                "所有人",
                "销售人员",
            ),
        ),
        (
            "contact_name",
            gettext_lazy("Contact person"),
            ("contact", "contact name", "联系人", "联系人姓名", "首要联系人"),
        ),
        (
            "contact_title",
            gettext_lazy("Contact's job title"),
            ("title", "job title", "职务", "职位", "联系人职务", "联系人职位"),
        ),
    ],
    "products": [
        (
            "code",
            gettext_lazy("Code"),
            (
                "code",
                "sku",
                "商品编码",
                "编码",
                "产品编码",
                "编号",
                "货号",
                "物料编码",
                "商品编号",
                "产品编号",
            ),
        ),
        (
            "name",
            gettext_lazy("Name"),
            ("name", "product", "商品名称", "名称", "产品名称", "品名", "商品", "产品", "物料名称"),
        ),
        (
            "specification",
            gettext_lazy("Specification"),
            ("specification", "spec", "规格", "商品规格", "规格型号", "型号", "产品规格"),
        ),
        ("unit", gettext_lazy("Unit"), ("unit", "单位", "计量单位", "销售单位")),
        (
            "price",
            gettext_lazy("Price (tax incl.)"),
            ("price", "单价", "价格", "含税价", "含税单价", "售价", "销售价", "零售价", "销售单价"),
        ),
        ("cost", gettext_lazy("Cost"), ("cost", "成本", "成本价", "进价", "采购价")),
        ("vat_rate", gettext_lazy("VAT rate"), ("vat_rate", "vat", "tax rate", "税率", "增值税税率")),
        ("category", gettext_lazy("Category"), ("category", "分类", "类别", "商品分类", "产品分类", "品类")),
    ],
    "contacts": [
        (
            "customer",
            gettext_lazy("Customer (name or phone)"),
            (
                "customer",
                "company",
                "客户名称",
                "客户",
                "公司名称",
                "所属客户",
                "单位",
                "单位名称",
                "企业名称",
                "所属公司",
                "公司",
            ),
        ),
        (
            "name",
            gettext_lazy("Name"),
            ("name", "contact", "contact name", "联系人", "姓名", "联系人姓名", "联系人名称"),
        ),
        ("title", gettext_lazy("Job title"), ("title", "job title", "职务", "职位", "岗位", "部门职务")),
        ("role", gettext_lazy("Role"), ("role", "角色", "联系人角色")),
        ("phone", gettext_lazy("Phone"), PHONE_WORDS),
        ("email", gettext_lazy("Email"), EMAIL_WORDS),
    ],
}
CUSTOMER_KEYS = ("phone", "email", "name")
# A contact is found again by its phone or email within its customer (names repeat: two 王经理).
CONTACT_KEYS = ("phone", "email")
# Values as Chinese spreadsheets write them; codes and English labels are accepted too.
CHOICE_WORDS = {
    "kind": {
        "企业": "company",
        "公司": "company",
        "个人": "person",
        "company": "company",
        "person": "person",
        "individual": "person",
    },
    "stage": {
        "线索": "lead",
        "潜在客户": "prospect",
        "意向客户": "prospect",
        "成交客户": "customer",
        "已成交": "customer",
        "客户": "customer",
        "流失": "lost",
        "已流失": "lost",
    },
    "source": {
        "转介绍": "referral",
        "介绍": "referral",
        "展会": "exhibition",
        "网站": "web",
        "官网": "web",
        "网络": "web",
        "陌拜": "cold_call",
        "电话陌拜": "cold_call",
        "cold call": "cold_call",
        "其他": "other",
    },
}


# --- reading files ------------------------------------------------------------------------------------------


def decode_csv(data: bytes) -> tuple[str, str]:
    """Text and encoding of a CSV: UTF-8 (with or without BOM) first, else GB18030 (a superset of GBK)."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ServiceError(_("The file is neither UTF-8 nor GBK text."), field="file")


HEADER_SCAN = 30  # rows looked at for the header (title and blank rows above it are skipped)
_TOTALS = ("合计", "总计", "小计", "total", "sum")


def _raw_rows(path: Path) -> tuple[Iterator[list[str]], str]:
    """Every row of the file (cells as stripped strings) and the encoding ("xlsx" for Excel)."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        try:
            wb = load_workbook(path, read_only=True, data_only=True)
        except Exception:  # openpyxl raises many kinds for a broken file
            raise ServiceError(_("This .xlsx file cannot be read."), field="file") from None
        rows = wb.worksheets[0].iter_rows(values_only=True)

        def cells() -> Iterator[list[str]]:
            for row in rows:
                yield [_cell(v) for v in row]
            wb.close()

        return cells(), "xlsx"
    text, encoding = decode_csv(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""))
    return ([c.strip() for c in row] for row in reader), encoding


def read_rows(path: Path, header_row: int = 1) -> tuple[list[str], Iterator[list[str]], str]:
    """Headers (row `header_row`, 1-based), an iterator of the rows below them (cells as stripped strings;
    row n of the file is the (n - header_row)-th item) and the encoding ("xlsx" for Excel)."""
    it, encoding = _raw_rows(path)
    headers: list[str] = []
    for _i in range(header_row):
        headers = next(it, [])
    return [h.strip() for h in headers], it, encoding


def header_key(text: str) -> str:
    """A header cell as compared with the known words: NFKC, lower case, without spaces, * and colons."""
    return re.sub(r"[\s*：:]+", "", unicodedata.normalize("NFKC", text or "").lower())


def detect_header_row(path: Path, kind: ImportKind) -> int:
    """The first row (1-based) with at least two cells that are known header words of `kind` (or one, for a
    file with a single such cell), else the first non-blank row: title and blank rows above are skipped."""
    words = {header_key(w) for _f, _label, ws in kind.fields for w in ws}
    it, _enc = _raw_rows(path)
    first_nonblank = one_hit = 0
    for n, row in enumerate(it, start=1):
        if n > HEADER_SCAN:
            break
        hits = sum(1 for c in row if c and header_key(c) in words)
        if hits >= 2:
            return n
        if hits and not one_hit:
            one_hit = n
        if any(row) and not first_nonblank:
            first_nonblank = n
    return one_hit or first_nonblank or 1


_TOTAL_START = frozenset("合总小tTsS")


def is_ignored_row(row: list[str]) -> bool:
    """A blank row, or a totals/summary line (合计, 总计, 小计 in one of the first two non-empty cells)."""
    seen = 0
    for c in row:
        if not c:
            continue
        if c[0] in _TOTAL_START and re.sub(r"[\s:：]+", "", c).lower().startswith(_TOTALS):
            return True
        seen += 1
        if seen == 2:
            return False
    return seen == 0


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores phone numbers typed as numbers as floats
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")


def parse_date(raw: str) -> dt.date | None:
    """2025-03-01, 2025/3/1, 2025.3.1, 2025年3月1日, 20250301, an Excel date (with a time after it); None if
    the text is not a date."""
    raw = unicodedata.normalize("NFKC", raw or "").strip()
    match = _DATE.match(raw) or re.fullmatch(r"(\d{4})(\d{2})(\d{2})", raw)
    if match is None:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


_PHONE = re.compile(r"1[3-9]\d{9}|0\d{9,11}|[2-9]\d{6,7}|[48]00\d{7}")


def clean_phone(raw: str) -> str | None:
    """The normalised phone ("+86 138-0013-8000" -> "13800138000"), "" for an empty cell, None when the
    cell is not a Chinese mobile or landline number (letters, too short, 1.38E+10 as Excel may write it)."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    if re.search(r"[^\d\s+()\-－—.转,，/]", unicodedata.normalize("NFKC", raw)):
        return None
    if re.search(r"\d\.\d+[eE]", raw) or re.fullmatch(r"\d+\.\d+", raw):
        return None
    digits = normalize_phone(raw.split("转")[0])
    return digits if _PHONE.fullmatch(digits) else None


def guess_mapping(kind: str | ImportKind, headers: list[str]) -> dict[str, str]:
    """Column index (as a string) -> field, from header synonyms (a field's earlier words win, then the
    leftmost column)."""
    fields = kind.fields if isinstance(kind, ImportKind) else _kind(kind).fields
    keys = [header_key(h) for h in headers]
    mapping: dict[str, str] = {}
    for fld, _label, words in fields:
        for word in (header_key(w) for w in words):
            col = next((i for i, k in enumerate(keys) if k == word and str(i) not in mapping), None)
            if col is not None:
                mapping[str(col)] = fld
                break
    return {k: mapping[k] for k in sorted(mapping, key=int)}


# --- jobs ----------------------------------------------------------------------------------------------


def _media_dir() -> Path:
    # Files are kept per tenant: MEDIA_ROOT/<schema>/imports/
    path = Path(settings.MEDIA_ROOT) / connection.schema_name / "imports"  # type: ignore[attr-defined]
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_upload(*, actor: User, kind: str, filename: str, data: bytes) -> ImportJob:
    """Store an uploaded file, find its header row and guess the column mapping; nothing is imported yet."""
    spec = kind_check(actor, kind)
    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise ServiceError(_("Upload a .csv or .xlsx file."), field="file")
    if not data or len(data) > MAX_BYTES:
        raise ServiceError(_("The file is empty or larger than 50 MB."), field="file")
    job = ImportJob.objects.create(created_by=actor, kind=kind, filename=Path(filename).name[:200])
    path = _media_dir() / f"{job.pk}{suffix}"
    path.write_bytes(data)
    try:
        header_row = detect_header_row(path, spec)
        headers, _rows, encoding = read_rows(path, header_row)
    except ServiceError:
        path.unlink(missing_ok=True)
        job.delete()
        raise
    job.stored_path = str(path)
    job.header_row = header_row
    job.headers = headers
    job.encoding = encoding
    job.mapping = guess_mapping(spec, headers)
    job.key = spec.keys[0][0]
    job.save()
    return job


def import_preview(job: ImportJob, limit: int = 10) -> list[list[str]]:
    """The first `limit` data rows below the header (blank and totals lines left out)."""
    _headers, rows, _enc = read_rows(Path(job.stored_path), job.header_row)
    out = []
    for row in rows:
        if not is_ignored_row(row):
            out.append(row)
        if len(out) >= limit:
            break
    return out


def remembered_values(kind: str) -> dict[str, dict[str, str]]:
    """field -> {cell value -> target} as confirmed on earlier imports of `kind` in this workspace."""
    out: dict[str, dict[str, str]] = {}
    for fld, value, target in ImportValueMap.objects.filter(kind=kind).values_list(
        "field", "value", "target"
    ):
        out.setdefault(fld, {})[value] = target
    return out


def _configure(
    actor: User,
    job: ImportJob,
    spec: ImportKind,
    mapping: dict[str, str],
    key: str,
    value_map: dict[str, dict[str, str]] | None,
) -> None:
    """Check and set the mapping, key and value map on `job` (not saved)."""
    valid = spec.field_names()
    mapping = {str(col): fld for col, fld in mapping.items() if fld}
    if set(mapping.values()) - valid or len(set(mapping.values())) != len(mapping):
        raise ServiceError(_("Map each column to a different field."), field="mapping")
    for fld, message in spec.required:
        if fld not in mapping.values():
            raise ServiceError(str(message), field="mapping")
    if len(spec.keys) == 1:
        key = spec.keys[0][0]  # nothing to choose
    elif key not in {k for k, _label in spec.keys}:
        raise ServiceError(_("Choose the key used to find existing records."), field="key")
    if key in valid and key not in mapping.values():
        raise ServiceError(_("Map a column to the key field."), field="key")
    job.mapping, job.key = mapping, key
    if value_map is not None:
        choices = spec.choices(_context(spec, actor)) if spec.choices else {}
        clean: dict[str, dict[str, str]] = {}
        for fld, values in value_map.items():
            if fld not in choices:
                continue
            allowed = {v for v, _label in choices[fld].options} | {""}
            for value, target in values.items():
                if target is None:
                    continue  # not mapped: those rows are skipped
                if target not in allowed:
                    raise ServiceError(
                        _("Choose a known value for “%(v)s”.") % {"v": value}, field="value_map"
                    )
                clean.setdefault(fld, {})[str(value)[:200]] = target
        job.value_map = clean


def import_analyse(
    *,
    actor: User,
    job: ImportJob,
    mapping: dict[str, str] | None = None,
    key: str | None = None,
    value_map: dict[str, dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Read the whole file as the run would, write nothing, and keep on the job what the preview shows:
    rows to create, update, merge into an earlier row, skip (with the first reasons), rows kept with a
    warning, blank/totals lines ignored, new rows that look like existing records, and per choice field the
    values not known with how many rows use them and the value they are mapped to (this import's, else the
    one remembered for the workspace). Changing the mapping (or the key) re-analyses."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied(_("This import belongs to someone else."))
    if job.status != ImportJob.Status.UPLOADED:
        raise ServiceError(_("This import has already run."), code="conflict")
    spec = kind_check(actor, job.kind)
    if mapping is not None:
        _configure(actor, job, spec, mapping, key if key is not None else job.key, value_map)
    effective = _effective_value_map(job)
    parsed = _parse(job, spec, effective)
    errors = parsed.errors
    if spec.resolve is not None:
        errors = errors + spec.resolve(actor, job.key, parsed.records)
        bad = {e.row for e in errors}
        parsed.records = [(line, r) for line, r in parsed.records if line not in bad]
    update, alike = spec.existing(actor, job.key, parsed.records) if spec.existing else (0, 0)
    errors.sort(key=lambda e: (e.row, e.field))
    choices = parsed.choices
    job.analysis = {
        "rows": parsed.total,
        "create": len(parsed.records) - update,
        "update": update,
        "merge": parsed.merged,
        "skip": len({e.row for e in errors}),
        "ignored": parsed.ignored,
        "warn": len(parsed.warnings),
        "alike": alike,
        "errors": [e.__dict__ for e in errors[:50]],
        "warnings": [w.__dict__ for w in parsed.warnings[:50]],
        "unknown": [
            {
                "field": fld,
                "label": str(next((lbl for f, lbl, _w in spec.fields if f == fld), fld)),
                "options": choices[fld].options,
                "values": [
                    {"value": v, "rows": n, "target": effective.get(fld, {}).get(v)}
                    for v, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:100]
                ],
            }
            for fld, counts in parsed.unknown.items()
            if counts
        ],
    }
    job.save(update_fields=["mapping", "key", "value_map", "analysis", "updated_at"])
    return job.analysis


def _effective_value_map(job: ImportJob) -> dict[str, dict[str, str]]:
    effective = remembered_values(job.kind)
    for fld, values in (job.value_map or {}).items():
        effective.setdefault(fld, {}).update(values)
    return effective


def import_start(
    *,
    actor: User,
    job: ImportJob,
    mapping: dict[str, str],
    key: str,
    value_map: dict[str, dict[str, str]] | None = None,
    all_or_nothing: bool = False,
) -> ImportJob:
    """Confirm the mapping (and the values chosen for unknown choice cells: remembered for the workspace's
    next import of this kind) and queue the import (runs after commit in the worker). By default the valid
    rows are imported and the others skipped; `all_or_nothing` writes nothing if any row is bad."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied(_("This import belongs to someone else."))
    if job.status != ImportJob.Status.UPLOADED:
        raise ServiceError(_("This import has already run."), code="conflict")
    spec = kind_check(actor, job.kind)  # the module may have been switched off since the upload
    _configure(actor, job, spec, mapping, key, value_map)
    with transaction.atomic():
        for fld, values in (job.value_map or {}).items():
            for value, target in values.items():
                ImportValueMap.objects.update_or_create(
                    kind=job.kind, field=fld, value=value, defaults={"target": target}
                )
        job.all_or_nothing = bool(all_or_nothing)
        job.status = ImportJob.Status.QUEUED
        job.save(update_fields=["mapping", "key", "value_map", "all_or_nothing", "status", "updated_at"])
    from crm.kernel.dispatch import enqueue

    enqueue("crm.modules.core.tasks.import_run", args=[job.pk])
    return job


def progress_key(job_id: int) -> str:
    return f"core-import-progress:{job_id}"


def import_progress(job: ImportJob) -> dict[str, int]:
    return cache.get(progress_key(job.pk)) or {"done": job.processed_rows, "total": job.total_rows}


def _choice_table(field_name: str, choices: Any) -> dict[str, str]:
    """Every accepted spelling of a choice -> its code (codes, labels in the active language, Chinese words).
    Built once per import: resolving lazy labels per row would dominate the run time."""
    table = {str(v): str(v) for v in choices.values}
    table.update({str(label).lower(): str(v) for v, label in choices.choices})
    table.update(CHOICE_WORDS[field_name])
    return table


def _clean_customer(rec: dict[str, str], key: str, tables: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = rec.get("name", "").strip()
    if not name:
        raise ValueError(("name", _("The name is empty.")))
    out["name"] = name[:200]
    warnings: list[tuple[str, str]] = []
    phone = _phone_or_warn(rec.get("phone", ""), warnings)
    if phone:
        out["phone"] = phone
    email = _email_or_warn(rec.get("email", ""), warnings)
    if email:
        out["email"] = email
    for fld, table in tables.items():
        raw = rec.get(fld, "").strip()
        if raw and fld not in (OWNERS, OWNERS_WARNED):
            if raw.lower() not in table:
                raise ValueError((fld, _("Unknown value “%(v)s”.") % {"v": raw}))
            out[fld] = table[raw.lower()]
    for fld, size in (("province", 50), ("city", 50), ("address", 255), ("notes", 10000)):
        if rec.get(fld):
            out[fld] = rec[fld][:size]
    tags = [t[:30] for t in re.split(r"[,，;；\s]+", rec.get("tags", "")) if t]
    level = rec.get("level", "").strip()[:30]
    if level and level not in tags:
        tags.append(level)  # no level field on customers: a tag, searchable and shown on the list
    if tags:
        out["tags"] = tags[:20]
    raw = rec.get("created", "").strip()
    if raw:
        day = parse_date(raw)
        if day is None or day > dt.date.today():
            warnings.append(("created", _("“%(v)s” is not a date; left out.") % {"v": raw}))
        else:
            out["created_at"] = timezone.make_aware(dt.datetime.combine(day, dt.time(9)))
    for fld in ("contact_name", "contact_title"):
        if rec.get(fld):
            out[fld] = rec[fld][:100]
    if out.get("contact_name"):
        out["contact_phone"] = out.get("phone", "")
    key_value = {"phone": out.get("phone", ""), "email": out.get("email", ""), "name": normalize_name(name)}[
        key
    ]
    if not key_value:
        raw = rec.get(key, "").strip()[:60]
        if raw and key == "phone":  # there is a phone, but not a valid one: say so, not "empty"
            raise ValueError((key, _("“%(v)s” is not a phone number (the key of this import).") % {"v": raw}))
        if raw and key == "email":
            raise ValueError(
                (key, _("“%(v)s” is not an email address (the key of this import).") % {"v": raw})
            )
        raise ValueError((key, _("The key column is empty.")))
    # After the key is known to be good: a row skipped for its key must not use up the one warning.
    raw = rec.get("owner", "").strip()
    if raw:
        owner_id = tables.get(OWNERS, {}).get(raw.lower())
        warned = tables.get(OWNERS_WARNED)
        if owner_id is not None:
            out["owner_id"] = owner_id
        elif warned is not None and raw not in warned:
            # Not a colleague (or not one the importer may give customers to): said once per name, on its
            # first row, not on each of the hundreds of rows a former rep's name can be on.
            warned.add(raw)
            warnings.append(
                (
                    "owner",
                    _("“%(v)s” is not a colleague you can give customers to: the rows naming them are yours.")
                    % {"v": raw[:60]},
                )
            )
    out["_key"] = key_value
    if warnings:
        out[WARNINGS] = warnings
    return out


def _phone_or_warn(raw: str, warnings: list[tuple[str, str]]) -> str:
    phone = clean_phone(raw)
    if phone is None:
        warnings.append(("phone", _("“%(v)s” is not a phone number; left out.") % {"v": raw.strip()[:40]}))
        return ""
    return phone


def _email_or_warn(raw: str, warnings: list[tuple[str, str]]) -> str:
    email = unicodedata.normalize("NFKC", raw or "").strip().lower()
    if not email:
        return ""
    try:
        validate_email(email)
    except ValidationError:
        warnings.append(("email", _("“%(v)s” is not an email address; left out.") % {"v": raw.strip()[:60]}))
        return ""
    return email


def _clean_product(rec: dict[str, str]) -> dict[str, Any]:
    name = rec.get("name", "").strip()
    if not name:
        raise ValueError(("name", _("The name is empty.")))
    out: dict[str, Any] = {
        "name": name[:200],
        "code": rec.get("code", "")[:50],
        "specification": rec.get("specification", "")[:200],
    }
    for fld in ("price", "cost"):
        raw = rec.get(fld, "").strip()
        if raw:
            try:
                amount = parse_amount(raw, field=fld)
            except ServiceError as exc:
                raise ValueError((fld, exc.message)) from None
            if amount < 0:
                raise ValueError((fld, _("The amount cannot be negative.")))
            out[fld] = amount
    if rec.get("vat_rate", "").strip():
        try:
            out["vat_rate"] = validate_rate(rec["vat_rate"])
        except ServiceError as exc:
            raise ValueError(("vat_rate", exc.message)) from None
    for fld, size in (("unit", 20), ("category", 100)):
        if rec.get(fld):
            out[fld] = rec[fld][:size]
    out["_key"] = (out["code"], out["name"], out["specification"])
    return out


def _clean_contact(rec: dict[str, str], key: str) -> dict[str, Any]:
    ref = rec.get("customer", "").strip()
    if not ref:
        raise ValueError(("customer", _("The customer is empty.")))
    name = rec.get("name", "").strip()
    if not name:
        raise ValueError(("name", _("The name is empty.")))
    warnings: list[tuple[str, str]] = []
    out: dict[str, Any] = {
        "customer": ref,
        "name": name[:100],
        "phone": _phone_or_warn(rec.get("phone", ""), warnings),
        "email": _email_or_warn(rec.get("email", ""), warnings),
    }
    for fld in ("title", "role"):
        if rec.get(fld):
            out[fld] = rec[fld].strip()[:100]
    if not out[key]:
        raise ValueError((key, _("The key column is empty.")))
    if warnings:
        out[WARNINGS] = warnings
    # Provisional key (customer as written) for spotting repeated rows early; the resolved customer id
    # replaces it in _resolve_contact_customers.
    out["_key"] = (ref.lower(), out[key])
    return out


OWNERS = "_owners"  # context key: colleague name or email (lower case) -> user id
OWNERS_WARNED = "_owners_warned"  # context key: owner names already warned about in this run


def _customer_tables(actor: User) -> dict[str, Any]:
    """Choice tables, and the colleagues an owner column may name (by name or email, any case) when the
    importer may give customers to others (`core.assign_customers`); otherwise only the importer."""
    from crm.platform.permissions import has_perm, permission_map

    people = User.objects.filter(is_active=True, role__in=permission_map()["core.view_customers"])
    if not has_perm(actor, "core.assign_customers"):
        people = people.filter(pk=actor.pk)
    owners: dict[str, int] = {}
    for pk, name, email in people.order_by("pk").values_list("pk", "name", "email"):
        owners.setdefault(email.strip().lower(), pk)
        if name.strip():
            owners.setdefault(name.strip().lower(), pk)
    return {
        "kind": _choice_table("kind", Customer.Kind),
        "source": _choice_table("source", Customer.Source),
        "stage": _choice_table("stage", Customer.Stage),
        OWNERS: owners,
        OWNERS_WARNED: set(),
    }


def _kind(name: str) -> ImportKind:
    kind = import_kinds.get(name)
    if kind is None:
        raise ServiceError(_("Choose what to import."), field="kind")
    return kind


def _refuse(job: ImportJob, actor: User, exc: ServiceError) -> ImportJob:
    """Fail the job as a whole (nothing read, nothing written), with the reason in the importer's language."""
    with translation.override(actor.language or translation.get_language()):
        message = str(exc.message)  # kind_check's messages are lazy: translated here
    job.errors = [RowError(0, "kind", message).__dict__]
    job.error_count = 1
    job.status, job.finished_at = ImportJob.Status.FAILED, timezone.now()
    job.save()
    cache.set(progress_key(job.pk), {"done": 0, "total": 0}, 3600)
    return job


@dataclass
class Parsed:
    """The file read as the run reads it: clean records by key (rows of the same key merged), rows skipped
    (errors), rows kept with a value left out (warnings), unknown choice values per field (with counts)."""

    records: Records = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowError] = field(default_factory=list)
    merged: int = 0
    ignored: int = 0  # blank and totals lines
    total: int = 0  # data rows
    unknown: dict[str, dict[str, int]] = field(default_factory=dict)
    choices: dict[str, Choice] = field(default_factory=dict)


def merge_later_wins(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """Two rows of the file with the same key: the later row's non-empty values win."""
    out = dict(earlier)
    out.update({k: v for k, v in later.items() if v not in ("", None, [], {}) and k != WARNINGS})
    return out


def _context(spec: ImportKind, actor: User) -> Any:
    return spec.prepare(actor) if spec.prepare else None


def _parse(job: ImportJob, spec: ImportKind, value_map: dict[str, dict[str, str]]) -> Parsed:
    mapping = {int(col): fld for col, fld in job.mapping.items()}
    _headers, rows, _enc = read_rows(Path(job.stored_path), job.header_row)
    context = _context(spec, job.created_by)
    mapped = set(mapping.values())
    all_choices = spec.choices(context) if spec.choices else {}
    choices = {f: c for f, c in all_choices.items() if f in mapped}
    out = Parsed(choices=choices, unknown={f: {} for f in choices})
    merge = spec.merge or merge_later_wins
    position: dict[Any, int] = {}  # key -> index in out.records
    records = out.records
    for line, row in enumerate(rows, start=job.header_row + 1):
        if is_ignored_row(row):
            out.ignored += 1
            continue
        out.total += 1
        rec = {fld: (row[col] if col < len(row) else "") for col, fld in mapping.items()}
        problem: RowError | None = None
        for fld, choice in choices.items():
            raw = rec[fld].strip()
            if not raw or raw.lower() in choice.accepted:
                continue
            counts = out.unknown[fld]
            counts[raw] = counts.get(raw, 0) + 1
            target = value_map.get(fld, {}).get(raw)
            if target is None:
                problem = problem or RowError(line, fld, _("Unknown value “%(v)s”.") % {"v": raw})
            else:
                rec[fld] = target
        if problem is not None:
            out.errors.append(problem)
            continue
        try:
            clean = spec.clean_row(rec, job.key, context)
        except ValueError as exc:
            fld, msg = exc.args[0]
            out.errors.append(RowError(line, fld, str(msg)))
            continue
        for fld, msg in clean.pop(WARNINGS, ()):
            out.warnings.append(RowError(line, fld, str(msg)))
        k = clean["_key"]
        at = position.get(k)
        if at is not None:
            first_line, earlier = records[at]
            records[at] = (first_line, merge(earlier, clean))
            out.merged += 1
            continue
        position[k] = len(records)
        records.append((line, clean))
    return out


def import_run(job_id: int) -> ImportJob:
    """Validate every row, merge rows of the same key, then write the valid ones in one transaction and skip
    the others (kept as a file to fix and re-import), or, all or nothing, write nothing if any row is bad."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    # Claim: queued -> running in one UPDATE, so a re-delivered or requeued message runs the job once.
    claimed = ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, started_at=timezone.now(), heartbeat_at=timezone.now()
    )
    if not claimed:
        return job  # idempotent: a re-delivered task does nothing
    actor = job.created_by
    try:
        # Checked again here: the module may have been switched off (or the role changed) since the upload.
        spec = kind_check(actor, job.kind)
    except ServiceError as exc:  # PermissionDenied is a ServiceError too
        return _refuse(job, actor, exc)
    parsed = _parse(job, spec, _effective_value_map(job))
    records, errors = parsed.records, parsed.errors
    total = parsed.total
    if spec.resolve is not None:
        # Resolved before anything is written, so that e.g. unknown customers are reported with the others.
        errors = errors + spec.resolve(actor, job.key, records)
    errors.sort(key=lambda e: (e.row, e.field))
    cache.set(progress_key(job.pk), {"done": 0, "total": total}, 3600)
    created = updated = 0
    if errors and not job.all_or_nothing:
        bad = {e.row for e in errors}
        records = [(line, r) for line, r in records if line not in bad]
    if not (errors and job.all_or_nothing):
        try:
            with transaction.atomic():
                created, updated, write_errors = spec.write(job, actor, records)
                if write_errors and job.all_or_nothing:
                    raise _Rollback(write_errors)
                errors = sorted(errors + write_errors, key=lambda e: (e.row, e.field))
                audit(
                    actor=actor,
                    action=f"import.{job.kind}",
                    target=job,
                    detail={
                        "file": job.filename,
                        "created": created,
                        "updated": updated,
                        "skipped": len({e.row for e in errors}),
                    },
                )
        except _Rollback as exc:
            created = updated = 0
            errors = sorted(errors + exc.args[0], key=lambda e: (e.row, e.field))
    failed = bool(errors) and job.all_or_nothing
    warnings = [] if failed else getattr(job, "warnings", [])
    job.warnings = [{**{k: v for k, v in w.items() if k != "new"}, "new_id": w["new"].pk} for w in warnings]
    job.warning_count = len(job.warnings)
    job.row_warnings = [] if failed else [w.__dict__ for w in parsed.warnings[:MAX_ERRORS_KEPT]]
    job.merged_count = 0 if failed else parsed.merged
    job.total_rows, job.processed_rows = total, total
    job.created_count, job.updated_count = created, updated
    job.error_count = len(errors)
    job.skipped_count = len({e.row for e in errors})
    job.errors = [e.__dict__ for e in errors[:MAX_ERRORS_KEPT]]
    job.status = ImportJob.Status.FAILED if failed else ImportJob.Status.DONE
    job.finished_at = timezone.now()
    if errors:
        _write_skipped(job, errors)
    job.save()
    cache.set(progress_key(job.pk), {"done": total, "total": total}, 3600)
    return job


def skipped_path(job: ImportJob) -> Path:
    stored = Path(job.stored_path)
    return stored.with_name(f"{job.pk}-skipped{stored.suffix}")


def _write_skipped(job: ImportJob, errors: list[RowError]) -> None:
    """The skipped rows as a file of the uploaded format (xlsx, or CSV in its encoding), in the file's own
    layout (its header row, its columns) plus an error column: fix the rows there and import it again."""
    messages: dict[int, list[str]] = {}
    for e in errors:
        if e.row:
            messages.setdefault(e.row, []).append(e.message)
    if not messages:
        return
    path = Path(job.stored_path)
    headers, rows, encoding = read_rows(path, job.header_row)
    width = len(headers)
    out_rows = [[*headers, _("Error")]]
    for line, row in enumerate(rows, start=job.header_row + 1):
        if line in messages:
            out_rows.append([*row, *[""] * (width - len(row)), "; ".join(messages[line])])
    target = skipped_path(job)
    if encoding == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet()
        for r in out_rows:
            ws.append(r)  # text as text: phones and codes stay as written
        wb.save(target)
        return
    buf = io.StringIO()
    csv.writer(buf).writerows(out_rows)
    target.write_bytes(buf.getvalue().encode("gb18030" if encoding == "gb18030" else "utf-8-sig"))


@lru_cache(maxsize=20000)
def _char_initial(ch: str) -> str:
    return initials(ch)


def person_initials(name: str) -> str:
    """Initials of a short person name character by character (cached): a bulk import of contacts would
    otherwise spend most of its time in pypinyin's phrase matching, which names rarely need."""
    return "".join(_char_initial(ch) for ch in name)[:100]


class _Rollback(Exception):
    """Raised with the write's row errors to roll an all-or-nothing import back."""


def progress_set(job: ImportJob, done: int, total: int) -> None:
    """Report how far a running import's write got (read by the progress page)."""
    cache.set(progress_key(job.pk), {"done": done, "total": total}, 3600)
    job_heartbeat(job)


_progress = progress_set


def _write_customers(
    job: ImportJob, actor: User, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    key = job.key
    column = {"phone": "phone", "email": "email", "name": "name_normalized"}[key]
    keys = [r["_key"] for _line, r in records]
    existing: dict[str, Customer] = {}
    for i in range(0, len(keys), 10000):
        for c in Customer.objects.filter(**{f"{column}__in": keys[i : i + 10000]}).order_by("id"):
            existing.setdefault(getattr(c, column), c)
    # An upsert may only change customers the importer may edit: own, team's, or shared for writing.
    editable = selectors.customers_editable(actor, [c.pk for c in existing.values()])
    now = timezone.now()
    errors: list[RowError] = []
    to_create: list[Customer] = []
    created_lines: list[int] = []
    contacts: list[tuple[Customer, dict[str, Any]]] = []
    known_contacts: list[tuple[Customer, dict[str, Any]]] = []  # contacts named for existing customers
    to_update: list[Customer] = []
    update_fields: set[str] = set()
    for line, rec in records:
        rec = dict(rec)
        k = rec.pop("_key")
        contact = {f: rec.pop(f) for f in ("contact_name", "contact_title", "contact_phone") if f in rec}
        more_contacts = rec.pop("_more_contacts", [])
        current = existing.get(k)
        if current is not None:
            if current.pk not in editable:
                errors.append(
                    RowError(line, key, _("An existing customer with this key belongs to someone else."))
                )
                continue
            rec.pop("created_at", None)  # an existing customer keeps its date
            rec.pop("owner_id", None)  # and its owner: a change of owner is a handover (audited there)
            # People named in the file that the customer does not have yet are added (by name, below).
            people = ([contact] if contact.get("contact_name") else []) + list(more_contacts)
            known_contacts.extend((current, person) for person in people)
            changed = [fld for fld, value in rec.items() if getattr(current, fld) != value]
            if not changed:
                continue  # the same values again: nothing written (re-running a file changes nothing)
            for fld in changed:
                setattr(current, fld, rec[fld])
                update_fields.add(fld)
            current.name_normalized, current.name_initials = (
                normalize_name(current.name),
                initials(current.name),
            )
            to_update.append(current)
            continue
        owner_id = rec.pop("owner_id", None) or actor.pk
        c = Customer(
            **rec,
            name_normalized=normalize_name(rec["name"]),
            name_initials=initials(rec["name"]),
            owner_id=owner_id,
            created_by=actor,
            last_activity_at=now,
        )
        to_create.append(c)
        created_lines.append(line)
        if contact.get("contact_name"):
            contacts.append((c, contact))
        # Further contacts from rows of the file merged into this one (same key, another person).
        contacts.extend((c, extra) for extra in more_contacts)
    if errors and job.all_or_nothing:
        return 0, 0, errors
    # Before inserting: which new rows look like customers that already exist (any owner)?
    job.warnings = _possible_duplicates(list(zip(created_lines, to_create, strict=True)))
    total = len(records)
    done = 0
    for i in range(0, len(to_create), BATCH * 5):
        copy_insert(Customer, to_create[i : i + BATCH * 5], now)
        done += len(to_create[i : i + BATCH * 5])
        _progress(job, done, total)
    primary_done: set[int] = set()
    if known_contacts:
        ids = sorted({c.pk for c, _d in known_contacts})
        names: set[tuple[int, str]] = set()
        for i in range(0, len(ids), 10000):
            for cid, name in Contact.objects.filter(customer_id__in=ids[i : i + 10000]).values_list(
                "customer_id", "name"
            ):
                names.add((cid, name))
                primary_done.add(cid)
        for c, d in known_contacts:
            if (c.pk, d["contact_name"]) not in names:
                names.add((c.pk, d["contact_name"]))
                contacts.append((c, d))
    contact_rows = []
    for c, d in contacts:
        contact_rows.append(
            Contact(
                customer=c,
                name=d["contact_name"],
                name_initials=person_initials(d["contact_name"]),
                title=d.get("contact_title", ""),
                phone=d.get("contact_phone", c.phone),
                is_primary=c.pk not in primary_done,
            )
        )
        primary_done.add(c.pk)
    copy_insert(Contact, contact_rows, now)
    if to_update:
        fields = sorted(update_fields | {"name_normalized", "name_initials", "updated_at"})
        for c in to_update:
            c.updated_at = now
        for i in range(0, len(to_update), BATCH):
            Customer.objects.bulk_update(to_update[i : i + BATCH], fields)
            done += len(to_update[i : i + BATCH])
            _progress(job, done, total)
    return len(to_create), len(to_update), errors


def _possible_duplicates(rows: list[tuple[int, Customer]]) -> list[dict[str, Any]]:
    """New rows with the same phone, email or normalised name as an existing customer: imported anyway
    (the key said they are new) but listed, so that the importer can open them and merge."""
    wanted = {
        "phone": {c.phone for _l, c in rows if c.phone},
        "email": {c.email for _l, c in rows if c.email},
        "name_normalized": {c.name_normalized for _l, c in rows if c.name_normalized},
    }
    found: dict[str, dict[str, tuple[int, str]]] = {f: {} for f in wanted}
    for fld, values in wanted.items():
        items = sorted(values)
        for i in range(0, len(items), 10000):
            for pk, name, value in Customer.objects.filter(
                **{f"{fld}__in": items[i : i + 10000]}
            ).values_list("pk", "name", fld):
                found[fld].setdefault(value, (pk, name))
    warnings: list[dict[str, Any]] = []
    for line, c in rows:
        for fld in ("phone", "email", "name_normalized"):
            hit = found[fld].get(getattr(c, fld))
            if hit and getattr(c, fld):
                warnings.append(
                    {
                        "row": line,
                        "field": fld.split("_")[0],
                        "existing_id": hit[0],
                        "existing_name": hit[1],
                        "new": c,
                    }
                )
                break
    return warnings[:MAX_ERRORS_KEPT]


def copy_insert(model: Any, objs: list[Any], now: Any) -> None:
    """Insert new rows with PostgreSQL COPY (several times faster than a multi-row INSERT for big files).
    Ids are drawn from the table's sequence first so that rows referring to them (contacts) can follow."""
    if not objs:
        return
    table = model._meta.db_table
    fields = [f for f in model._meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(objs)]
        )
        for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
            obj.pk = pk
            obj.created_at = obj.created_at or now  # an imported creation date is kept
            obj.updated_at = now
        columns = sql.SQL(", ").join(sql.Identifier(f.column) for f in fields)
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier(table), columns)
        raw = cursor.cursor  # the psycopg cursor under Django's wrapper (search_path already on the tenant)
        # Values go to psycopg as they are (it adapts str, Decimal, datetime, bool, lists); only JSON needs
        # wrapping. Skipping Django's per-field get_db_prep_save roughly halves the time spent here.
        json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
        names = [f.attname for f in fields]
        with raw.copy(statement) as copy:
            for obj in objs:
                d = obj.__dict__
                copy.write_row([Jsonb(d[n]) if n in json_fields else d[n] for n in names])


def _write_products(job: ImportJob, records: list[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    existing = {(p.code, p.name, p.specification): p for p in Product.objects.all()}
    to_create, to_update, fields = [], [], set()
    for _line, rec in records:
        rec = dict(rec)
        k = rec.pop("_key")
        current = existing.get(k)
        if current is not None:
            changed = [fld for fld, value in rec.items() if getattr(current, fld) != value]
            for fld in changed:
                setattr(current, fld, rec[fld])
                fields.add(fld)
            if changed:  # the same values again: nothing written
                to_update.append(current)
        else:
            to_create.append(
                Product(**rec, name_initials=initials(rec["name"]), currency=settings.DEFAULT_CURRENCY)
            )
    Product.objects.bulk_create(to_create, batch_size=BATCH)
    if to_update:
        Product.objects.bulk_update(to_update, sorted(fields | {"updated_at"}), batch_size=BATCH)
    _progress(job, len(records), len(records))
    return len(to_create), len(to_update)


def _resolve_contact_customers(
    actor: User, key: str, records: list[tuple[int, dict[str, Any]]]
) -> list[RowError]:
    """Replace each row's customer reference (name or phone) by the id of the one customer the importer may
    edit that it names. A customer the importer cannot see is "unknown" (its existence is not revealed)."""
    names = {normalize_name(r["customer"]) for _l, r in records} - {""}
    phones = {normalize_phone(r["customer"]) for _l, r in records} - {""}
    by_name: dict[str, set[int]] = {}
    by_phone: dict[str, set[int]] = {}
    owner_of: dict[int, int | None] = {}
    visible = selectors.customers_visible(actor)
    for values, column, index in (
        (sorted(names), "name_normalized", by_name),
        (sorted(phones), "phone", by_phone),
    ):
        for i in range(0, len(values), 10000):
            for pk, value, owner_id in visible.filter(**{f"{column}__in": values[i : i + 10000]}).values_list(
                "pk", column, "owner_id"
            ):
                index.setdefault(value, set()).add(pk)
                owner_of[pk] = owner_id
    # Adding a contact needs the right to edit the customer (as contact_create does): own, team's (managers),
    # shared for writing, or everyone's (admins).
    editable = selectors.customers_editable(actor, owner_of)
    errors: list[RowError] = []
    seen: dict[tuple[int, str], int] = {}
    for line, rec in records:
        ref = rec["customer"]
        # A phone-looking reference (7+ digits) is matched by phone, anything else by name.
        phone = normalize_phone(ref)
        looks_like_phone = re.fullmatch(r"[\d\s+()-]{7,}", ref) is not None
        matches = by_phone.get(phone, set()) if looks_like_phone else set()
        matches = matches or by_name.get(normalize_name(ref), set())
        if not matches:
            errors.append(RowError(line, "customer", _("Unknown customer “%(v)s”.") % {"v": ref}))
            continue
        if len(matches) > 1:
            errors.append(
                RowError(
                    line, "customer", _("Several customers are called “%(v)s”; use the phone.") % {"v": ref}
                )
            )
            continue
        (customer_id,) = matches
        if customer_id not in editable:
            errors.append(RowError(line, "customer", _("You may not edit this customer.")))
            continue
        k = (customer_id, rec[key])
        if k in seen:
            errors.append(RowError(line, key, _("Same key as row %(n)d.") % {"n": seen[k]}))
            continue
        seen[k] = line
        rec["customer_id"], rec["_key"] = customer_id, k
    return errors


def _write_contacts(job: ImportJob, records: list[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    """Upsert contacts by (customer, phone or email); the first contact of a customer becomes its primary."""
    key = job.key
    customer_ids = sorted({r["customer_id"] for _l, r in records})
    existing: dict[tuple[int, str], Contact] = {}
    has_contacts: set[int] = set()
    for i in range(0, len(customer_ids), 10000):
        for c in Contact.objects.filter(customer_id__in=customer_ids[i : i + 10000]).order_by("id"):
            has_contacts.add(c.customer_id)
            value = getattr(c, key).lower() if key == "email" else getattr(c, key)
            if value:
                existing.setdefault((c.customer_id, value), c)
    to_create: list[Contact] = []
    to_update: list[Contact] = []
    for _line, rec in records:
        data = {f: rec[f] for f in ("name", "title", "role", "phone", "email") if rec.get(f)}
        current = existing.get(rec["_key"])
        if current is not None:
            changed = [fld for fld, value in data.items() if getattr(current, fld) != value]
            for fld in changed:
                setattr(current, fld, data[fld])
            current.name_initials = person_initials(current.name)
            if changed:  # the same values again: nothing written
                to_update.append(current)
            continue
        to_create.append(
            Contact(
                customer_id=rec["customer_id"],
                name_initials=person_initials(rec["name"]),
                is_primary=rec["customer_id"] not in has_contacts,
                **data,
            )
        )
        has_contacts.add(rec["customer_id"])
    Contact.objects.bulk_create(to_create, batch_size=BATCH)
    if to_update:
        now = timezone.now()
        for c in to_update:
            c.updated_at = now
        _update_contacts(to_update, now)
    _progress(job, len(records), len(records))
    return len(to_create), len(to_update)


CONTACT_UPDATE_COLUMNS = ("name", "name_initials", "title", "role", "phone", "email")


def _update_contacts(contacts: list[Contact], now: Any) -> None:
    """One UPDATE ... FROM unnest(arrays) per batch: Django's bulk_update builds a CASE expression per row
    and field in Python and measured ~9 ms per row here (10,000 updated contacts took 47 s)."""
    table = sql.Identifier(Contact._meta.db_table)
    sets = sql.SQL(", ").join(
        sql.SQL("{} = v.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in CONTACT_UPDATE_COLUMNS
    )
    unnest = sql.SQL(", ").join(sql.SQL("%s::text[]") for _c in CONTACT_UPDATE_COLUMNS)
    names = sql.SQL(", ").join(sql.Identifier(c) for c in CONTACT_UPDATE_COLUMNS)
    statement = sql.SQL(
        "UPDATE {table} AS t SET {sets}, updated_at = %s "
        "FROM unnest(%s::bigint[], {unnest}) AS v(id, {names}) WHERE t.id = v.id"
    ).format(table=table, sets=sets, unnest=unnest, names=names)
    with connection.cursor() as cursor:
        query = statement.as_string(cursor.cursor)
        for i in range(0, len(contacts), BATCH):
            batch = contacts[i : i + BATCH]
            cursor.execute(
                query,
                [
                    now,
                    [c.pk for c in batch],
                    *([getattr(c, col) for c in batch] for col in CONTACT_UPDATE_COLUMNS),
                ],
            )


def import_error_report(job: ImportJob) -> str:
    """CSV text (UTF-8 with BOM so that Excel opens it) listing every kept row error."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow([_("Row"), _("Field"), _("Error")])
    for e in job.errors:
        writer.writerow([e["row"], e["field"], e["message"]])
    return out.getvalue()


def template_header(words: tuple[str, ...], label: Any) -> str:
    """The template's header for a field: its first Chinese header word (what guess_mapping knows)."""
    return next((w for w in words if re.search(r"[\u4e00-\u9fff]", w)), str(label))


def import_template(kind: ImportKind) -> bytes:
    """An .xlsx to fill in: the kind's fields as Chinese headers (recognised by the mapping) and one example
    row, every cell stored as text so that phones and codes stay as typed."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    example = dict(kind.example)
    wb = Workbook()
    ws = wb.active
    ws.title = "导入模板"
    ws.append([template_header(words, label) for _f, label, words in kind.fields])
    ws.append([example.get(f, "") for f, _label, _words in kind.fields])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for i, (_f, _label, _words) in enumerate(kind.fields):
        ws.column_dimensions[ws.cell(row=1, column=i + 1).column_letter].width = 18
        ws.cell(row=2, column=i + 1).number_format = "@"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def import_cleanup(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Remove stored upload files of finished imports (kept a week for the error report)."""
    n = 0
    for job in ImportJob.objects.filter(finished_at__lt=timezone.now() - older_than).exclude(stored_path=""):
        skipped_path(job).unlink(missing_ok=True)
        Path(job.stored_path).unlink(missing_ok=True)
        job.stored_path = ""
        job.save(update_fields=["stored_path", "updated_at"])
        n += 1
    return n


# --- the core's kinds ---------------------------------------------------------------------------------


def _write_products_kind(job: ImportJob, actor: User, records: Records) -> tuple[int, int, list[RowError]]:
    return (*_write_products(job, records), [])


def _write_contacts_kind(job: ImportJob, actor: User, records: Records) -> tuple[int, int, list[RowError]]:
    return (*_write_contacts(job, records), [])


def _customer_choices(tables: dict[str, Any]) -> dict[str, Choice]:
    models_choices = {"kind": Customer.Kind, "source": Customer.Source, "stage": Customer.Stage}
    return {
        fld: Choice(
            accepted=frozenset(k.lower() for k in tables[fld]),
            options=[(str(v), str(label)) for v, label in models_choices[fld].choices],
        )
        for fld in tables
        if fld not in (OWNERS, OWNERS_WARNED)
    }


def _merge_customers(earlier: dict[str, Any], later: dict[str, Any]) -> dict[str, Any]:
    """The later row's non-empty values win; the first row's contact stays the primary one and another
    person named on a later row becomes a further contact of the same customer."""
    out = merge_later_wins(earlier, later)
    extra = list(earlier.get("_more_contacts", []))
    names = {earlier.get("contact_name")} | {c["contact_name"] for c in extra}
    if earlier.get("contact_name"):
        for fld in ("contact_name", "contact_title", "contact_phone"):
            out[fld] = earlier.get(fld, "")
        if later.get("contact_name") == earlier["contact_name"]:
            out["contact_title"] = later.get("contact_title") or earlier.get("contact_title", "")
            out["contact_phone"] = later.get("contact_phone") or earlier.get("contact_phone", "")
    if earlier.get("contact_name") and later.get("contact_name") and later["contact_name"] not in names:
        extra.append({f: later.get(f, "") for f in ("contact_name", "contact_title", "contact_phone")})
    if extra:
        out["_more_contacts"] = extra
    tags = list(earlier.get("tags", []))
    tags += [t for t in later.get("tags", []) if t not in tags]
    if tags:
        out["tags"] = tags[:20]
    return out


def _chunked_values(qs: Any, column: str, values: list[Any]) -> set[Any]:
    found: set[Any] = set()
    for i in range(0, len(values), 10000):
        found.update(qs.filter(**{f"{column}__in": values[i : i + 10000]}).values_list(column, flat=True))
    return found


def _customers_existing(actor: User, key: str, records: Records) -> tuple[int, int]:
    """(rows updating an existing customer, new rows that look like one: same phone, email or normalised
    name) for the preview."""
    column = {"phone": "phone", "email": "email", "name": "name_normalized"}[key]
    found = _chunked_values(Customer.objects.all(), column, sorted({r["_key"] for _l, r in records}))
    new = [r for _l, r in records if r["_key"] not in found]
    names = _chunked_values(
        Customer.objects.all(), "name_normalized", sorted({normalize_name(r["name"]) for r in new})
    )
    phones = _chunked_values(
        Customer.objects.all(), "phone", sorted({r.get("phone", "") for r in new} - {""})
    )
    emails = _chunked_values(
        Customer.objects.all(), "email", sorted({r.get("email", "") for r in new} - {""})
    )
    alike = sum(
        1
        for r in new
        if normalize_name(r["name"]) in names or r.get("phone") in phones or r.get("email") in emails
    )
    return len(records) - len(new), alike


def _contacts_existing(actor: User, key: str, records: Records) -> tuple[int, int]:
    ids = sorted({r["customer_id"] for _l, r in records if "customer_id" in r})
    pairs: set[tuple[int, str]] = set()
    for i in range(0, len(ids), 10000):
        for cid, value in Contact.objects.filter(customer_id__in=ids[i : i + 10000]).values_list(
            "customer_id", key
        ):
            if value:
                pairs.add((cid, value.lower() if key == "email" else value))
    return sum(1 for _l, r in records if r["_key"] in pairs), 0


def _products_existing(actor: User, key: str, records: Records) -> tuple[int, int]:
    existing = set(Product.objects.values_list("code", "name", "specification"))
    return sum(1 for _l, r in records if r["_key"] in existing), 0


KEY_LABELS = {"phone": gettext_lazy("Phone"), "email": gettext_lazy("Email"), "name": gettext_lazy("Name")}
MAP_NAME = gettext_lazy("Map a column to the name.")

CORE_KINDS = (
    ImportKind(
        name="customers",
        label=gettext_lazy("Customers (with a contact person)"),
        module="core",
        perm="core.view_customers",
        fields=tuple(FIELDS["customers"]),
        keys=tuple((k, KEY_LABELS[k]) for k in CUSTOMER_KEYS),
        required=(("name", MAP_NAME),),
        prepare=_customer_tables,
        clean_row=_clean_customer,
        write=_write_customers,
        key_label=gettext_lazy("Update existing customers found by"),
        choices=_customer_choices,
        merge=_merge_customers,
        existing=_customers_existing,
        example=(
            ("name", "上海明达科技有限公司"),
            ("kind", "企业"),
            ("phone", "13800138000"),
            ("email", "info@mingda.cn"),
            ("province", "上海"),
            ("city", "上海"),
            ("address", "浦东新区张江路 88 号"),
            ("level", "A级"),
            ("tags", "重点;华东"),
            ("source", "展会"),
            ("stage", "意向客户"),
            ("created", "2025-03-01"),
            ("notes", "2025 年展会认识"),
            ("contact_name", "王经理"),
            ("contact_title", "采购经理"),
        ),
    ),
    ImportKind(
        name="contacts",
        label=gettext_lazy("Contacts of existing customers"),
        module="core",
        perm="core.view_customers",
        fields=tuple(FIELDS["contacts"]),
        keys=tuple((k, KEY_LABELS[k]) for k in CONTACT_KEYS),
        required=(("name", MAP_NAME), ("customer", gettext_lazy("Map a column to the customer."))),
        clean_row=lambda rec, key, _context: _clean_contact(rec, key),
        resolve=_resolve_contact_customers,
        write=_write_contacts_kind,
        existing=_contacts_existing,
        example=(
            ("customer", "上海明达科技有限公司"),
            ("name", "李娜"),
            ("title", "财务经理"),
            ("role", "决策人"),
            ("phone", "13900001111"),
            ("email", "lina@mingda.cn"),
        ),
        key_label=gettext_lazy("Update existing contacts of the customer found by"),
        note=gettext_lazy(
            "Each contact is added to the customer named in its row (by customer name or phone)."
        ),
    ),
    ImportKind(
        name="products",
        label=gettext_lazy("Products"),
        module="core",
        perm="core.manage_products",
        fields=tuple(FIELDS["products"]),
        keys=(("code_name_spec", gettext_lazy("Code + name + specification")),),
        required=(("name", MAP_NAME),),
        clean_row=lambda rec, _key, _context: _clean_product(rec),
        write=_write_products_kind,
        note=gettext_lazy("Existing products are found by code + name + specification."),
        existing=_products_existing,
        example=(
            ("code", "P-1001"),
            ("name", "不锈钢螺栓"),
            ("specification", "M8×30"),
            ("unit", "盒"),
            ("price", "45.00"),
            ("cost", "30.00"),
            ("category", "紧固件"),
        ),
    ),
)

# Named for the core manifest's import_kinds (dotted paths).
CUSTOMERS_KIND, CONTACTS_KIND, PRODUCTS_KIND = CORE_KINDS
