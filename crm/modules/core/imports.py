"""Import of customers and products from CSV (UTF-8 or GBK/GB18030, as saved by Chinese Excel) and .xlsx.

Flow: upload -> preview with a guessed column mapping -> confirm -> a background task validates EVERY row
first and writes nothing if any row is bad (per-row error report to download), else upserts all rows by the
chosen key in one transaction. Progress goes to the cache (schema-prefixed), because rows written inside
the transaction are invisible to the progress page until commit.

What can be imported is a registry of `ImportKind`s (import_kinds.py): the core registers customers,
contacts and products below (`register_core_kinds`, called from CoreConfig.ready); other modules register
theirs through `crm.modules.core.public`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
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
from crm.tenants.accounts.models import User
from crm.tenants.accounts.services import audit

from . import selectors
from .import_kinds import ImportKind, Records, RowError, import_kinds, kind_check, register_import_kind
from .models import Contact, Customer, ImportJob, Product
from .services import initials, normalize_name, normalize_phone

MAX_BYTES = 50 * 1024 * 1024
MAX_ERRORS_KEPT = 1000
BATCH = 2000

# Target fields per kind: (field, label, header synonyms as found in Chinese and English spreadsheets).
FIELDS: dict[str, list[tuple[str, Any, tuple[str, ...]]]] = {
    "customers": [
        (
            "name",
            gettext_lazy("Name"),
            ("name", "customer", "company", "客户名称", "名称", "公司名称", "客户", "姓名"),
        ),
        ("kind", gettext_lazy("Type"), ("kind", "type", "类型", "客户类型")),
        ("phone", gettext_lazy("Phone"), ("phone", "mobile", "tel", "电话", "手机", "手机号", "联系电话")),
        ("email", gettext_lazy("Email"), ("email", "e-mail", "邮箱", "电子邮件")),
        ("province", gettext_lazy("Province"), ("province", "省份", "省")),
        ("city", gettext_lazy("City"), ("city", "城市", "市")),
        ("address", gettext_lazy("Address"), ("address", "地址", "详细地址")),
        ("tags", gettext_lazy("Tags"), ("tags", "tag", "标签")),
        ("source", gettext_lazy("Source"), ("source", "来源", "客户来源")),
        ("stage", gettext_lazy("Stage"), ("stage", "阶段", "客户阶段", "状态")),
        ("notes", gettext_lazy("Notes"), ("notes", "note", "备注")),
        ("contact_name", gettext_lazy("Contact person"), ("contact", "contact name", "联系人")),
        ("contact_title", gettext_lazy("Contact's job title"), ("title", "job title", "职务", "职位")),
    ],
    "products": [
        ("code", gettext_lazy("Code"), ("code", "sku", "编码", "商品编码", "产品编码", "编号")),
        ("name", gettext_lazy("Name"), ("name", "product", "名称", "商品名称", "产品名称", "品名")),
        (
            "specification",
            gettext_lazy("Specification"),
            ("specification", "spec", "规格", "商品规格", "规格型号"),
        ),
        ("unit", gettext_lazy("Unit"), ("unit", "单位")),
        ("price", gettext_lazy("Price (tax incl.)"), ("price", "价格", "单价", "含税价", "含税单价", "售价")),
        ("cost", gettext_lazy("Cost"), ("cost", "成本", "成本价")),
        ("vat_rate", gettext_lazy("VAT rate"), ("vat_rate", "vat", "tax rate", "税率", "增值税税率")),
        ("category", gettext_lazy("Category"), ("category", "分类", "类别")),
    ],
    "contacts": [
        (
            "customer",
            gettext_lazy("Customer (name or phone)"),
            ("customer", "company", "客户", "客户名称", "公司名称", "所属客户", "单位"),
        ),
        ("name", gettext_lazy("Name"), ("name", "contact", "contact name", "联系人", "姓名", "联系人姓名")),
        ("title", gettext_lazy("Job title"), ("title", "job title", "职务", "职位")),
        ("role", gettext_lazy("Role"), ("role", "角色")),
        ("phone", gettext_lazy("Phone"), ("phone", "mobile", "tel", "电话", "手机", "手机号", "联系电话")),
        ("email", gettext_lazy("Email"), ("email", "e-mail", "邮箱", "电子邮件")),
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


def read_rows(path: Path) -> tuple[list[str], Iterator[list[str]], str]:
    """Headers, an iterator of rows (cells as stripped strings) and the encoding ("xlsx" for Excel)."""
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

        it = cells()
        headers = next(it, [])
        return [h for h in headers], it, "xlsx"
    text, encoding = decode_csv(path.read_bytes())
    reader = csv.reader(io.StringIO(text, newline=""))
    headers = [h.strip() for h in next(reader, [])]
    return headers, ([c.strip() for c in row] for row in reader), encoding


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores phone numbers typed as numbers as floats
    if hasattr(value, "date") and hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip()


def guess_mapping(kind: str | ImportKind, headers: list[str]) -> dict[str, str]:
    """Column index (as a string) -> field, from header synonyms."""
    fields = kind.fields if isinstance(kind, ImportKind) else _kind(kind).fields
    mapping: dict[str, str] = {}
    taken: set[str] = set()
    for i, header in enumerate(headers):
        h = re.sub(r"[\s*：:]+", "", (header or "").lower())
        for fld, _label, words in fields:
            if fld not in taken and h in {w.replace(" ", "") for w in words}:
                mapping[str(i)] = fld
                taken.add(fld)
                break
    return mapping


# --- jobs ----------------------------------------------------------------------------------------------


def _media_dir() -> Path:
    # Files are kept per tenant: MEDIA_ROOT/<schema>/imports/
    path = Path(settings.MEDIA_ROOT) / connection.schema_name / "imports"  # type: ignore[attr-defined]
    path.mkdir(parents=True, exist_ok=True)
    return path


def import_upload(*, actor: User, kind: str, filename: str, data: bytes) -> ImportJob:
    """Store an uploaded file and guess the column mapping; nothing is imported yet."""
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
        headers, _rows, encoding = read_rows(path)
    except ServiceError:
        path.unlink(missing_ok=True)
        job.delete()
        raise
    job.stored_path = str(path)
    job.headers = headers
    job.encoding = encoding
    job.mapping = guess_mapping(spec, headers)
    job.key = spec.keys[0][0]
    job.save()
    return job


def import_preview(job: ImportJob, limit: int = 10) -> list[list[str]]:
    _headers, rows, _enc = read_rows(Path(job.stored_path))
    out = []
    for row in rows:
        if any(row):
            out.append(row)
        if len(out) >= limit:
            break
    return out


def import_start(*, actor: User, job: ImportJob, mapping: dict[str, str], key: str) -> ImportJob:
    """Confirm the mapping and queue the import (runs after commit in the worker)."""
    if job.created_by_id != actor.pk:
        raise PermissionDenied(_("This import belongs to someone else."))
    if job.status != ImportJob.Status.UPLOADED:
        raise ServiceError(_("This import has already run."), code="conflict")
    spec = kind_check(actor, job.kind)  # the module may have been switched off since the upload
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
    job.mapping, job.key, job.status = mapping, key, ImportJob.Status.QUEUED
    job.save(update_fields=["mapping", "key", "status", "updated_at"])
    from .tasks import import_run

    transaction.on_commit(lambda: import_run.delay(job.pk))
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


def _clean_customer(rec: dict[str, str], key: str, tables: dict[str, dict[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = rec.get("name", "").strip()
    if not name:
        raise ValueError(("name", _("The name is empty.")))
    out["name"] = name[:200]
    if rec.get("phone"):
        out["phone"] = normalize_phone(rec["phone"])
    if rec.get("email"):
        email = rec["email"].strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise ValueError(("email", _("Enter a valid email address."))) from None
        out["email"] = email
    for fld, table in tables.items():
        raw = rec.get(fld, "").strip()
        if raw:
            if raw.lower() not in table:
                raise ValueError((fld, _("Unknown value “%(v)s”.") % {"v": raw}))
            out[fld] = table[raw.lower()]
    for fld, size in (("province", 50), ("city", 50), ("address", 255), ("notes", 10000)):
        if rec.get(fld):
            out[fld] = rec[fld][:size]
    if rec.get("tags"):
        out["tags"] = [t for t in re.split(r"[,，;；\s]+", rec["tags"]) if t][:20]
    for fld in ("contact_name", "contact_title"):
        if rec.get(fld):
            out[fld] = rec[fld][:100]
    key_value = {"phone": out.get("phone", ""), "email": out.get("email", ""), "name": normalize_name(name)}[
        key
    ]
    if not key_value:
        raise ValueError((key, _("The key column is empty.")))
    out["_key"] = key_value
    return out


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
    out: dict[str, Any] = {
        "customer": ref,
        "name": name[:100],
        "phone": normalize_phone(rec.get("phone", "")),
    }
    email = rec.get("email", "").strip().lower()
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValueError(("email", _("Enter a valid email address."))) from None
    out["email"] = email
    for fld in ("title", "role"):
        if rec.get(fld):
            out[fld] = rec[fld].strip()[:100]
    if not out[key]:
        raise ValueError((key, _("The key column is empty.")))
    # Provisional key (customer as written) for spotting repeated rows early; the resolved customer id
    # replaces it in _resolve_contact_customers.
    out["_key"] = (ref.lower(), out[key])
    return out


def _customer_tables() -> dict[str, dict[str, str]]:
    return {
        "kind": _choice_table("kind", Customer.Kind),
        "source": _choice_table("source", Customer.Source),
        "stage": _choice_table("stage", Customer.Stage),
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


def import_run(job_id: int) -> ImportJob:
    """Validate every row, then write all of them in one transaction, or nothing (per-row errors kept)."""
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    if job.status not in (ImportJob.Status.QUEUED,):
        return job  # idempotent: a re-delivered task does nothing
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, started_at=timezone.now())
    actor = job.created_by
    try:
        # Checked again here: the module may have been switched off (or the role changed) since the upload.
        spec = kind_check(actor, job.kind)
    except ServiceError as exc:  # PermissionDenied is a ServiceError too
        return _refuse(job, actor, exc)
    mapping = {int(col): fld for col, fld in job.mapping.items()}
    _headers, rows, _enc = read_rows(Path(job.stored_path))
    records: list[tuple[int, dict[str, Any]]] = []
    errors: list[RowError] = []
    seen: dict[Any, int] = {}
    context = spec.prepare() if spec.prepare else None
    for line, row in enumerate(rows, start=2):
        if not any(row):
            continue
        rec = {fld: (row[col] if col < len(row) else "") for col, fld in mapping.items()}
        try:
            clean = spec.clean_row(rec, job.key, context)
        except ValueError as exc:
            fld, msg = exc.args[0]
            errors.append(RowError(line, fld, str(msg)))
            continue
        if clean["_key"] in seen:
            errors.append(RowError(line, job.key, _("Same key as row %(n)d.") % {"n": seen[clean["_key"]]}))
            continue
        seen[clean["_key"]] = line
        records.append((line, clean))
    total = len(records) + len(errors)
    if spec.resolve is not None:
        # Resolved before anything is written, so that e.g. unknown customers are reported with the others.
        errors = sorted(errors + spec.resolve(actor, job.key, records), key=lambda e: (e.row, e.field))
    cache.set(progress_key(job.pk), {"done": 0, "total": total}, 3600)
    created = updated = 0
    if not errors:
        try:
            with transaction.atomic():
                created, updated, errors = spec.write(job, actor, records)
                if errors:
                    raise _Rollback
                audit(
                    actor=actor,
                    action=f"import.{job.kind}",
                    target=job,
                    detail={"file": job.filename, "created": created, "updated": updated},
                )
        except _Rollback:
            created = updated = 0
    warnings = [] if errors else getattr(job, "warnings", [])
    job.warnings = [{**{k: v for k, v in w.items() if k != "new"}, "new_id": w["new"].pk} for w in warnings]
    job.warning_count = len(job.warnings)
    job.total_rows, job.processed_rows = total, total
    job.created_count, job.updated_count = created, updated
    job.error_count = len(errors)
    job.errors = [e.__dict__ for e in errors[:MAX_ERRORS_KEPT]]
    job.status = ImportJob.Status.FAILED if errors else ImportJob.Status.DONE
    job.finished_at = timezone.now()
    job.save()
    cache.set(progress_key(job.pk), {"done": total, "total": total}, 3600)
    return job


@lru_cache(maxsize=20000)
def _char_initial(ch: str) -> str:
    return initials(ch)


def person_initials(name: str) -> str:
    """Initials of a short person name character by character (cached): a bulk import of contacts would
    otherwise spend most of its time in pypinyin's phrase matching, which names rarely need."""
    return "".join(_char_initial(ch) for ch in name)[:100]


