"""What the contract pages ask of the fapiao area (owned by it): the invoicing part of a contract's detail
page."""

from __future__ import annotations

from typing import Any


def contract_panel_context(*, contract: Any, user: Any) -> dict[str, Any]:
    """Context for "sales/_contract_fapiao.html" on the contract detail page."""
    return {}
