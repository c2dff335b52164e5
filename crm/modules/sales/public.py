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

# receivables
from crm.modules.sales.selectors_receivables import customer_summary as receivables_customer_summary
from crm.modules.sales.services_receivables import AllocationInput, credit_available, receipt_record

__all__ = [
    "AllocationInput",
    "Contract",
    "ContractLine",
    "Installment",
    "Opportunity",
    "Quote",
    "QuoteLine",
    "Receipt",
    "Stage",
    "credit_available",
    "receipt_record",
    "receivables_customer_summary",
    # service module
    "seed_demo",
]
