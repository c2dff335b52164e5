"""Demo data: receivables. Plans for the demo contracts (from their terms) and receipts for most past-due
installments: most on time, some late, some partial, one reversed. Idempotent: plans are made only for
contracts without one, and receipts carry a "demo:" token, so a second run finds them and adds nothing."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from crm.kernel.tenant_time import tenant_today
from crm.platform.permissions import Role

from . import services_receivables as svc
from .models import Contract, Installment, Receipt

METHODS = ("bank", "bank", "bank", "acceptance", "wechat", "alipay")
BANKS = ("ICBC", "BOC", "CCB", "ABC", "CMB")


def _actor() -> Any:
    from crm.tenants.accounts.models import User

    return (
        User.objects.filter(role=Role.FINANCE, is_active=True).order_by("pk").first()
        or User.objects.filter(role=Role.OWNER, is_active=True).order_by("pk").first()
    )


def seed(tenant: Any) -> None:
    """Runs inside the tenant schema; idempotent."""
    contracts = list(Contract.objects.filter(state__in=svc.OPEN_STATES).order_by("pk"))
    for c in contracts:
        svc.plan_default(contract=c)
    if Receipt.objects.filter(client_token__startswith="demo:").exists():
        return
    actor = _actor()
    if actor is None:
        return
    today = tenant_today()
    rng = random.Random(20260101)  # demo data, not security
    due = list(
        Installment.objects.filter(contract_open=True, due_date__lt=today)
        .select_related("customer")
        .order_by("due_date", "pk")
    )
    recorded: list[Receipt] = []
    for inst in due:
        roll = rng.random()
        if roll < 0.15:
            continue  # still unpaid: shows up in aging
        amount = inst.amount - inst.paid_amount
        if amount <= 0:
            continue
        if roll < 0.3:  # partial
            amount = (amount * Decimal(rng.choice(("0.3", "0.5", "0.6")))).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
        late = rng.choice((0, 0, 0, 3, 12, 35)) if roll >= 0.3 else rng.randint(0, 20)
        received = min(inst.due_date + timedelta(days=late), today)
        if amount <= 0:
            continue
        receipt = svc.receipt_record(
            actor=actor,
            customer=inst.customer,
            amount=amount,
            received_on=received,
            method=rng.choice(METHODS),
            bank_reference=f"{rng.choice(BANKS)}{received:%Y%m%d}{inst.pk:05d}",
            allocations=[svc.AllocationInput(amount=amount, installment_id=inst.pk)],
            client_token=f"demo:{inst.pk}",
        )
        recorded.append(receipt)
    if len(recorded) >= 3:
        svc.receipt_reverse(
            actor=actor, receipt=recorded[len(recorded) // 2], reason="银行退票，客户已重新付款"
        )
