from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KernelConfig(AppConfig):
    name = "crm.kernel"
    label = "kernel"
    verbose_name = _("Kernel")
    default_auto_field = "django.db.models.BigAutoField"
