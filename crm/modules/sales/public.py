"""What other modules may import from the sales capability (service, trade and the other selling modules).
Each area adds its public services and selectors here."""

from __future__ import annotations

# margin and company figures (the trade module's overview)
from crm.modules.sales.costs import can_see_costs, can_see_margin_percent
from crm.modules.sales.demo import seed as seed_demo
from crm.modules.sales.fapiao_panel import contract_panel_context as fapiao_contract_panel_context
from crm.modules.sales.models import (
    Contract,
    ContractLine,
    Fapiao,
    Installment,
    InvoiceRequest,
    Opportunity,
    Quote,
    QuoteLine,
    Receipt,
    SalesSettings,
    Stage,
    Target,
)
from crm.modules.sales.selectors_margin import margin_by_month, margin_report

# money area: the settings row, the invoicing state of a contract, achievement by rep.
from crm.modules.sales.selectors_money import achieved_by_user, contract_invoicing, sales_settings
from crm.modules.sales.selectors_overview import receivables_totals, sales_totals

# receivables
from crm.modules.sales.selectors_receivables import customer_summary as receivables_customer_summary

# delivery progress (written by inventory's deliveries and returns)
from crm.modules.sales.services_delivery import (
    DeliveryChange,
    contract_costs_fill,
    contract_delivery_apply,
    contract_lock,
)

# documents: a draft order for a customer (inventory's samples turn into orders)
from crm.modules.sales.services_documents import contract_create
from crm.modules.sales.services_receivables import AllocationInput, credit_available, receipt_record

__all__ = [
    "AllocationInput",
    "Contract",
    "ContractLine",
    "DeliveryChange",
    "Fapiao",
    "Installment",
    "InvoiceRequest",
    "Opportunity",
    "Quote",
    "QuoteLine",
    "Receipt",
    "SalesSettings",
    "Stage",
    "Target",
    "achieved_by_user",
    "can_see_costs",
    "can_see_margin_percent",
    "contract_costs_fill",
    "contract_create",
    "contract_delivery_apply",
    "contract_invoicing",
    "contract_lock",
    "credit_available",
    "fapiao_contract_panel_context",
    "margin_by_month",
    "margin_report",
    "receipt_record",
    "receivables_customer_summary",
    "receivables_totals",
    "sales_settings",
    "sales_totals",
    # service module
    "seed_demo",
]
