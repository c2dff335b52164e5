"""Import existing members and their points balances from .xlsx or CSV (UTF-8 or GB18030 as Chinese Excel
saves it). All or nothing: every row is checked first; one bad row writes nothing and the errors name the
rows. Imported points become one `import` ledger entry per member (expiring by the points rule), so the
balance still equals the ledger sum.

Runs in the request for files up to MAX_ROWS rows; the core's background import framework handles
customers and products but has no plug-in point for other modules yet."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.platform.errors import ServiceError
from crm.tenants.accounts.models import User

from . import services
from .models import Member, PointsEntry

MAX_ROWS = 20000
# Column headers as found in Chinese and English sheets -> field.
HEADERS = {
    "name": ("name", "姓名", "会员姓名"),
    "member_no": ("member_no", "member number", "会员号", "会员编号", "卡号"),
    "phone": ("phone", "mobile", "手机", "手机号", "电话"),
    "points": ("points", "积分", "积分余额"),
    "total_spend": ("total_spend", "total spend", "累计消费", "消费总额"),
    "valid_until": ("valid_until", "valid until", "有效期", "有效期至", "到期日"),
}


@dataclass
class ImportResult:
    created: int = 0
    errors: list[str] = field(default_factory=list)


def read_table(filename: str, data: bytes) -> list[list[Any]]:
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        return [list(r) for r in sheet.iter_rows(values_only=True)]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ServiceError(_("The file is neither UTF-8 nor GB18030 text."), field="file")
    return [list(r) for r in csv.reader(io.StringIO(text))]


def _column_map(header: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for i, cell in enumerate(header):
        label = str(cell or "").strip().lower()
        for key, names in HEADERS.items():
            if label in names and key not in found:
                found[key] = i
    return found


def _text(value: Any) -> str:
    # Excel stores a card number typed as digits as a float: 100001.0 must read "100001".
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "" if value is None else str(value)


def _date(value: Any) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip().replace("/", "-"))


def members_import(*, actor: User, filename: str, data: bytes) -> ImportResult:
    services._require(actor, "retail.manage")
    rows = read_table(filename, data)
    if not rows:
        raise ServiceError(_("The file is empty."), field="file")
    cols = _column_map(rows[0])
    if "name" not in cols or "member_no" not in cols:
        raise ServiceError(
            _("The first row must name the columns, at least name and member number."), field="file"
        )
    if len(rows) - 1 > MAX_ROWS:
        raise ServiceError(_("At most %(n)s rows per file.") % {"n": MAX_ROWS}, field="file")

    def cell(row: list[Any], key: str) -> Any:
        i = cols.get(key)
        return row[i] if i is not None and i < len(row) else None

    result = ImportResult()
    members: list[tuple[Member, int]] = []
    seen: set[str] = set()
    # Only the file's numbers are looked up: a tenant may hold a million members.
    numbers = [services.normalize_member_no(_text(cell(row, "member_no"))) for row in rows[1:]]
    existing = set(
        Member.objects.filter(member_no__in=[n for n in numbers if n]).values_list("member_no", flat=True)
    )
    base = services._base_tier()
    for line, row in enumerate(rows[1:], start=2):
        if not any(c not in (None, "") for c in row):
            continue
        name = services.normalize_name(_text(cell(row, "name")))
        number = services.normalize_member_no(_text(cell(row, "member_no")))
        problems = []
        if not name or not number:
            problems.append(_("name and member number are required"))
        elif number in seen or number in existing:
            problems.append(_("member number %(no)s appears twice or exists") % {"no": number})
        try:
            points = int(Decimal(str(cell(row, "points") or 0)))
            spend = Decimal(str(cell(row, "total_spend") or 0)).quantize(Decimal("0.01"))
            if points < 0 or spend < 0:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems.append(_("points and total spend must be numbers, not negative"))
            points, spend = 0, Decimal("0")
        try:
            valid_until = _date(cell(row, "valid_until"))
        except ValueError:
            problems.append(_("valid until must be a date (YYYY-MM-DD)"))
            valid_until = None
        if problems:
            result.errors.append(
                _("Row %(line)s: %(problems)s") % {"line": line, "problems": "; ".join(problems)}
            )
            continue
        seen.add(number)
        phone = _text(cell(row, "phone")).strip()
        member = Member(name=name, member_no=number, phone=phone, tier=base, valid_until=valid_until)
        member.points_balance, member.total_spend = points, spend
        members.append((member, points))
    if result.errors:
        return result  # all or nothing: a bad row writes nothing
    rule = services.points_rule_get()
    expires = services._months_later(timezone.now(), rule.expiry_months)
    with transaction.atomic():
        Member.objects.bulk_create([m for m, _p in members], batch_size=2000)
        PointsEntry.objects.bulk_create(
            [
                PointsEntry(
                    member=m, kind=PointsEntry.Kind.IMPORT, points=p, expires_at=expires, created_by=actor
                )
                for m, p in members
                if p
            ],
            batch_size=2000,
        )
    result.created = len(members)
    return result
