"""Celery app. Tasks queued from a tenant request carry the tenant's schema (tenant-schemas-celery)."""

import os
from typing import Any

from celery.signals import import_modules, worker_ready
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.dev")

app = CeleryApp("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@import_modules.connect(sender=app)
def add_module_schedule(sender: Any, **kwargs: Any) -> None:
    """Add one beat entry per module periodic task (crm.platform.tasks.module_beat_schedule).

    The registry is filled when Django's apps are ready, so settings cannot list these entries. Worker and
    beat send `import_modules` while loading, after Celery's Django fix-up (connected when the app was
    created, so it runs first) has called django.setup() and before beat's scheduler reads the schedule.
    """
    from django.apps import apps

    if not apps.ready:
        import django

        django.setup()
    from crm.platform.tasks import module_beat_schedule

    sender.conf.beat_schedule = {**(sender.conf.beat_schedule or {}), **module_beat_schedule()}


@worker_ready.connect
def sweep_at_start(sender: Any = None, **kwargs: Any) -> None:
    """A worker coming up (after a broker outage or a crash) resends what is pending at once."""
    try:
        from crm.kernel.dispatch import dispatch_sweep

        dispatch_sweep()
    except Exception:  # never keep the worker from starting
        import logging

        logging.getLogger(__name__).exception("dispatch sweep at worker start failed")
