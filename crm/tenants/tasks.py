"""Celery tasks for tenancy. Thin: each calls one service and is safe to run twice."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="crm.tenants.tasks.refill_pool", ignore_result=True)
def refill_pool() -> int:
    from crm.tenants.provisioning import pool_refill

    return pool_refill()
