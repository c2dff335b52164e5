"""What the contract pages ask of the receivables area (owned by it): the payment-plan and receipts part of a
contract's detail page, and what happens to the plan when a contract is confirmed."""

from __future__ import annotations

from typing import Any


def on_contract_confirmed(*, actor: Any, contract: Any) -> None:
    """Called by the contract services inside the confirming transaction."""


def contract_panel_context(*, contract: Any, user: Any) -> dict[str, Any]:
    """Context for "sales/_contract_receivables.html" on the contract detail page."""
    return {}
