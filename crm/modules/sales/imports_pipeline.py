"""Opportunities as a kind of the core's shared spreadsheet import (.xlsx / CSV): customer by name (it must
exist and be visible to the importer), opportunity name, amount, stage by name, expected close, owner by
email (empty: the importer). An opportunity with the same name on the same customer is updated (amount,
expected close, owner); the others are created in the named stage (default: the first open one) with a
stage-log row each. Lost rows need no reason in the file: "导入" is recorded."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.kernel.money import parse_amount
from crm.kernel.scope import team_user_ids
from crm.modules.core.public import (
    Customer,
    ImportChoice,
    ImportJob,
    ImportKind,
    RowError,
    customers_visible,
    import_progress_set,
    parse_date,
)
from crm.platform.errors import ServiceError
from crm.platform.permissions import data_scope
from crm.tenants.accounts.models import User

from .models import Opportunity, OpportunityStageLog, Stage
from .services_pipeline import MAX_AMOUNT, stages_ensure

BATCH = 2000

FIELDS = (
    (
        "customer",
        gettext_lazy("Customer (by name)"),
        ("customer", "客户", "客户名称", "客户名", "公司", "公司名称"),
    ),
    (
        "name",
        gettext_lazy("Opportunity name"),
        ("name", "opportunity", "商机", "商机名称", "项目", "项目名称"),
    ),
    ("amount", gettext_lazy("Amount"), ("amount", "金额", "预计金额", "商机金额")),
    ("stage", gettext_lazy("Stage (by name)"), ("stage", "阶段", "销售阶段", "商机阶段")),
    (
        "expected_close",
        gettext_lazy("Expected close"),
        ("expected_close", "expected close", "预计成交", "预计成交日期", "预计签单日期"),
    ),
    ("owner", gettext_lazy("Owner (email)"), ("owner", "owner email", "负责人", "负责人邮箱", "销售邮箱")),
)


def _prepare(actor: Any) -> dict[str, Any]:
    stages_ensure()
    stages = {s.name: s.pk for s in Stage.objects.filter(Q(is_active=True) | ~Q(kind=Stage.Kind.OPEN))}
    customers: dict[str, int] = {}
    for pk, name in Customer.objects.order_by("-id").values_list("pk", "name"):
        customers.setdefault(name.strip(), pk)
    users = {e.lower(): pk for pk, e in User.objects.filter(is_active=True).values_list("pk", "email")}
    return {"stages": stages, "customers": customers, "users": users}


def _choices(ctx: dict[str, Any]) -> dict[str, ImportChoice]:
    names = list(Stage.objects.filter(is_active=True).values_list("name", flat=True))
    return {"stage": ImportChoice(accepted=frozenset(ctx["stages"]), options=[(n, n) for n in names])}


def _clean(rec: dict[str, str], key: str, ctx: dict[str, Any]) -> dict[str, Any]:
    customer = (rec.get("customer") or "").strip()
    if not customer:
        raise ValueError(("customer", _("The customer is empty.")))
    customer_id = ctx["customers"].get(customer)
    if customer_id is None:
        raise ValueError(("customer", _("No customer named “%(v)s”.") % {"v": customer[:100]}))
    name = (rec.get("name") or "").strip()
    if not name:
        raise ValueError(("name", _("The name is empty.")))
    out: dict[str, Any] = {
        "customer_id": customer_id,
        "name": name[:200],
        "_key": f"{customer_id}:{name[:200]}",
    }
    raw = (rec.get("amount") or "").strip()
    if raw:
        try:
            amount = parse_amount(raw).quantize(Decimal("0.01"))
        except (ServiceError, InvalidOperation):
            raise ValueError(("amount", _("Enter an amount."))) from None
        if amount < 0:
            raise ValueError(("amount", _("The amount cannot be negative.")))
        if amount > MAX_AMOUNT:
            raise ValueError(("amount", _("The amount is too large.")))
        out["amount"] = amount
    raw = (rec.get("stage") or "").strip()
    if raw:
        stage_id = ctx["stages"].get(raw)
        if stage_id is None:
            raise ValueError(("stage", _("Unknown stage “%(v)s”.") % {"v": raw[:60]}))
        out["stage_id"] = stage_id
    raw = (rec.get("expected_close") or "").strip()
    if raw:
        day = parse_date(raw)
        if day is None:
            raise ValueError(("expected_close", _("The expected close is a date (YYYY-MM-DD).")))
        out["expected_close"] = day
    raw = (rec.get("owner") or "").strip().lower()
    if raw:
        owner_id = ctx["users"].get(raw)
        if owner_id is None:
            raise ValueError(("owner", _("No active user with the email “%(v)s”.") % {"v": raw[:100]}))
        out["owner_id"] = owner_id
    return out


def _resolve(actor: User, key: str, records: list[tuple[int, dict[str, Any]]]) -> list[RowError]:
    """Rows of customers the importer does not see, or for owners outside their team, are refused."""
    ids = {rec["customer_id"] for _line, rec in records}
    visible = set(customers_visible(actor).filter(pk__in=ids).values_list("pk", flat=True))
    scope = data_scope(actor)
    team = team_user_ids(actor) if scope == "team" else {actor.pk}
    errors = []
    for line, rec in records:
        if rec["customer_id"] not in visible:
            errors.append(RowError(line, "customer", _("You may not add opportunities to this customer.")))
        elif scope != "all" and rec.get("owner_id", actor.pk) not in team:
            errors.append(
                RowError(line, "owner", _("You may only give opportunities to members of your team."))
            )
    return errors


def _write(
    job: ImportJob, actor: User, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    now = timezone.now()
    stages = {s.pk: s for s in Stage.objects.all()}
    first = next((s for s in stages.values() if s.kind == Stage.Kind.OPEN and s.is_active), None)
    customer_ids = {rec["customer_id"] for _line, rec in records}
    existing: dict[str, Opportunity] = {}
    for opp in Opportunity.objects.select_for_update().filter(customer_id__in=customer_ids):
        existing.setdefault(f"{opp.customer_id}:{opp.name}", opp)
    to_create: list[Opportunity] = []
    to_update: list[Opportunity] = []
    errors: list[RowError] = []
    for line, rec in records:
        found = existing.get(rec["_key"])
        if found is not None:
            for field in ("amount", "expected_close", "owner_id"):
                if field in rec:
                    setattr(found, field, rec[field])
            found.updated_at = now
            to_update.append(found)
            continue
        stage = stages.get(rec.get("stage_id") or 0) or first
        if stage is None:
            errors.append(RowError(line, "stage", _("The pipeline has no active stage.")))
            continue
        kind = stage.kind
        to_create.append(
            Opportunity(
                name=rec["name"],
                customer_id=rec["customer_id"],
                owner_id=rec.get("owner_id", actor.pk),
                stage=stage,
                status={"won": "won", "lost": "lost"}.get(kind, "open"),
                amount=rec.get("amount", Decimal("0.00")),
                probability=stage.probability,
                expected_close=rec.get("expected_close"),
                lost_reason=_("Imported") if kind == Stage.Kind.LOST else "",
                stage_changed_at=now,
                reached_position=stage.position if kind != Stage.Kind.LOST else None,
                closed_at=now if kind != Stage.Kind.OPEN else None,
                created_by=actor,
            )
        )
    if errors:
        return 0, 0, errors
    total, done = len(records), 0
    for i in range(0, len(to_create), BATCH):
        batch = Opportunity.objects.bulk_create(to_create[i : i + BATCH])
        OpportunityStageLog.objects.bulk_create(
            OpportunityStageLog(opportunity=o, from_stage=None, to_stage_id=o.stage_id, actor=actor)
            for o in batch
        )
        done += len(batch)
        import_progress_set(job, done, total)
    Opportunity.objects.bulk_update(
        to_update, ["amount", "expected_close", "owner_id", "updated_at"], batch_size=BATCH
    )
    return len(to_create), len(to_update), []


OPPORTUNITIES = ImportKind(
    name="opportunities",
    label=gettext_lazy("Opportunities"),
    module="sales",
    perm="sales.opportunity_edit",
    fields=FIELDS,
    keys=(("customer_name", gettext_lazy("Customer and opportunity name")),),
    required=(
        ("customer", gettext_lazy("Map a column to the customer.")),
        ("name", gettext_lazy("Map a column to the opportunity name.")),
    ),
    prepare=_prepare,
    clean_row=_clean,
    resolve=_resolve,
    write=_write,
    choices=_choices,
    example=(
        ("customer", "上海启明科技有限公司"),
        ("name", "ERP 实施项目"),
        ("amount", "120000"),
        ("stage", "需求确认"),
        ("expected_close", "2027-03-31"),
        ("owner", "sales@example.com"),
    ),
    note=gettext_lazy(
        "Customers are found by name and must exist; an opportunity with the same name on the same customer "
        "is updated (amount, expected close, owner), the others are created in the named stage."
    ),
)
