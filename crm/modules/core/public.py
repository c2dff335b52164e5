"""Names other modules may import from the core (architecture section 5, rule 6)."""

from crm.modules.core.import_kinds import ImportKind, RowError, register_import_kind
from crm.modules.core.imports import copy_insert
from crm.modules.core.imports import progress_set as import_progress_set
from crm.modules.core.models import Activity, Contact, Customer, ImportJob, Product, Task
from crm.modules.core.selectors import (
    customer_get,
    customers_visible,
    of_visible_customers,
    team_members_q,
    team_user_ids,
)

__all__ = [
    "Activity",
    "Contact",
    "Customer",
    "ImportJob",
    "ImportKind",
    "Product",
    "RowError",
    "Task",
    "copy_insert",
    "customer_get",
    "customers_visible",
    "import_progress_set",
    "of_visible_customers",
    "register_import_kind",
    "team_members_q",
    "team_user_ids",
]
