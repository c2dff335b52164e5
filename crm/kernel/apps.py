from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KernelConfig(AppConfig):
    name = "crm.kernel"
    label = "kernel"
    verbose_name = _("Kernel")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from .tenant_time import connect_task_signals

        connect_task_signals()  # every tenant task runs in the tenant's time zone
