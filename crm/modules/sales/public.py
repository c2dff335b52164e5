"""What other modules may import from the sales capability (service, trade and the other selling modules).
Each area adds its public services and selectors here."""

from __future__ import annotations

from crm.modules.sales.demo import seed as seed_demo
from crm.modules.sales.models import (
    Contract,
    ContractLine,
    Installment,
    Opportunity,
    Quote,
    QuoteLine,
    Receipt,
    Stage,
)

__all__ = [
    "Contract",
    "ContractLine",
    "Installment",
    "Opportunity",
    "Quote",
    "QuoteLine",
    "Receipt",
    "Stage",
    # service module
    "seed_demo",
]
