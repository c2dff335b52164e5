"""Payment plans and receipts as kinds of the core's shared spreadsheet import.

Plans: one row per installment (contract number, due date, amount, note); the rows of one contract are its
whole plan, set through `plan_set` (must add up to the contract total; installments with payments are
matched by due date and amount and kept). Importing the same file again leaves the plan as it is.

Receipts: customer (exact name), amount, date, method, bank reference, contract number (optional). Each row
carries a one-time token made from its bank reference (or customer, date and amount), stored in
Receipt.client_token: a re-import finds the receipt and records nothing twice. With a contract number the
money goes to that contract's open installments (oldest first), else oldest due first across the
customer's contracts; what is left is kept as customer credit.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.kernel.money import parse_amount
from crm.modules.core.public import Customer, ImportJob, ImportKind, RowError, parse_date
from crm.platform.errors import ServiceError

from . import services_receivables as svc
from .models import Contract, Installment, Receipt

METHODS = {
    "bank": "bank",
    "银行": "bank",
    "银行转账": "bank",
    "转账": "bank",
    "电汇": "bank",
    "对公转账": "bank",
    "cash": "cash",
    "现金": "cash",
    "wechat": "wechat",
    "微信": "wechat",
    "微信支付": "wechat",
    "alipay": "alipay",
    "支付宝": "alipay",
    "acceptance": "acceptance",
    "承兑": "acceptance",
    "承兑汇票": "acceptance",
    "银行承兑汇票": "acceptance",
    "other": "other",
    "其他": "other",
}

PLAN_FIELDS = (
    ("contract", gettext_lazy("Contract number"), ("contract", "合同编号", "合同号", "订单号", "合同")),
    (
        "due_date",
        gettext_lazy("Due date"),
        ("due_date", "due date", "到期日", "计划回款日期", "回款日期", "应收日期"),
    ),
    ("amount", gettext_lazy("Amount"), ("amount", "金额", "计划回款金额", "应收金额")),
    ("note", gettext_lazy("Note"), ("note", "备注", "说明")),
)

RECEIPT_FIELDS = (
    ("customer", gettext_lazy("Customer"), ("customer", "客户", "客户名称", "付款单位", "付款方")),
    ("amount", gettext_lazy("Amount"), ("amount", "金额", "回款金额", "收款金额")),
    (
        "received_on",
        gettext_lazy("Received on"),
        ("received_on", "date", "日期", "回款日期", "收款日期", "到账日期"),
    ),
    ("method", gettext_lazy("Method"), ("method", "方式", "收款方式", "付款方式", "回款方式")),
    (
        "reference",
        gettext_lazy("Bank reference"),
        ("reference", "bank reference", "流水号", "银行流水号", "凭证号"),
    ),
    ("contract", gettext_lazy("Contract number (optional)"), ("contract", "合同编号", "合同号", "订单号")),
    ("note", gettext_lazy("Note"), ("note", "备注", "说明")),
)


def _text(raw: str | None) -> str:
    return unicodedata.normalize("NFKC", raw or "").strip()


def _amount(raw: str, field: str = "amount") -> Decimal:
    try:
        value = parse_amount(_text(raw))
    except ServiceError as exc:
        raise ValueError((field, str(exc.message))) from None
    if value <= 0:
        raise ValueError((field, _("The amount must be more than zero.")))
    return value


def _date(raw: str, field: str) -> date:
    value = parse_date(raw)
    if value is None:
        raise ValueError((field, _("Enter a date, e.g. 2026-03-31.")))
    return value


# --- plans ---------------------------------------------------------------------------------------------


def _clean_plan(rec: dict[str, str], key: str, context: Any) -> dict[str, Any]:
    number = _text(rec.get("contract"))
    if not number:
        raise ValueError(("contract", _("The contract number is empty.")))
    due = _date(rec.get("due_date", ""), "due_date")
    amount = _amount(rec.get("amount", ""))
    return {
        "contract": number[:40],
        "due_date": due,
        "amount": amount,
        "note": _text(rec.get("note"))[:200],
        "_key": f"{number}|{due.isoformat()}|{amount}",
    }


def _write_plans(
    job: ImportJob, actor: Any, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    by_contract: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for line, rec in records:
        by_contract[rec["contract"]].append((line, rec))
    contracts = {c.number: c for c in Contract.objects.filter(number__in=list(by_contract))}
    created = updated = 0
    errors: list[RowError] = []
    for number, rows in by_contract.items():
        first_line = rows[0][0]
        contract = contracts.get(number)
        if contract is None:
            errors.extend(RowError(line, "contract", _("No contract with this number.")) for line, _r in rows)
            continue
        existing = list(Installment.objects.filter(contract=contract).order_by("position", "pk"))
        wanted = sorted((r["due_date"], r["amount"], r["note"]) for _line, r in rows)
        if sorted((i.due_date, i.amount, i.note) for i in existing) == wanted:
            continue  # the same plan: nothing to do
        free = list(existing)
        parts = []
        for due, amount, note in wanted:
            match = next((i for i in free if i.due_date == due and i.amount == amount), None)
            if match is not None:
                free.remove(match)
            parts.append(svc.PlanPart(due_date=due, amount=amount, note=note, id=match.pk if match else None))
        try:
            svc.plan_set(actor=actor, contract=contract, parts=parts)
        except ServiceError as exc:
            errors.append(RowError(first_line, "amount", str(exc.message)))
            continue
        if existing:
            updated += 1
        else:
            created += 1
    return created, updated, errors


PLANS = ImportKind(
    name="sales_plans",
    label=gettext_lazy("Payment plans (installments of contracts)"),
    module="sales",
    perm="sales.contract_edit",
    fields=PLAN_FIELDS,
    keys=(("contract", gettext_lazy("Contract number")),),
    required=(
        ("contract", gettext_lazy("Map a column to the contract number.")),
        ("due_date", gettext_lazy("Map a column to the due date.")),
        ("amount", gettext_lazy("Map a column to the amount.")),
    ),
    clean_row=_clean_plan,
    write=_write_plans,
    example=(
        ("contract", "HT-2026-00001"),
        ("due_date", "2026-03-31"),
        ("amount", "3390.00"),
        ("note", "预付款"),
    ),
    note=gettext_lazy(
        "The rows of one contract are its whole payment plan and must add up to its total; installments "
        "with payments on them are kept."
    ),
)


# --- receipts ------------------------------------------------------------------------------------------


def _clean_receipt(rec: dict[str, str], key: str, context: Any) -> dict[str, Any]:
    customer = _text(rec.get("customer"))
    if not customer:
        raise ValueError(("customer", _("The customer is empty.")))
    amount = _amount(rec.get("amount", ""))
    received_on = _date(rec.get("received_on", ""), "received_on")
    raw_method = _text(rec.get("method")).lower()
    method = METHODS.get(raw_method, "other" if raw_method else "bank")
    reference = _text(rec.get("reference"))[:100]
    natural = reference or f"{customer}|{received_on.isoformat()}|{amount}"
    return {
        "customer": customer[:200],
        "amount": amount,
        "received_on": received_on,
        "method": method,
        "reference": reference,
        "contract": _text(rec.get("contract"))[:40],
        "note": _text(rec.get("note"))[:300],
        "_key": natural,
    }


def _token(key: str) -> str:
    return "import:" + hashlib.sha256(key.encode()).hexdigest()[:56]


def _write_receipts(
    job: ImportJob, actor: Any, records: list[tuple[int, dict[str, Any]]]
) -> tuple[int, int, list[RowError]]:
    names = {rec["customer"] for _line, rec in records}
    customers: dict[str, Customer] = {}
    for c in Customer.objects.filter(name__in=list(names)).order_by("pk"):
        customers.setdefault(c.name, c)
    numbers = {rec["contract"] for _line, rec in records if rec["contract"]}
    contracts = {c.number: c for c in Contract.objects.filter(number__in=list(numbers))}
    tokens = {_token(rec["_key"]) for _line, rec in records}
    done = set(Receipt.objects.filter(client_token__in=list(tokens)).values_list("client_token", flat=True))
    created = 0
    errors: list[RowError] = []
    for line, rec in records:
        token = _token(rec["_key"])
        if token in done:
            continue  # imported before
        customer = customers.get(rec["customer"])
        if customer is None:
            errors.append(RowError(line, "customer", _("No customer with this name.")))
            continue
        allocations = None
        if rec["contract"]:
            contract = contracts.get(rec["contract"])
            if contract is None or contract.customer_id != customer.pk:
                errors.append(
                    RowError(line, "contract", _("No contract with this number for this customer."))
                )
                continue
            allocations = _contract_allocations(contract, rec["amount"])
        try:
            svc.receipt_record(
                actor=actor,
                customer=customer,
                amount=rec["amount"],
                received_on=rec["received_on"],
                method=rec["method"],
                bank_reference=rec["reference"],
                note=rec["note"],
                allocations=allocations,
                keep_credit=True,
                client_token=token,
            )
        except ServiceError as exc:
            errors.append(RowError(line, exc.field or "amount", str(exc.message)))
            continue
        done.add(token)
        created += 1
    return created, 0, errors


def _contract_allocations(contract: Contract, amount: Decimal) -> list[svc.AllocationInput]:
    left, out = amount, []
    plan = list(Installment.objects.filter(contract=contract).order_by("due_date", "position", "pk"))
    if not plan:
        open_ = contract.total_incl - contract.paid_amount
        take = min(left, open_)
        return [svc.AllocationInput(amount=take, contract_id=contract.pk)] if take > 0 else []
    for inst in plan:
        take = min(left, inst.amount - inst.paid_amount)
        if take > 0:
            out.append(svc.AllocationInput(amount=take, installment_id=inst.pk))
            left -= take
    return out


RECEIPTS = ImportKind(
    name="sales_receipts",
    label=gettext_lazy("Receipts (回款)"),
    module="sales",
    perm="sales.receipt_record",
    fields=RECEIPT_FIELDS,
    keys=(("reference", gettext_lazy("Bank reference (or customer, date and amount)")),),
    required=(
        ("customer", gettext_lazy("Map a column to the customer.")),
        ("amount", gettext_lazy("Map a column to the amount.")),
        ("received_on", gettext_lazy("Map a column to the date.")),
    ),
    clean_row=_clean_receipt,
    write=_write_receipts,
    example=(
        ("customer", "上海启明科技有限公司"),
        ("amount", "3390.00"),
        ("received_on", "2026-03-31"),
        ("method", "银行转账"),
        ("reference", "BOC20260331001"),
        ("contract", "HT-2026-00001"),
        ("note", ""),
    ),
    note=gettext_lazy(
        "A receipt already imported (same bank reference, or same customer, date and amount) is skipped; "
        "what is not allocated is kept as customer credit."
    ),
)
