"""Names other modules may import from the core (architecture section 5, rule 6)."""

from crm.modules.core.models import Activity, Contact, Customer, Product, Task
from crm.modules.core.selectors import customer_get, customers_visible, team_members_q, team_user_ids

__all__ = [
    "Activity",
    "Contact",
    "Customer",
    "Product",
    "Task",
    "customer_get",
    "customers_visible",
    "team_members_q",
    "team_user_ids",
]
