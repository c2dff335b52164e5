"""Billing tasks: thin, take ids, idempotent (queued with transaction.on_commit by the services)."""

from __future__ import annotations

from celery import shared_task

from crm.billing.gateway import GatewayError


@shared_task(name="crm.billing.tasks.process_webhook", ignore_result=True)
def process_webhook(event_id: int) -> None:
    from crm.billing.webhooks import webhook_process

    webhook_process(event_id=event_id)


@shared_task(name="crm.billing.tasks.retry_webhooks", ignore_result=True)
def retry_webhooks() -> int:
    from crm.billing.webhooks import webhooks_retry

    return webhooks_retry()


# Stripe may be briefly unreachable: retry with backoff; the sync is a diff, so a retry is harmless.
@shared_task(
    name="crm.billing.tasks.sync_subscription_items",
    ignore_result=True,
    autoretry_for=(GatewayError,),
    retry_backoff=30,
    max_retries=8,
)
def sync_subscription_items(tenant_id: int) -> None:
    from crm.billing.services import subscription_items_sync
    from crm.tenants.models import Tenant

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is not None:
        subscription_items_sync(tenant=tenant)


@shared_task(name="crm.billing.tasks.generate_monthly_invoices", ignore_result=True)
def generate_monthly_invoices() -> int:
    from crm.billing.services import invoices_generate_monthly, subscriptions_sync_unavailable

    # Daily: also take modules that are coming soon off Stripe subscriptions (and put back those that
    # became available), so a flag flip reaches Stripe without anyone touching a module.
    subscriptions_sync_unavailable()
    return invoices_generate_monthly()


@shared_task(name="crm.billing.tasks.invoice_run", ignore_result=True)
def invoice_run(run_id: int) -> None:
    """One monthly invoice run again (requeued by the jobs sweeper, or retried by an operator)."""
    from crm.billing.services import invoice_run_execute

    invoice_run_execute(run_id=run_id)


@shared_task(name="crm.billing.tasks.run_dunning", ignore_result=True)
def run_dunning() -> int:
    from crm.billing.services import dunning_run

    return dunning_run()


@shared_task(name="crm.billing.tasks.workspace_export", ignore_result=True)
def workspace_export(job_id: int) -> None:
    """A full export the owner asked for (crm.billing.services.tenant_export_request; an ExportJob id)."""
    from crm.billing.services import tenant_export_run

    tenant_export_run(job_id=job_id)
