"""What the contract pages ask of the receivables area (owned by it): the payment-plan and receipts part of a
contract's detail page, and what happens to the plan when a contract is confirmed or revised."""

from __future__ import annotations

from typing import Any

from crm.platform.permissions import has_perm


def on_contract_confirmed(*, actor: Any, contract: Any) -> None:
    """Called by the contract services inside the confirming transaction: the default plan from the terms
    (prepayment on the signing / confirmation date, the rest after the account period), unless the contract
    already has a plan."""
    from .services_receivables import plan_default

    plan_default(contract=contract)


def on_contract_state(*, contract_id: int, state: str) -> None:
    """Called by the contract services inside every transition: the plan follows the contract's state."""
    from .services_receivables import sync_contract_open

    sync_contract_open(contract_id=contract_id, state=state)


def on_contract_revised(*, actor: Any, contract: Any) -> None:
    """Called inside the transaction that applies a revision: the last open installment absorbs a change
    of the total, or a translated ServiceError asks to edit the plan (the revision then is not applied)."""
    from .services_receivables import plan_follow_total

    plan_follow_total(contract=contract)


def contract_panel_context(*, contract: Any, user: Any) -> dict[str, Any]:
    """Context for "sales/_contract_receivables.html" on the contract detail page."""
    from . import selectors_receivables as sel
    from .services_receivables import PLAN_STATES

    plan = sel.contract_plan(contract)
    return {
        "rv_contract": contract,
        "rv_plan": plan,
        "rv_planned": sum((i.amount for i in plan), contract.total_incl * 0),
        "rv_allocations": sel.contract_allocations(contract),
        "rv_can_edit_plan": contract.state in PLAN_STATES
        and (has_perm(user, "sales.contract_edit") or has_perm(user, "sales.receivables_all")),
        "rv_can_record": contract.state in ("confirmed", "completed")
        and has_perm(user, "sales.receipt_record"),
    }


def customer_panel_context(customer: Any, user: Any) -> dict[str, Any]:
    """The "receivables" panel of the customer page: open, overdue, credit, last receipts."""
    from . import selectors_receivables as sel

    return {"rv": sel.customer_summary(customer.pk), "rv_customer": customer}
