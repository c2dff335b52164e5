"""Members as a kind of the core's shared spreadsheet import (upload → mapping preview → background run,
valid rows imported and bad ones skipped (or all or nothing), per-row error report, progress page).
Tier names the workspace does not have are listed on the preview to map to one of its tiers (remembered);
rows of the same member number are merged; phones are normalised (+86, spaces, dashes) and a bad phone is
left out with a warning.

Existing members are found by member number and updated; the others are created. Imported points become
one `import` ledger entry per member, so the balance still equals the ledger sum: for a new member the
file's points, for an existing one the difference between the file's balance and the current one (nothing
when they are equal, so importing the same file twice does not add the points twice). Empty cells leave an
existing member's value as it is. Tiers are matched by name; new members without one get the lowest tier
(imported spend does not upgrade anyone: the tier column says where a member stands).

Writes are batched: one locked lookup per 10,000 member numbers, COPY for new rows, one
UPDATE ... FROM unnest(...) per 2,000 existing rows.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from psycopg import sql

from crm.kernel.money import parse_amount
from crm.modules.core.public import (
    ImportChoice,
    ImportJob,
    ImportKind,
    RowError,
    clean_phone,
    copy_insert,
    import_progress_set,
    parse_date,
)
from crm.platform.errors import ServiceError
from crm.tenants.accounts.models import User

from . import services
from .models import Member, PointsEntry, Tier

LOOKUP_CHUNK = 10000
MAX_SPEND = Decimal("1000000000000")  # Member.total_spend: 14 digits, 2 after the point
BATCH = 2000

# Column headers as found in Chinese and English sheets.
FIELDS = (
    (
        "name",
        gettext_lazy("Name"),
        ("name", "姓名", "会员姓名", "会员名称", "会员名", "顾客姓名", "客户姓名"),
    ),
    (
        "member_no",
        gettext_lazy("Member number"),
        ("member_no", "member number", "会员号", "会员编号", "卡号", "会员卡号", "会员卡号码", "编号"),
    ),
    (
        "phone",
        gettext_lazy("Phone"),
        ("phone", "mobile", "手机", "手机号", "手机号码", "电话", "联系电话", "移动电话", "联系方式"),
    ),
    (
        "points",
        gettext_lazy("Points balance"),
        ("points", "积分", "积分余额", "当前积分", "可用积分", "剩余积分"),
    ),
    (
        "total_spend",
        gettext_lazy("Total spend"),
        ("total_spend", "total spend", "累计消费", "消费总额", "累计消费金额", "消费金额"),
    ),
    (
        "valid_until",
        gettext_lazy("Valid until"),
        ("valid_until", "valid until", "有效期", "有效期至", "到期日", "到期时间", "到期日期", "截止日期"),
    ),
    (
        "tier",
        gettext_lazy("Tier (by name)"),
        ("tier", "level", "会员等级", "等级", "级别", "会员级别", "卡类型", "会员类型"),
    ),
)


def _prepare(actor: Any) -> dict[str, int]:
    """Tier name -> id, once per run (also under the lower-cased name: "gold" finds "Gold")."""
    tiers = {name: pk for pk, name in Tier.objects.values_list("pk", "name")}
    return {**{name.lower(): pk for name, pk in tiers.items()}, **tiers}


def _choices(tiers: dict[str, int]) -> dict[str, ImportChoice]:
    """The tier column: names the workspace has; another name is offered for mapping to one of them."""
    names = list(Tier.objects.order_by("rank").values_list("name", flat=True))
    return {"tier": ImportChoice(accepted=frozenset(tiers), options=[(n, n) for n in names])}


def _existing(actor: User, key: str, records: list[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    numbers = [rec["_key"] for _line, rec in records]
    found: set[str] = set()
    for i in range(0, len(numbers), LOOKUP_CHUNK):
        found.update(
            Member.objects.filter(member_no__in=numbers[i : i + LOOKUP_CHUNK]).values_list(
                "member_no", flat=True
            )
        )
    return sum(1 for n in numbers if n in found), 0


def _amount(raw: str) -> Decimal:
    try:
        return parse_amount(raw)
    except ServiceError:
        raise ValueError(raw) from None


def _clean(rec: dict[str, str], key: str, tiers: dict[str, int]) -> dict[str, Any]:
    name = services.normalize_name(rec.get("name", ""))
    if not name:
        raise ValueError(("name", _("The name is empty.")))
    number = services.normalize_member_no(rec.get("member_no", ""))
    if not number:
        raise ValueError(("member_no", _("The member number is empty.")))
    out: dict[str, Any] = {"name": name[:100], "member_no": number[:40], "_key": number}
    raw = rec.get("phone", "").strip()
    phone = clean_phone(raw)
    if phone is None:
        out["_warnings"] = [("phone", _("“%(v)s” is not a phone number; left out.") % {"v": raw[:40]})]
    elif phone:
        out["phone"] = phone
    raw = rec.get("points", "").strip()
    if raw:
        try:
            points = int(_amount(raw))  # "1200.0" as Excel writes it; fractions are dropped as before
        except (InvalidOperation, ValueError):
            raise ValueError(("points", _("Points must be a whole number, not negative."))) from None
        if points < 0:
            raise ValueError(("points", _("Points must be a whole number, not negative.")))
        out["points"] = points
    raw = rec.get("total_spend", "").strip()
    if raw:
        try:
            spend = _amount(raw).quantize(services.CENT)
        except (InvalidOperation, ValueError):
            raise ValueError(("total_spend", _("Enter an amount."))) from None
        if spend < 0:
            raise ValueError(("total_spend", _("The amount cannot be negative.")))
        if spend >= MAX_SPEND:
            raise ValueError(("total_spend", _("Enter an amount.")))
        out["total_spend"] = spend
    raw = rec.get("valid_until", "").strip()
    if raw:
        day = parse_date(raw)  # 2027-06-30, 2027/6/30, 2027年6月30日, 20270630, or an Excel date
        if day is None:
            raise ValueError(("valid_until", _("Valid until must be a date (YYYY-MM-DD).")))
        out["valid_until"] = day
    raw = services.normalize_name(rec.get("tier", ""))
    if raw:
        pk = tiers.get(raw) or tiers.get(raw.lower())
        if pk is None:
            raise ValueError(("tier", _("Unknown tier “%(v)s”.") % {"v": raw}))
        out["tier_id"] = pk
    return out


# Columns an import may change on an existing member; NULL in the batch keeps the current value.
UPDATE_COLUMNS = (
    ("name", "text"),
    ("phone", "text"),
    ("points_balance", "integer"),
    ("total_spend", "numeric"),
    ("valid_until", "date"),
    ("tier_id", "bigint"),
)


def _update_members(rows: list[dict[str, Any]], now: Any) -> None:
    """One UPDATE ... FROM unnest(arrays) per batch (Django's bulk_update builds a CASE per row and field)."""
    sets = sql.SQL(", ").join(
        sql.SQL("{c} = COALESCE(v.{c}, t.{c})").format(c=sql.Identifier(c)) for c, _t in UPDATE_COLUMNS
    )
    unnest = sql.SQL(", ").join(sql.SQL(f"%s::{t}[]") for _c, t in UPDATE_COLUMNS)  # type: ignore[arg-type]
    names = sql.SQL(", ").join(sql.Identifier(c) for c, _t in UPDATE_COLUMNS)
    statement = sql.SQL(
        "UPDATE {table} AS t SET {sets}, updated_at = %s "
        "FROM unnest(%s::bigint[], {unnest}) AS v(id, {names}) WHERE t.id = v.id"
    ).format(table=sql.Identifier(Member._meta.db_table), sets=sets, unnest=unnest, names=names)
    with connection.cursor() as cursor:
        query = statement.as_string(cursor.cursor)
        for i in range(0, len(rows), BATCH):
            batch = rows[i : i + BATCH]
            cursor.execute(
                query,
                [now, [r["id"] for r in batch], *([r.get(c) for r in batch] for c, _t in UPDATE_COLUMNS)],
            )


def _write(
    job: ImportJob, actor: User, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    """Runs inside the import's transaction. Existing members are locked (sales wait) while their balance
    is read and set, so a sale at the counter cannot slip between the read and the write."""
    now = timezone.now()
    rule = services.points_rule_get()
    expires = services._months_later(now, rule.expiry_months)
    base = services._base_tier()
    base_id = base.pk if base else None
    numbers = [rec["_key"] for _line, rec in records]
    existing: dict[str, tuple[int, int]] = {}
    for i in range(0, len(numbers), LOOKUP_CHUNK):
        existing.update(
            (no, (pk, balance))
            for pk, no, balance in Member.objects.select_for_update()
            .filter(member_no__in=numbers[i : i + LOOKUP_CHUNK])
            .order_by("pk")
            .values_list("pk", "member_no", "points_balance")
        )
    total = len(records)
    to_create: list[Member] = []
    updates: list[dict[str, Any]] = []
    # Ledger rows as plain tuples (member_id, points, expires_at, note): building 100,000 model instances
    # only to COPY them out again took longer than the COPY itself.
    entries: list[tuple[int, int, Any, str]] = []
    note = _("Balance set by import %(file)s") % {"file": job.filename[:150]}
    for _line, rec in records:
        found = existing.get(rec["_key"])
        if found is None:
            points = rec.get("points", 0)
            to_create.append(
                Member(
                    name=rec["name"],
                    member_no=rec["member_no"],
                    phone=rec.get("phone", ""),
                    valid_until=rec.get("valid_until"),
                    tier_id=rec.get("tier_id", base_id),
                    points_balance=points,
                    total_spend=rec.get("total_spend", Decimal("0")),
                )
            )
            continue
        pk, balance = found
        row = {
            "id": pk,
            **{c: rec.get(c) for c in ("name", "phone", "total_spend", "valid_until", "tier_id")},
        }
        if "points" in rec:
            row["points_balance"] = rec["points"]
            delta = rec["points"] - balance
            if delta:
                # Up: fresh points expiring by the rule. Down: a debit (no expiry), capped like any balance.
                entries.append((pk, delta, expires if delta > 0 else None, note))
        updates.append(row)
    done = 0
    for i in range(0, len(to_create), BATCH * 5):
        batch = to_create[i : i + BATCH * 5]
        copy_insert(Member, batch, now)
        entries.extend((m.pk, m.points_balance, expires, "") for m in batch if m.points_balance)
        done += len(batch)
        import_progress_set(job, done, total)
    for i in range(0, len(updates), BATCH * 5):
        _update_members(updates[i : i + BATCH * 5], now)
        done += len(updates[i : i + BATCH * 5])
        import_progress_set(job, done, total)
    _copy_entries(entries, actor, now)
    return len(to_create), len(updates), []


def _copy_entries(entries: list[tuple[int, int, Any, str]], actor: User, now: Any) -> None:
    """COPY `import` ledger entries (ids from the table's identity default)."""
    if not entries:
        return
    columns = (
        "created_at",
        "updated_at",
        "member_id",
        "kind",
        "points",
        "expires_at",
        "created_by_id",
        "note",
    )
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(PointsEntry._meta.db_table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    kind = str(PointsEntry.Kind.IMPORT)
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for member_id, points, expires_at, note in entries:
            copy.write_row((now, now, member_id, kind, points, expires_at, actor.pk, note))


MEMBERS = ImportKind(
    name="members",
    label=gettext_lazy("Members (with points balances)"),
    module="retail",
    perm="retail.manage",  # managers, admins and owners; never clerks
    fields=FIELDS,
    keys=(("member_no", gettext_lazy("Member number")),),
    required=(
        ("name", gettext_lazy("Map a column to the name.")),
        ("member_no", gettext_lazy("Map a column to the member number.")),
    ),
    prepare=_prepare,
    clean_row=_clean,
    write=_write,
    choices=_choices,
    existing=_existing,
    example=(
        ("name", "王芳"),
        ("member_no", "VIP0001"),
        ("phone", "13900000001"),
        ("points", "1200"),
        ("total_spend", "5600.50"),
        ("valid_until", "2027-06-30"),
        ("tier", "金卡"),
    ),
    note=gettext_lazy(
        "Existing members are found by member number and updated; the points column is the balance to "
        "set (recorded in the points ledger); empty cells leave a member's value as it is."
    ),
)
