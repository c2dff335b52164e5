from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "crm.modules.core"
    label = "core"
    verbose_name = _("CRM core")

    def ready(self) -> None:
        from .imports import register_core_kinds

        # The core's own import kinds come first; modules listed after it register theirs in their ready().
        register_core_kinds()
