"""Import kind "contracts" (with lines) for the core's shared import: one row per line, grouped by the
contract number column (合同编号, the reference from the old system, stored as the contract's number).

Each contract is written in its own savepoint (one transaction per contract inside the import's run) and
is idempotent by its number: a contract whose number exists already is left as it is, so importing the
same file twice creates nothing the second time. Imported contracts are history: they are stored
confirmed (confirmed on their signing date), with the receivables area told as on a confirmation."""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.kernel.documents import LineData, document_recompute, line_model
from crm.kernel.money import line_amounts
from crm.kernel.vat import validate_rate
from crm.modules.core.public import ImportJob, ImportKind, RowError, customers_visible, parse_date
from crm.platform.errors import ServiceError

from . import receivables_panel
from .models import Contract

HUNDRED = Decimal("100")

FIELDS = (
    (
        "reference",
        gettext_lazy("Contract number"),
        ("contract number", "reference", "合同编号", "合同号", "订单号", "编号"),
    ),
    ("customer", gettext_lazy("Customer (by name)"), ("customer", "客户", "客户名称", "甲方")),
    ("title", gettext_lazy("Title"), ("title", "合同名称", "标题", "项目名称")),
    ("kind", gettext_lazy("Kind (contract or order)"), ("kind", "类型", "合同类型")),
    ("signed_on", gettext_lazy("Signed on"), ("signed on", "签订日期", "签约日期", "日期")),
    ("payment_days", gettext_lazy("Account period (days)"), ("payment days", "账期", "账期天数")),
    ("description", gettext_lazy("Line: item"), ("item", "description", "明细", "产品", "服务内容", "名称")),
    ("quantity", gettext_lazy("Line: quantity"), ("quantity", "数量")),
    ("unit", gettext_lazy("Line: unit"), ("unit", "单位")),
    ("unit_price_incl", gettext_lazy("Line: unit price (tax incl.)"), ("unit price", "含税单价", "单价")),
    ("vat_rate", gettext_lazy("Line: VAT rate"), ("vat", "vat rate", "税率")),
    ("discount_percent", gettext_lazy("Line: discount %"), ("discount", "折扣", "折扣%")),
    ("unit_cost_excl", gettext_lazy("Line: unit cost (tax excl.)"), ("unit cost", "成本", "单位成本")),
)


def _number(raw: str, field: str, default: str | None = None) -> Decimal:
    text = (raw or "").strip().replace(",", "").rstrip("%")
    if not text and default is not None:
        text = default
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise ValueError((field, _("“%(v)s” is not a number.") % {"v": raw[:40]})) from None
    if not value.is_finite():
        raise ValueError((field, _("“%(v)s” is not a number.") % {"v": raw[:40]}))
    return value


def _clean(rec: dict[str, str], key: str, context: Any) -> dict[str, Any]:
    ref = (rec.get("reference") or "").strip()[:40]
    if not ref:
        raise ValueError(("reference", _("The contract number is empty.")))
    customer = (rec.get("customer") or "").strip()
    if not customer:
        raise ValueError(("customer", _("The customer is empty.")))
    description = (rec.get("description") or "").strip()[:300]
    if not description:
        raise ValueError(("description", _("The line's item is empty.")))
    quantity = _number(rec.get("quantity", ""), "quantity", "1")
    if quantity <= 0:
        raise ValueError(("quantity", _("The quantity must be positive.")))
    price = _number(rec.get("unit_price_incl", ""), "unit_price_incl")
    if price < 0:
        raise ValueError(("unit_price_incl", _("The price cannot be negative.")))
    try:
        rate = validate_rate(rec.get("vat_rate") or "0.13")
    except ServiceError as exc:
        raise ValueError(("vat_rate", str(exc.message))) from None
    discount = _number(rec.get("discount_percent", ""), "discount_percent", "0")
    if not (0 <= discount < HUNDRED):
        raise ValueError(("discount_percent", _("The discount must be between 0 and 100 %.")))
    cost_raw = (rec.get("unit_cost_excl") or "").strip()
    cost = _number(cost_raw, "unit_cost_excl") if cost_raw else None
    kind_raw = (rec.get("kind") or "").strip().lower()
    kind = Contract.Kind.ORDER if kind_raw in ("order", "订单") else Contract.Kind.CONTRACT
    signed_raw = (rec.get("signed_on") or "").strip()
    signed = parse_date(signed_raw) if signed_raw else None
    if signed_raw and signed is None:
        raise ValueError(("signed_on", _("“%(v)s” is not a date.") % {"v": signed_raw[:40]}))
    days_raw = (rec.get("payment_days") or "").strip()
    days = int(_number(days_raw, "payment_days")) if days_raw else None
    return {
        # One row per line: the key tells the lines of one contract apart (the framework merges equal keys).
        "_key": f"{ref}|{description}|{quantity}|{price}|{rate}|{discount}",
        "reference": ref,
        "customer": customer,
        "title": (rec.get("title") or "").strip()[:200],
        "kind": kind,
        "signed_on": signed,
        "payment_days": days,
        "line": LineData(
            description=description,
            quantity=quantity,
            unit=(rec.get("unit") or "").strip()[:20],
            unit_price_incl=price,
            vat_rate=rate,
            discount_percent=discount,
            unit_cost_excl=cost,
        ),
    }


