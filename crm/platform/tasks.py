"""Per-module periodic tasks: one beat entry per manifest PeriodicTask fans out over the live tenants
that have the module enabled, and runs the task inside each tenant's schema.

The beat schedule is built from the registry when beat starts (config/celery.py), never at settings
import time. Publishing inside `schema_context` makes tenant-schemas-celery carry the schema to the
worker, which switches to it before the task runs.
"""

from __future__ import annotations

import logging
from importlib import import_module
from typing import Any

from celery import current_app, shared_task
from celery.exceptions import NotRegistered
from django.db import connection
from django.db.models import Q
from django_tenants.utils import schema_context

from crm.platform.registry import registry

log = logging.getLogger(__name__)

FANOUT_TASK = "crm.platform.tasks.module_fanout"
RUN_TASK = "crm.platform.tasks.module_run"
# Periodic work is for workspaces in use; a suspended one is read-only and must not change by itself.
RUN_STATUSES = ("trial", "active", "past_due")


def module_beat_schedule() -> dict[str, dict[str, Any]]:
    """Celery beat entries for every PeriodicTask of every registered module."""
    schedule: dict[str, dict[str, Any]] = {}
    for manifest in registry.all():
        for task in manifest.periodic_tasks:
            schedule[f"module:{manifest.slug}:{task.name}"] = {
                "task": FANOUT_TASK,
                "schedule": float(task.every_seconds),
                "args": (manifest.slug, task.name),
            }
    return schedule


def tenants_with_module(module: str) -> list[Any]:
    """Live tenants for which `module` is effectively on (chosen, comped, or needed by one that is)."""
    from crm.tenants.models import Tenant

    if module in registry.always_on():
        return list(Tenant.objects.filter(status__in=RUN_STATUSES).order_by("id"))
    # Any chosen or comped module whose dependency closure contains `module` switches it on. One filter()
    # call, so the module/enabled/comp conditions apply to the same TenantModule row.
    providers = [m.slug for m in registry.all() if module in registry.expand([m.slug])]
    return list(
        Tenant.objects.filter(
            Q(status__in=RUN_STATUSES),
            Q(modules__module__in=providers),
            Q(modules__enabled=True) | Q(modules__comp=True),
        )
        .distinct()
        .order_by("id")
    )


@shared_task(name=FANOUT_TASK, ignore_result=True)
def module_fanout(module: str, task_name: str) -> int:
    """Queue `task_name` once per tenant that has `module`; returns how many were queued."""
    if module not in registry:
        log.warning("periodic task %s: unknown module %r, nothing queued", task_name, module)
        return 0
    queued = 0
    for tenant in tenants_with_module(module):
        with schema_context(tenant.schema_name):
            module_run.delay(module, task_name)
        queued += 1
    return queued


@shared_task(name=RUN_TASK, ignore_result=True)
def module_run(module: str, task_name: str) -> bool:
    """Run one module task in the current tenant schema, unless the module was switched off (or the
    tenant stopped being live) since the fan-out. Returns whether it ran."""
    from crm.tenants.models import Tenant
    from crm.tenants.selectors import enabled_modules

    schema = connection.schema_name  # type: ignore[attr-defined]  # set by tenant-schemas-celery
    tenant = Tenant.objects.filter(schema_name=schema).first()
    if tenant is None or tenant.status not in RUN_STATUSES or module not in enabled_modules(tenant):
        log.info("periodic task %s skipped: module %s not enabled here", task_name, module)
        return False
    # Called in-process: we are already in the right schema, and one queued message per tenant is enough.
    periodic_task(task_name).apply(throw=True)
    return True


def periodic_task(task_name: str) -> Any:
    """The Celery task a manifest names. Task modules are imported lazily by Celery's autodiscovery (only
    when a worker loads), so import the module from the dotted name when it is not registered yet."""
    try:
        return current_app.tasks[task_name]
    except NotRegistered:
        import_module(task_name.rsplit(".", 1)[0])
        return current_app.tasks[task_name]


@shared_task(name="crm.platform.tasks.idempotency_purge", ignore_result=True)
def idempotency_purge() -> int:
    """Forget API Idempotency-Key records past their time-to-live (public schema, all workspaces)."""
    from crm.api.idempotency import purge

    return purge()


@shared_task(name="crm.platform.tasks.dispatch_sweep", ignore_result=True)
def dispatch_sweep() -> dict[str, int]:
    """Beat (every 30 s) and worker start: resend task dispatches the broker refused."""
    from crm.kernel.dispatch import dispatch_sweep as sweep

    return sweep()


@shared_task(name="crm.platform.tasks.jobs_sweep", ignore_result=True)
def jobs_sweep() -> dict[str, int]:
    """Beat (every minute): requeue long jobs whose heartbeat stopped, fail them after the last attempt."""
    from crm.platform.jobs import jobs_sweep as sweep

    return sweep()


@shared_task(name="crm.platform.tasks.event_dispatch", ignore_result=True)
def event_dispatch(event_id: int) -> None:
    """Run the subscribers of one domain event (idempotent: a processed event is skipped)."""
    from crm.platform.events import dispatch

    dispatch(event_id)
