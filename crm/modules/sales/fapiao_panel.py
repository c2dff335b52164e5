"""What the contract pages ask of the fapiao area (owned by it): the invoicing part of a contract's detail
page; also the customer page's fapiao panel and the dashboard cards of targets."""

from __future__ import annotations

from typing import Any

from crm.platform.permissions import has_perm

from . import selectors_money


def contract_panel_context(*, contract: Any, user: Any) -> dict[str, Any]:
    """Context for "sales/_contract_fapiao.html" on the contract detail page: one key, ``fapiao_panel``
    (so it merges into any page's context without clashes), holding invoiced vs uninvoiced, the fapiao
    (red-letter ones marked), open requests, and which buttons the user gets."""
    data = selectors_money.contract_invoicing(contract)
    invoiceable = contract.state in ("confirmed", "completed")
    data.update(
        can_request=invoiceable and has_perm(user, "sales.invoice_request") and data["requestable"] > 0,
        can_record=invoiceable and has_perm(user, "sales.fapiao_record") and data["uninvoiced"] > 0,
        can_red=has_perm(user, "sales.fapiao_record"),
    )
    return {"fapiao_panel": data}


def customer_panel_context(customer: Any, user: Any) -> dict[str, Any]:
    """The customer page's fapiao panel: invoiced, uninvoiced, the last fapiao, open requests."""
    return {"customer": customer, **selectors_money.customer_invoicing(customer)}


def my_target_context(user: Any) -> dict[str, Any]:
    return selectors_money.my_target(user)


def team_targets_context(user: Any) -> dict[str, Any]:
    return selectors_money.team_targets(user)