def _write(
    job: ImportJob, actor: Any, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    groups: OrderedDict[str, list[tuple[int, dict[str, Any]]]] = OrderedDict()
    for row, rec in records:
        groups.setdefault(rec["reference"], []).append((row, rec))
    names = {rec["customer"] for _row, rec in records}
    customers = {c.name: c for c in customers_visible(actor).filter(name__in=names)}
    existing = set(Contract.objects.filter(number__in=list(groups)).values_list("number", flat=True))
    created, errors = 0, []
    lm = line_model(Contract)
    for ref, rows in groups.items():
        if ref in existing:
            continue  # imported before: idempotent
        first_row, head = rows[0]
        customer = customers.get(head["customer"])
        if customer is None:
            errors.append(
                RowError(
                    first_row, "customer", _("No customer named “%(v)s”.") % {"v": head["customer"][:60]}
                )
            )
            continue
        try:
            with transaction.atomic():
                signed = head["signed_on"]
                contract = Contract.objects.create(
                    number=ref,
                    state=Contract.State.CONFIRMED,
                    kind=head["kind"],
                    customer=customer,
                    owner=customer.owner or actor,
                    title=head["title"],
                    payment_days=head["payment_days"] if head["payment_days"] is not None else 30,
                    signed_on=signed,
                    confirmed_at=timezone.now(),
                )
                rows_out = []
                for position, (_row, rec) in enumerate(rows, start=1):
                    data: LineData = rec["line"]
                    price = data.unit_price_incl * (1 - data.discount_percent / HUNDRED)
                    amounts = line_amounts(quantity=data.quantity, unit_price_incl=price, rate=data.vat_rate)
                    rows_out.append(
                        lm(
                            document=contract,
                            position=position,
                            description=data.description,
                            quantity=data.quantity,
                            unit=data.unit,
                            unit_price_incl=data.unit_price_incl,
                            vat_rate=data.vat_rate,
                            discount_percent=data.discount_percent,
                            unit_cost_excl=data.unit_cost_excl,
                            amount_incl=amounts.incl,
                            amount_excl=amounts.excl,
                            amount_tax=amounts.tax,
                        )
                    )
                lm._default_manager.bulk_create(rows_out)
                document_recompute(contract)
                receivables_panel.on_contract_confirmed(actor=actor, contract=contract)
        except (IntegrityError, ServiceError) as exc:
            message = str(getattr(exc, "message", "")) or _("The contract could not be saved.")
            errors.append(RowError(first_row, "reference", message))
            continue
        created += 1
    return created, 0, errors


def _existing(actor: Any, key: str, records: list[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    refs = {rec["reference"] for _row, rec in records}
    found = set(Contract.objects.filter(number__in=list(refs)).values_list("number", flat=True))
    return sum(1 for _row, rec in records if rec["reference"] in found), 0


CONTRACTS_KIND = ImportKind(
    name="contracts",
    label=gettext_lazy("Contracts and orders (one row per line)"),
    module="sales",
    perm="sales.contract_edit",
    fields=FIELDS,
    keys=(("reference", gettext_lazy("Contract number")),),
    required=(
        ("reference", gettext_lazy("Map a column to the contract number.")),
        ("customer", gettext_lazy("Map a column to the customer.")),
        ("description", gettext_lazy("Map a column to the line's item.")),
        ("unit_price_incl", gettext_lazy("Map a column to the unit price.")),
    ),
    clean_row=_clean,
    write=_write,
    existing=_existing,
    example=(
        ("reference", "HT-OLD-0001"),
        ("customer", "上海启明科技有限公司"),
        ("title", "ERP 实施项目"),
        ("kind", "contract"),
        ("signed_on", "2026-03-01"),
        ("payment_days", "30"),
        ("description", "实施服务"),
        ("quantity", "10"),
        ("unit", "人天"),
        ("unit_price_incl", "2120"),
        ("vat_rate", "6%"),
        ("discount_percent", "0"),
        ("unit_cost_excl", "900"),
    ),
    note=gettext_lazy(
        "One row per line; rows with the same contract number make one contract. A contract number that "
        "exists already is skipped, so importing a file twice creates nothing the second time. Imported "
        "contracts are stored as confirmed."
    ),
)
