from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

MODULE_EVENTS = ("module.enabled", "module.disabled", "module.comp_on", "module.comp_off")


class BillingConfig(AppConfig):
    name = "crm.billing"
    label = "billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from crm.billing.services import on_module_event
        from crm.platform import events

        for name in MODULE_EVENTS:
            events.subscribe(name, on_module_event)
