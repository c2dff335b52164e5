"""Names other modules may import from the core (architecture section 5, rule 6)."""

from crm.modules.core.import_kinds import Choice as ImportChoice
from crm.modules.core.import_kinds import ImportKind, RowError
from crm.modules.core.imports import clean_phone, copy_insert, parse_date
from crm.modules.core.imports import progress_set as import_progress_set
from crm.modules.core.models import Activity, Contact, Customer, ImportJob, Product, Task
from crm.modules.core.selectors import (
    customer_get,
    customers_visible,
    of_visible_customers,
    team_members_q,
    team_user_ids,
)
from crm.modules.core.services import customer_touch

__all__ = [
    "Activity",
    "Contact",
    "Customer",
    "ImportChoice",
    "ImportJob",
    "ImportKind",
    "Product",
    "RowError",
    "Task",
    "clean_phone",
    "copy_insert",
    "customer_get",
    "customer_touch",
    "customers_visible",
    "import_progress_set",
    "of_visible_customers",
    "parse_date",
    "team_members_q",
    "team_user_ids",
]
