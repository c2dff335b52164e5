from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RetailConfig(AppConfig):
    name = "crm.modules.retail"
    label = "retail"
    verbose_name = _("Retail and members")

    def ready(self) -> None:
        from crm.modules.core.public import register_import_kind

        from .imports import MEMBERS

        # Members in the core's shared import; offered while retail is on, to holders of retail.manage.
        register_import_kind(MEMBERS)
