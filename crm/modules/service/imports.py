"""Service agreements as a kind of the core's shared spreadsheet import: customer (by exact name), term
start and end, hours sold, optional title, value and auto-renew. Each row creates one agreement with one
hours line; a row whose customer has an agreement with the same start and end is counted as existing and
skipped (importing the same file twice creates nothing twice)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.kernel.money import parse_amount
from crm.modules.core.public import Customer, ImportJob, ImportKind, RowError, customers_visible, parse_date
from crm.platform.errors import ServiceError
from crm.tenants.accounts.models import User

from . import services
from .models import Agreement, Entitlement

FIELDS = (
    (
        "customer",
        gettext_lazy("Customer (exact name)"),
        ("customer", "客户", "客户名称", "客户名", "单位名称"),
    ),
    ("title", gettext_lazy("Title"), ("title", "合同名称", "服务名称", "名称", "标题")),
    (
        "start_date",
        gettext_lazy("Start date"),
        ("start", "start date", "开始日期", "起始日期", "开始", "生效日期"),
    ),
    ("end_date", gettext_lazy("End date"), ("end", "end date", "结束日期", "截止日期", "到期日", "到期日期")),
    (
        "hours_sold",
        gettext_lazy("Hours sold"),
        ("hours", "hours sold", "工时", "服务工时", "购买工时", "小时数"),
    ),
    ("value", gettext_lazy("Value"), ("value", "amount", "金额", "合同金额", "服务金额")),
    ("auto_renew", gettext_lazy("Auto-renew"), ("auto renew", "auto_renew", "自动续约", "自动续费")),
)
YES = {"1", "y", "yes", "true", "是", "需要", "自动"}


def _decimal(raw: str, field: str, message: str) -> Decimal:
    try:
        value = parse_amount(raw)
    except (ServiceError, InvalidOperation, ValueError):
        raise ValueError((field, message)) from None
    if value < 0 or value >= Decimal("100000000"):
        raise ValueError((field, message))
    return value


def _clean(rec: dict[str, str], key: str, context: Any) -> dict[str, Any]:
    customer = " ".join((rec.get("customer") or "").split())
    if not customer:
        raise ValueError(("customer", _("The customer is empty.")))
    start, end = parse_date(rec.get("start_date", "").strip()), parse_date(rec.get("end_date", "").strip())
    if start is None:
        raise ValueError(("start_date", _("The start must be a date (YYYY-MM-DD).")))
    if end is None:
        raise ValueError(("end_date", _("The end must be a date (YYYY-MM-DD).")))
    if end < start:
        raise ValueError(("end_date", _("The term must end on or after its start.")))
    raw = (rec.get("hours_sold") or "").strip()
    hours = (
        _decimal(raw, "hours_sold", _("Hours sold must be a number, not negative.")) if raw else Decimal("0")
    )
    raw = (rec.get("value") or "").strip()
    value = _decimal(raw, "value", _("Enter an amount.")) if raw else Decimal("0")
    title = " ".join((rec.get("title") or "").split()) or _("Service agreement %(customer)s") % {
        "customer": customer
    }
    return {
        "customer": customer,
        "title": title[:200],
        "start_date": start,
        "end_date": end,
        "hours_sold": hours.quantize(Decimal("0.01")),
        "value": value.quantize(Decimal("0.01")),
        "auto_renew": (rec.get("auto_renew") or "").strip().lower() in YES,
        "_key": f"{customer}|{start.isoformat()}|{end.isoformat()}",
    }


def _customers(actor: User, records: list[tuple[int, dict[str, Any]]]) -> dict[str, Customer]:
    names = {rec["customer"] for _line, rec in records}
    found: dict[str, Customer] = {}
    for c in customers_visible(actor).filter(name__in=names).order_by("id"):
        found.setdefault(c.name, c)
    return found


def _exists(records: list[tuple[int, dict[str, Any]]]) -> set[tuple[int, Any, Any]]:
    names = {rec["customer"] for _line, rec in records}
    return set(
        Agreement.objects.filter(customer__name__in=names).values_list(
            "customer_id", "start_date", "end_date"
        )
    )


def _resolve(actor: User, key: str, records: list[tuple[int, dict[str, Any]]]) -> list[RowError]:
    customers = _customers(actor, records)
    return [
        RowError(
            line, "customer", _("No customer you can see is named “%(v)s”.") % {"v": rec["customer"][:100]}
        )
        for line, rec in records
        if rec["customer"] not in customers
    ]


def _existing(actor: User, key: str, records: list[tuple[int, dict[str, Any]]]) -> tuple[int, int]:
    customers, existing = _customers(actor, records), _exists(records)
    n = 0
    for _line, rec in records:
        c = customers.get(rec["customer"])
        if c is not None and (c.pk, rec["start_date"], rec["end_date"]) in existing:
            n += 1
    return n, 0


def _write(
    job: ImportJob, actor: User, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    customers, existing = _customers(actor, records), _exists(records)
    created, errors = 0, []
    for line, rec in records:
        customer = customers.get(rec["customer"])
        if customer is None:
            errors.append(
                RowError(
                    line,
                    "customer",
                    _("No customer you can see is named “%(v)s”.") % {"v": rec["customer"][:100]},
                )
            )
            continue
        if (customer.pk, rec["start_date"], rec["end_date"]) in existing:
            continue
        lines = (
            [services.EntitlementInput(_("Service hours"), rec["hours_sold"], Entitlement.Unit.HOURS)]
            if rec["hours_sold"] > 0
            else []
        )
        try:
            services.agreement_create(
                actor=actor,
                customer=customer,
                title=rec["title"],
                start_date=rec["start_date"],
                end_date=rec["end_date"],
                value=rec["value"],
                auto_renew=rec["auto_renew"],
                entitlements=lines,
            )
        except ServiceError as exc:
            errors.append(RowError(line, "", str(exc.message)))
            continue
        existing.add((customer.pk, rec["start_date"], rec["end_date"]))
        created += 1
    return created, 0, errors


AGREEMENTS = ImportKind(
    name="service_agreements",
    label=gettext_lazy("Service agreements (with hours sold)"),
    module="service",
    perm="service.agreement_edit",
    fields=FIELDS,
    keys=(("customer_term", gettext_lazy("Customer and term")),),
    required=(
        ("customer", gettext_lazy("Map a column to the customer.")),
        ("start_date", gettext_lazy("Map a column to the start date.")),
        ("end_date", gettext_lazy("Map a column to the end date.")),
    ),
    clean_row=_clean,
    write=_write,
    resolve=_resolve,
    existing=_existing,
    example=(
        ("customer", "上海启明科技有限公司"),
        ("title", "2027 年度 IT 运维服务"),
        ("start_date", "2027-01-01"),
        ("end_date", "2027-12-31"),
        ("hours_sold", "120"),
        ("value", "96000"),
        ("auto_renew", "是"),
    ),
    note=gettext_lazy(
        "Customers are found by their exact name; a customer's agreement with the same start and end is "
        "not created again."
    ),
)
