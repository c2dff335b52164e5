"""Writes of the CRM core: customers, sharing, merge, handover, public pool, activities, tasks, products.

Every function validates first and writes inside one transaction, so refused input changes nothing.
Ownership moves and customer edits leave an AuditEntry (visible to admins in the audit trail).

One file per topic in this package; every name is re-exported here, so callers keep writing
`services.customer_create(...)`.
"""

from __future__ import annotations

# Service errors, as the single module exposed them (callers catch services.ServiceError).
from crm.platform.errors import PermissionDenied, ServiceError

from .activities import (
    activity_comment,
    activity_create,
    task_complete,
    task_create,
)
from .customers import (
    CUSTOMER_FIELDS,
    MERGE_HANDLED_CUSTOMER_FKS,
    DuplicateCustomer,
    contact_create,
    contact_update,
    custom_fields_clean,
    customer_create,
    customer_merge,
    customer_payload,
    customer_share,
    customer_unshare,
    customer_update,
    initials,
    logger,
    normalize_name,
    normalize_phone,
)
from .deletion import activity_delete, contact_delete, customer_delete, product_delete
from .documents import (
    MAX_DOCUMENT_BYTES,
    document_delete,
    document_upload,
)
from .handover import (
    HandoverPlan,
    customer_handover,
    customer_handover_preview,
)
from .pool import (
    SweepResult,
    core_settings_update,
    customer_assign,
    customer_release,
    customer_touch,
    pool_claim,
    pool_sweep,
)
from .products import (
    custom_field_define,
    product_save,
)
from .reports import (
    task_reminders_send,
    week_start_of,
    weekly_report_comment,
    weekly_report_generate,
    weekly_report_submit,
    weekly_report_update,
)

__all__ = [
    "CUSTOMER_FIELDS",
    "MAX_DOCUMENT_BYTES",
    "MERGE_HANDLED_CUSTOMER_FKS",
    "DuplicateCustomer",
    "HandoverPlan",
    "PermissionDenied",
    "ServiceError",
    "SweepResult",
    "activity_comment",
    "activity_create",
    "activity_delete",
    "contact_create",
    "contact_delete",
    "contact_update",
    "core_settings_update",
    "custom_field_define",
    "custom_fields_clean",
    "customer_assign",
    "customer_create",
    "customer_delete",
    "customer_handover",
    "customer_handover_preview",
    "customer_merge",
    "customer_payload",
    "customer_release",
    "customer_share",
    "customer_touch",
    "customer_unshare",
    "customer_update",
    "document_delete",
    "document_upload",
    "initials",
    "logger",
    "normalize_name",
    "normalize_phone",
    "pool_claim",
    "pool_sweep",
    "product_delete",
    "product_save",
    "task_complete",
    "task_create",
    "task_reminders_send",
    "week_start_of",
    "weekly_report_comment",
    "weekly_report_generate",
    "weekly_report_submit",
    "weekly_report_update",
]
