"""Test builders for the sales capability, shared by the areas' tests. They write rows directly (through the
kernel's document services), so a test of one area does not depend on another area's screens."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from crm.kernel.documents import LineData, document_create
from crm.modules.core.models import Customer
from crm.modules.sales.models import OPEN_STATES, Contract, Installment, Stage

DEFAULT_STAGES = (  # name, probability, kind
    ("初步接洽", 10, "open"),
    ("需求确认", 30, "open"),
    ("方案报价", 50, "open"),
    ("谈判审核", 80, "open"),
    ("赢单", 100, "won"),
    ("输单", 0, "lost"),
)


def make_stages() -> list[Stage]:
    """The default pipeline (idempotent)."""
    if Stage.objects.exists():
        return list(Stage.objects.all())
    return Stage.objects.bulk_create(
        Stage(name=n, probability=p, kind=k, position=i) for i, (n, p, k) in enumerate(DEFAULT_STAGES)
    )


def make_customer(owner: Any, name: str = "上海启明科技有限公司") -> Customer:
    return Customer.objects.create(name=name, owner=owner)


def line(
    description: str = "实施服务",
    quantity: str = "1",
    price: str = "11300",
    rate: str = "0.13",
    cost: str | None = None,
) -> LineData:
    return LineData(
        description=description,
        quantity=Decimal(quantity),
        unit_price_incl=Decimal(price),
        vat_rate=Decimal(rate),
        unit_cost_excl=None if cost is None else Decimal(cost),
    )


def make_contract(
    owner: Any,
    customer: Customer | None = None,
    *,
    lines: list[LineData] | None = None,
    state: str = "confirmed",
    signed_on: date | None = None,
) -> Contract:
    """A contract with the given lines (default: one line of 11,300 incl. 13 % VAT) in `state`."""
    customer = customer or make_customer(owner)
    contract = document_create(
        actor=owner,
        model=Contract,
        lines=lines or [line()],
        customer=customer,
        owner=owner,
        signed_on=signed_on,
    )
    if state != contract.state:
        Contract.objects.filter(pk=contract.pk).update(state=state)
        contract.refresh_from_db()
    return contract


def make_plan(contract: Contract, parts: list[tuple[date, str]]) -> list[Installment]:
    """Installments written directly (the receivables services validate; this does not)."""
    return Installment.objects.bulk_create(
        Installment(
            contract=contract,
            customer=contract.customer,
            owner=contract.owner,
            position=i + 1,
            due_date=due,
            amount=Decimal(amount),
            currency=contract.currency,
            contract_open=contract.state in OPEN_STATES,
        )
        for i, (due, amount) in enumerate(parts)
    )


# --- pipeline area ---------------------------------------------------------------------------------------


def stage_named(name: str) -> Stage:
    make_stages()
    return Stage.objects.get(name=name)


def make_opportunity(
    owner: Any,
    customer: Customer | None = None,
    *,
    name: str = "ERP 实施项目",
    amount: str = "100000",
    stage: str = "初步接洽",
    expected_close: date | None = None,
    **fields: Any,
) -> Any:
    """An opportunity created through the pipeline service (with its first stage-log row)."""
    from crm.modules.sales.services_pipeline import opportunity_create

    make_stages()
    return opportunity_create(
        actor=owner,
        customer=customer or make_customer(owner),
        name=name,
        amount=Decimal(amount),
        expected_close=expected_close,
        stage=stage_named(stage),
        **fields,
    )