class _Rollback(Exception):
    pass


def progress_set(job: ImportJob, done: int, total: int) -> None:
    """Report how far a running import's write got (read by the progress page)."""
    cache.set(progress_key(job.pk), {"done": done, "total": total}, 3600)


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
    to_update: list[Customer] = []
    update_fields: set[str] = set()
    for line, rec in records:
        rec = dict(rec)
        k = rec.pop("_key")
        contact = {f: rec.pop(f) for f in ("contact_name", "contact_title") if f in rec}
        current = existing.get(k)
        if current is not None:
            if current.pk not in editable:
                errors.append(
                    RowError(line, key, _("An existing customer with this key belongs to someone else."))
                )
                continue
            for fld, value in rec.items():
                setattr(current, fld, value)
                update_fields.add(fld)
            current.name_normalized, current.name_initials = (
                normalize_name(current.name),
                initials(current.name),
            )
            to_update.append(current)
            continue
        c = Customer(
            **rec,
            name_normalized=normalize_name(rec["name"]),
            name_initials=initials(rec["name"]),
            owner=actor,
            created_by=actor,
            last_activity_at=now,
        )
        to_create.append(c)
        created_lines.append(line)
        if contact.get("contact_name"):
            contacts.append((c, contact))
    if errors:
        return 0, 0, errors
    # Before inserting: which new rows look like customers that already exist (any owner)?
    job.warnings = _possible_duplicates(list(zip(created_lines, to_create, strict=True)))
    total = len(records)
    done = 0
    for i in range(0, len(to_create), BATCH * 5):
        copy_insert(Customer, to_create[i : i + BATCH * 5], now)
        done += len(to_create[i : i + BATCH * 5])
        _progress(job, done, total)
    copy_insert(
        Contact,
        [
            Contact(
                customer=c,
                name=d["contact_name"],
                name_initials=person_initials(d["contact_name"]),
                title=d.get("contact_title", ""),
                phone=c.phone,
                is_primary=True,
            )
            for c, d in contacts
        ],
        now,
    )
    if to_update:
        fields = sorted(update_fields | {"name_normalized", "name_initials", "updated_at"})
        for c in to_update:
            c.updated_at = now
        for i in range(0, len(to_update), BATCH):
            Customer.objects.bulk_update(to_update[i : i + BATCH], fields)
            done += len(to_update[i : i + BATCH])
            _progress(job, done, total)
    return len(to_create), len(to_update), []


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
            obj.created_at = obj.updated_at = now
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
            for fld, value in rec.items():
                setattr(current, fld, value)
                fields.add(fld)
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
            for fld, value in data.items():
                setattr(current, fld, value)
            current.name_initials = person_initials(current.name)
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


def import_cleanup(*, older_than: timedelta = timedelta(days=7)) -> int:
    """Remove stored upload files of finished imports (kept a week for the error report)."""
    n = 0
    for job in ImportJob.objects.filter(finished_at__lt=timezone.now() - older_than).exclude(stored_path=""):
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
    ),
)


def register_core_kinds() -> None:
    for kind in CORE_KINDS:
        register_import_kind(kind)
