"""Manifest of outbound webhooks: part of every workspace (kind "core": always on, never billed)."""

from django.utils.translation import gettext_lazy as _

from crm.platform.permissions import Role
from crm.platform.registry import MenuEntry, ModuleManifest, PeriodicTask

MANIFEST = ModuleManifest(
    slug="webhooks",
    name=_("Webhooks"),
    summary=_("Signed HTTP callbacks to the owner's own systems when customers and documents change."),
    kind="core",
    app_label="webhooks",
    urls="crm.modules.webhooks.urls",
    api_urls="crm.modules.webhooks.api_urls",
    permissions={"webhooks.manage": (Role.OWNER, Role.ADMIN)},
    menu=(MenuEntry(label=_("Webhooks"), url_name="webhooks:endpoint_list", permission="webhooks.manage"),),
    periodic_tasks=(
        # Retries: deliveries whose next attempt is due (the first attempt is queued on commit).
        PeriodicTask(name="crm.modules.webhooks.tasks.sweep", every_seconds=60),
    ),
    webhook_events=(("ping", _("Test event (sent by “Send test event”)")),),
)
