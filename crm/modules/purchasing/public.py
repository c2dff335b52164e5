"""Names other modules may import from the purchasing capability (architecture section 5, rule 6)."""

from crm.modules.purchasing.models import PurchaseOrder, Supplier
from crm.modules.purchasing.selectors import payables_due_soon, payables_total, payables_totals

__all__ = ["PurchaseOrder", "Supplier", "payables_due_soon", "payables_total", "payables_totals"]
